"""Max and average pooling forward + backward timings: every backend and PyTorch.

Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest bench/bench_pool.py --benchmark-only

Each group (``maxpool fwd+bwd x(100,30,24,24) k2 s2``, ...) times forward then backward of one
float32 layer through ``fastdl.functional`` after an untimed warm-up call. PyTorch runs
``max_pool2d`` / ``avg_pool2d`` and autograd for dx. Results are checked against the reference.
"""

import functools

import numpy as np
import pytest

from fastdl import functional
from fastdl._kernels.ref import _pool as ref

# x shape (N, C, H, W), square window, stride; pad 0
SHAPES = [((100, 30, 24, 24), 2, 2), ((32, 192, 27, 27), 3, 2)]
LABELS = [f"x({','.join(map(str, s))}) k{k} s{st}" for s, k, st in SHAPES]
TOL = {"rtol": 1e-5, "atol": 1e-6}


@functools.cache
def _case(kind, index):
    """``x, dy, y_ref, dx_ref`` for ``SHAPES[index]``; kind is "max" or "avg"."""
    x_shape, k, stride = SHAPES[index]
    rng = np.random.default_rng(index)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    if kind == "max":
        y, argmax = ref.maxpool2d_forward(x, k, k, stride)
        dy = rng.standard_normal(y.shape, dtype=np.float32)
        return x, dy, y, ref.maxpool2d_backward(dy, argmax, x_shape, k, k, stride)
    y = ref.avgpool2d_forward(x, k, k, stride)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    return x, dy, y, ref.avgpool2d_backward(dy, x_shape, k, k, stride)


def _torch_step(kind, k, stride):
    import torch

    pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d

    def step(x, dy):
        tx = torch.from_numpy(x).requires_grad_()
        ty = pool(tx, k, stride)
        (dx,) = torch.autograd.grad(ty, tx, torch.from_numpy(dy))
        return ty.detach().numpy(), dx.numpy()

    return step


def _step(contender, kind, k, stride):
    if contender == "torch":
        return _torch_step(kind, k, stride)
    if kind == "max":

        def step(x, dy):
            y, argmax = functional.maxpool2d_forward(x, k, k, stride, backend=contender)
            dx = functional.maxpool2d_backward(dy, argmax, x.shape, k, k, stride, backend=contender)
            return y, dx

        return step

    def step(x, dy):
        y = functional.avgpool2d_forward(x, k, k, stride, backend=contender)
        return y, functional.avgpool2d_backward(dy, x.shape, k, k, stride, backend=contender)

    return step


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("index", range(len(SHAPES)), ids=LABELS)
def test_pool_forward_backward(benchmark, contender, kind, index):
    x, dy, y_ref, dx_ref = _case(kind, index)
    _, k, stride = SHAPES[index]
    step = _step(contender, kind, k, stride)
    step(x, dy)  # warm-up
    benchmark.group = f"{kind}pool fwd+bwd {LABELS[index]}"
    y, dx = benchmark(step, x, dy)
    np.testing.assert_allclose(y, y_ref, **TOL)
    np.testing.assert_allclose(dx, dx_ref, **TOL)
