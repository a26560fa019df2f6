"""conv2d forward + backward timings: every backend, PyTorch, and the GEMMs alone.

Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest bench/bench_conv.py --benchmark-only

The shapes are five layers of common networks and every convolution of
``fastdl.models.deep_cnn`` (batch 100, 28x28 images). Each group
(``conv fwd+bwd x(100,1,28,28) w(30,1,5,5) p0``, ...) times one training step of one
float32 layer: ``conv2d_forward`` then ``conv2d_backward`` through ``fastdl.functional``, after
an untimed warm-up call (Numba compiles or loads its cache there). The contender ``gemm-only``
is the target's yardstick: exactly the ``np.matmul`` calls the Numba backend makes (same
shapes, same operand layouts, per chunk of samples, see ``kernels/nb/_conv.py:gemm_plan``) on
preallocated operands, without any of the data movement. PyTorch runs ``conv2d`` and autograd
for dx, dw, db. Every result is checked against the NumPy reference.

The contenders ``numba`` and ``cython`` run the algorithm ``kernels/_conv_rule.py`` picks; on the
3x3 stride-1 shapes, ``numba-im2col``, ``numba-winograd``, ``cython-im2col`` and
``cython-winograd`` run each algorithm whatever the rule says (the measurements behind the rule).
"""

import functools

import numpy as np
import pytest

import fastdl
from fastdl import functional
from fastdl._kernels import _conv_rule, _winograd
from fastdl._kernels.nb._conv import gemm_plan
from fastdl._kernels.ref import _conv as ref

# x shape (N, C, H, W), w shape (F, C, KH, KW), pad; stride 1
SHAPES = [
    ((100, 1, 28, 28), (30, 1, 5, 5), 0),  # LeNet conv1 on MNIST
    ((100, 16, 28, 28), (16, 16, 3, 3), 1),  # also deep_cnn's conv 2
    ((64, 3, 32, 32), (32, 3, 3, 3), 1),  # first layer on CIFAR-10
    ((64, 64, 16, 16), (128, 64, 3, 3), 1),
    ((32, 64, 27, 27), (192, 64, 5, 5), 2),  # AlexNet-like conv2
    # the other convolutions of fastdl.models.deep_cnn at batch 100 on 28x28 images
    ((100, 1, 28, 28), (16, 1, 3, 3), 1),  # deep_cnn conv 1
    ((100, 16, 14, 14), (32, 16, 3, 3), 1),  # deep_cnn conv 3
    ((100, 32, 14, 14), (32, 32, 3, 3), 2),  # deep_cnn conv 4
    ((100, 32, 8, 8), (64, 32, 3, 3), 1),  # deep_cnn conv 5
    ((100, 64, 8, 8), (64, 64, 3, 3), 1),  # deep_cnn conv 6
]
LABELS = [f"x({','.join(map(str, x))}) w({','.join(map(str, w))}) p{p}" for x, w, p in SHAPES]
TOL = {"rtol": 1e-3, "atol": 1e-3}  # float32 sums of up to 1600 products, any order


@functools.cache
def _case(index):
    """Inputs and reference outputs for ``SHAPES[index]``: ``x, w, b, dy, y, (dx, dw, db)``."""
    x_shape, w_shape, pad = SHAPES[index]
    rng = np.random.default_rng(index)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32) / float(np.sqrt(np.prod(w_shape[1:])))
    b = rng.standard_normal(w_shape[0], dtype=np.float32)
    y = ref.conv2d_forward(x, w, b, 1, pad)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    return x, w, b, dy, y, ref.conv2d_backward(dy, x, w, 1, pad)


def _torch_step(x, w, b, dy, pad):
    import torch

    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=pad)
    grads = torch.autograd.grad(ty, (tx, tw, tb), torch.from_numpy(dy))
    return ty.detach().numpy(), tuple(g.numpy() for g in grads)


