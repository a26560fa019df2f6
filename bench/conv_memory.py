"""Peak memory of one conv forward + backward, per algorithm and against PyTorch.

For every ``bench_conv.py`` shape and every contender (PyTorch, and each compiled backend with
each algorithm forced: ``cython-im2col``, ``cython-winograd``, ...), a fresh Python process
builds the float32 inputs, makes one warm-up call on a 2-image batch of the same layer (Numba
compiles, the allocator and thread pools settle), resets the kernel's peak-RSS mark
(``/proc/self/clear_refs``), makes one full-size call and reads the peak (``VmHWM``). The table
gives the peak minus the resident set size before the call, in MB: the call's outputs (``y``,
``dx``, ``dw``, ``db``) and its scratch. Linux only. (``ru_maxrss`` cannot be reset: the imports
alone had raised it above what a small layer's call reaches.)

Usage (from the repository root)::

    python bench/conv_memory.py
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_conv as bc  # noqa: E402 - the shapes live there

CONTENDERS = [
    "torch",
    "cython-im2col",
    "cython-winograd",
    "numba-im2col",
    "numba-winograd",
]

CHILD = r"""
import json, sys

x_shape, w_shape, pad, who = json.loads(sys.argv[1])
if who == "torch":
    import torch
import numpy as np

from fastdl import functional
from fastdl._kernels import _conv_rule


def call(x_shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32)
    b = np.zeros(w_shape[0], np.float32)
    y_shape = functional.conv2d_forward(x[:1], w, b, 1, pad, backend="numpy").shape[1:]
    dy = rng.standard_normal((x_shape[0], *y_shape), dtype=np.float32)
    if who == "torch":
        tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))

        def go():
            ty = torch.nn.functional.conv2d(tx, tw, tb, padding=pad)
            return ty, torch.autograd.grad(ty, (tx, tw, tb), torch.from_numpy(dy))

        return go
    backend, algorithm = who.split("-")

    def go():
        with _conv_rule.use_algorithm(algorithm):
            y = functional.conv2d_forward(x, w, b, 1, pad, backend=backend)
            return y, functional.conv2d_backward(dy, x, w, 1, pad, backend=backend)

    return go


def status(field):
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1])  # kB


call((2, *x_shape[1:]))()
go = call(tuple(x_shape))
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak-RSS mark VmHWM := the RSS now
before = status("VmRSS")
kept = go()
print(json.dumps((status("VmHWM") - before) / 1024))
"""


def measure(x_shape, w_shape, pad, who):
    """Peak-RSS increase (MB) of one call in a fresh process, or the child's error text."""
    args = json.dumps([x_shape, w_shape, pad, who])
    out = subprocess.run([sys.executable, "-c", CHILD, args], capture_output=True, text=True)
    if out.returncode != 0:
        return "error: " + out.stderr.strip().splitlines()[-1]
    return f"{json.loads(out.stdout):.1f}"


def main():
    print("| shape | " + " | ".join(CONTENDERS) + " |")
    print("| --- |" + " ---: |" * len(CONTENDERS))
    for (x_shape, w_shape, pad), label in zip(bc.SHAPES, bc.LABELS):
        cells = []
        for who in CONTENDERS:
            skip = who.endswith("winograd") and tuple(w_shape[2:]) != (3, 3)
            skip = skip or (who == "torch" and importlib.util.find_spec("torch") is None)
            cells.append("-" if skip else measure(x_shape, w_shape, pad, who))
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
