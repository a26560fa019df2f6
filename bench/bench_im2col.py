"""im2col / col2im timings: every available backend (and PyTorch) on the shapes of small CNNs.

Run from the repository root::

    pytest bench/bench_im2col.py -o python_files='bench_*.py' --benchmark-only

Each group (``im2col x(100,16,28,28) k3 p1``, ...) compares the contenders on one float32 shape.
fastdl kernels are called through ``fastdl.functional`` (validation included, as users call
them) after one untimed warm-up call, where Numba compiles or loads its cache. Every timed result
is checked against the NumPy reference. ``test_numba_first_call`` measures the warm-up itself:
a new process's first call with an empty cache (compilation) and with a filled one.
"""

import functools
import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

from fastdl import functional
from fastdl._kernels.ref import _im2col as ref

# x shape (N, C, H, W), square kernel size, pad; stride 1
SHAPES = [
    ((100, 1, 28, 28), 5, 0),  # LeNet conv1 on MNIST
    ((100, 16, 28, 28), 3, 1),
    ((64, 3, 32, 32), 3, 1),  # first layer on CIFAR-10
    ((64, 64, 16, 16), 3, 1),
    ((32, 64, 27, 27), 5, 2),  # AlexNet-like conv2
]
LABELS = [f"x({','.join(map(str, s))}) k{k} p{p}" for s, k, p in SHAPES]
SUM_TOL = {"rtol": 2e-5, "atol": 2e-5}  # float32, for PyTorch's col2im only


@functools.cache
def _case(index):
    """Inputs and reference outputs for ``SHAPES[index]``: ``x, col, col_ref, x_ref``."""
    x_shape, k, pad = SHAPES[index]
    rng = np.random.default_rng(index)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    col_ref = ref.im2col(x, k, k, 1, pad)  # (N*OH*OW, C*KH*KW)
    col = rng.standard_normal(col_ref.shape, dtype=np.float32)
    return x, col, col_ref, ref.col2im(col, x_shape, k, k, 1, pad)


def _torch_im2col(x, k, pad):
    import torch

    col = torch.nn.functional.unfold(torch.from_numpy(x), k, padding=pad)  # (N, C*KH*KW, OH*OW)
    return col.transpose(1, 2).reshape(-1, col.shape[1]).numpy()  # (N*OH*OW, C*KH*KW)


def _torch_col2im(col, x_shape, k, pad):
    import torch

    n, c, h, w = x_shape
    col = torch.from_numpy(col).reshape(n, -1, c * k * k).transpose(1, 2)  # (N, C*KH*KW, OH*OW)
    return torch.nn.functional.fold(col, (h, w), k, padding=pad).numpy()  # (N, C, H, W)


def _im2col_fn(contender, k, pad):
    if contender == "torch":
        return lambda x: _torch_im2col(x, k, pad)
    return lambda x: functional.im2col(x, k, k, 1, pad, backend=contender)


def _col2im_fn(contender, x_shape, k, pad):
    if contender == "torch":
        return lambda col: _torch_col2im(col, x_shape, k, pad)
    return lambda col: functional.col2im(col, x_shape, k, k, 1, pad, backend=contender)


@pytest.mark.parametrize("index", range(len(SHAPES)), ids=LABELS)
def test_im2col(benchmark, contender, index):
    x, _, col_ref, _ = _case(index)
    _, k, pad = SHAPES[index]
    run = _im2col_fn(contender, k, pad)
    run(x)  # warm-up: JIT compilation or cache load, first-touch of the code
    benchmark.group = f"im2col {LABELS[index]}"
    col = benchmark(run, x)
    assert col.dtype == col_ref.dtype
    np.testing.assert_array_equal(col, col_ref)


@pytest.mark.parametrize("index", range(len(SHAPES)), ids=LABELS)
def test_col2im(benchmark, contender, index):
    x, col, _, x_ref = _case(index)
    _, k, pad = SHAPES[index]
    run = _col2im_fn(contender, x.shape, k, pad)
    run(col)  # warm-up
    benchmark.group = f"col2im {LABELS[index]}"
    x_out = benchmark(run, col)
    assert x_out.dtype == x_ref.dtype
    if contender == "torch":
        np.testing.assert_allclose(x_out, x_ref, **SUM_TOL)
    else:
        np.testing.assert_array_equal(x_out, x_ref)


FIRST_CALL = """
import numpy as np
from fastdl import functional as F
x = np.ones((2, 3, 8, 8), np.float32)
F.col2im(F.im2col(x, 3, 3, backend="numba"), x.shape, 3, 3, backend="numba")
"""


@pytest.mark.parametrize("cache", ["empty", "filled"])
def test_numba_first_call(benchmark, tmp_path, cache):
    """A new process importing fastdl and calling both Numba kernels once (float32)."""
    pytest.importorskip("numba")

    def first_call(cache_dir):
        env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
        subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, check=True)

    filled = tmp_path / "filled"
    first_call(filled)
    fresh = (tmp_path / f"empty{i}" for i in itertools.count())

    def setup():
        return ((next(fresh) if cache == "empty" else filled,), {})

    benchmark.group = "numba: first call in a new process (compile vs cache load)"
    benchmark.pedantic(first_call, setup=setup, rounds=3)