def _step(contender, pad):
    if contender == "torch":
        return lambda x, w, b, dy: _torch_step(x, w, b, dy, pad)

    def step(x, w, b, dy):
        y = functional.conv2d_forward(x, w, b, 1, pad, backend=contender)
        return y, functional.conv2d_backward(dy, x, w, 1, pad, backend=contender)

    return step


@pytest.mark.parametrize("index", range(len(SHAPES)), ids=LABELS)
def test_conv_forward_backward(benchmark, contender, index):
    x, w, b, dy, y_ref, grads_ref = _case(index)
    step = _step(contender, SHAPES[index][2])
    step(x, w, b, dy)  # warm-up: JIT compilation or cache load
    benchmark.group = f"conv fwd+bwd {LABELS[index]}"
    _check(*benchmark(step, x, w, b, dy), y_ref, grads_ref)


def _check(y, grads, y_ref, grads_ref):
    np.testing.assert_allclose(y, y_ref, **TOL)
    for got, want in zip(grads, grads_ref):
        atol = TOL["atol"] * np.abs(want).max()  # dw sums N*OH*OW products
        np.testing.assert_allclose(got, want, rtol=TOL["rtol"], atol=atol)


WINOGRAD_SHAPES = [i for i, (_, w, _) in enumerate(SHAPES) if _winograd.applies(w, 1)]


@pytest.mark.parametrize("algorithm", ["im2col", "winograd"])
@pytest.mark.parametrize("backend", ["numba", "cython"])
@pytest.mark.parametrize("index", WINOGRAD_SHAPES, ids=[LABELS[i] for i in WINOGRAD_SHAPES])
def test_conv_algorithm(benchmark, index, backend, algorithm):
    if backend not in fastdl.available_backends():
        pytest.skip(f"backend {backend!r} not available")
    x, w, b, dy, y_ref, grads_ref = _case(index)
    plain = _step(backend, SHAPES[index][2])

    def step(*args):
        with _conv_rule.use_algorithm(algorithm):
            return plain(*args)

    step(x, w, b, dy)
    benchmark.group = f"conv fwd+bwd {LABELS[index]}"
    benchmark.extra_info["contender"] = f"{backend}-{algorithm}"
    _check(*benchmark(step, x, w, b, dy), y_ref, grads_ref)


def gemm_only(x_shape, w_shape, pad, rng):
    """The GEMMs of one Numba forward + backward, on preallocated float32 operands.

    Returns
    -------
    run : callable
        Runs, per chunk of samples, ``[W | b] @ col`` (forward), ``col @ dy.T`` and
        ``W.T @ dy`` (backward) with ``np.matmul``, writing into preallocated outputs.
    """
    chunks, k, p = gemm_plan(x_shape, w_shape, 1, pad)
    n, f = x_shape[0], w_shape[0]
    wb = rng.standard_normal((f, k + 1), dtype=np.float32)
    wt = wb[:, :k].T  # (C*KH*KW, F): a transposed view, as in the kernel
    col = rng.standard_normal((chunks[0], k + 1, p), dtype=np.float32)
    dy = rng.standard_normal((n, f, p), dtype=np.float32)
    y = np.empty((n, f, p), dtype=np.float32)
    dwb = np.empty((chunks[0], k + 1, f), dtype=np.float32)
    dcol = np.empty((chunks[0], k, p), dtype=np.float32)

    def run():
        n0 = 0
        for m in chunks:
            np.matmul(wb, col[:m], out=y[n0 : n0 + m])
            n0 += m
        n0 = 0
        for m in chunks:
            np.matmul(col[:m], dy[n0 : n0 + m].transpose(0, 2, 1), out=dwb[:m])
            np.matmul(wt, dy[n0 : n0 + m], out=dcol[:m])
            n0 += m

    return run


@pytest.mark.parametrize("index", range(len(SHAPES)), ids=LABELS)
def test_conv_gemm_only(benchmark, index):
    run = gemm_only(*SHAPES[index], np.random.default_rng(index))
    run()
    benchmark.group = f"conv fwd+bwd {LABELS[index]}"
    benchmark.extra_info["contender"] = "gemm-only"
    benchmark(run)
