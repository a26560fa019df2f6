"""First-call cost of the Numba kernels: compilation (cold cache) versus cache load (warm).

Run from the repository root::

    python bench/compile_time.py            # float32 and float64, 3 runs each
    python bench/compile_time.py --runs 1

For every kernel family a new Python process imports fastdl and calls that family's Numba
kernels once per dtype (forward and backward, every activation code for bias_act is in one
compiled function), timing the calls alone, not the interpreter start or ``import numpy``.
"cold" uses a fresh, empty ``NUMBA_CACHE_DIR`` (Numba compiles and writes the cache); "warm"
reuses the directory filled by the cold run (Numba loads machine code). Prints a Markdown table
of the median over ``--runs`` processes.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

SNIPPET = """
import sys, time
import numpy as np
from fastdl import functional as F
family, dtype = sys.argv[1], np.dtype(sys.argv[2])
x = np.ones((2, 3, 8, 8), dtype)
t0 = time.perf_counter()
if family == "im2col":
    F.col2im(F.im2col(x, 3, 3, backend="numba"), x.shape, 3, 3, backend="numba")
elif family == "conv":
    w, b = np.ones((4, 3, 3, 3), dtype), np.ones(4, dtype)
    y = F.conv2d_forward(x, w, b, 1, 1, backend="numba")
    F.conv2d_backward(y, x, w, 1, 1, backend="numba")
elif family == "pool":
    y, arg = F.maxpool2d_forward(x, 2, 2, backend="numba")
    F.maxpool2d_backward(y, arg, x.shape, 2, 2, backend="numba")
    y = F.avgpool2d_forward(x, 2, 2, backend="numba")
    F.avgpool2d_backward(y, x.shape, 2, 2, backend="numba")
else:
    b = np.ones(3, dtype)
    y = F.bias_act_forward(x, b, "mish", backend="numba")
    F.bias_act_backward(y, x, b, "mish", backend="numba")
print(time.perf_counter() - t0)
"""
FAMILIES = ("im2col", "conv", "pool", "bias_act")
DTYPES = ("float32", "float64")


def first_call(family, dtype, cache_dir):
    """Seconds the first calls of ``family`` take in a new process with ``cache_dir``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET, family, dtype],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.split()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="processes per cell (median)")
    args = parser.parse_args(argv)
    print("| family | dtype | cold cache (compile) s | warm cache (load) s |")
    print("| --- | --- | ---: | ---: |")
    for family in FAMILIES:
        for dtype in DTYPES:
            cold, warm = [], []
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory() as cache_dir:
                    cold.append(first_call(family, dtype, cache_dir))
                    warm.append(first_call(family, dtype, cache_dir))
            row = f"| {family} | {dtype} | {statistics.median(cold):.2f} |"
            print(f"{row} {statistics.median(warm):.2f} |", flush=True)


if __name__ == "__main__":
    main()
