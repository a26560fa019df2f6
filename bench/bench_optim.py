"""Optimizer steps and softmax + cross-entropy timings: every backend and PyTorch.

Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest bench/bench_optim.py --benchmark-only

Groups ``<rule> step W(4320,100)`` and ``<rule> step W(100,50)`` time one ``step`` of a
``fastdl.optimizers`` optimizer on one float32 parameter under ``use_backend(contender)``
(validation included, as a training loop calls it); PyTorch runs the ``torch.optim`` optimizer
with the same rule and hyperparameters. Group ``softmax-CE fwd+bwd y(100,10)`` times
``SoftmaxCrossEntropy`` forward then backward on integer labels; PyTorch runs ``cross_entropy``
and autograd. Before timing, three steps of each contender are checked against the NumPy
reference (the numpy backend), and the loss and gradient against the reference kernels.
"""

import functools

import numpy as np
import pytest

import fastdl
from fastdl import optimizers
from fastdl._kernels.ref import _softmax as ref_softmax
from fastdl.losses import SoftmaxCrossEntropy

SHAPES = [(4320, 100), (100, 50)]
LABELS = [f"W({','.join(map(str, s))})" for s in SHAPES]
TOL = {"rtol": 1e-4, "atol": 1e-6}

# rule -> (fastdl optimizer, torch.optim class name, torch keyword arguments): the same rule
RULES = {
    "sgd": (lambda: optimizers.SGD(0.1), "SGD", {"lr": 0.1}),
    "momentum": (lambda: optimizers.Momentum(0.1), "SGD", {"lr": 0.1, "momentum": 0.9}),
    "nesterov": (
        lambda: optimizers.Nesterov(0.1),
        "SGD",
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    ),
    "adagrad": (lambda: optimizers.AdaGrad(0.01), "Adagrad", {"lr": 0.01, "eps": 1e-7}),
    "rmsprop": (lambda: optimizers.RMSprop(0.01), "RMSprop", {"lr": 0.01, "eps": 1e-7}),
    "adadelta": (lambda: optimizers.Adadelta(), "Adadelta", {"lr": 1.0, "rho": 0.95}),
    "adam": (lambda: optimizers.Adam(), "Adam", {"lr": 1e-3}),
    "adamw": (lambda: optimizers.AdamW(), "AdamW", {"lr": 1e-3, "weight_decay": 0.01}),
    "nadam": (lambda: optimizers.Nadam(), "NAdam", {"lr": 2e-3}),
}


@functools.cache
def _data(index):
    """``(p, g)`` float32 of ``SHAPES[index]`` (copy ``p`` before stepping on it)."""
    rng = np.random.default_rng(index)
    p = rng.standard_normal(SHAPES[index], dtype=np.float32)
    return p, 0.1 * rng.standard_normal(SHAPES[index], dtype=np.float32)


def _fastdl_stepper(contender, rule, p, g):
    opt, params, grads = RULES[rule][0](), {"W": p}, {"W": g}

    def step():
        with fastdl.use_backend(contender):
            opt.step(params, grads)
        return params["W"]

    return step


def _torch_stepper(rule, p, g):
    import torch

    _, name, kwargs = RULES[rule]
    tp = torch.from_numpy(p).requires_grad_()
    tp.grad = torch.from_numpy(g)
    opt = getattr(torch.optim, name)([tp], **kwargs)

    def step():
        opt.step()
        return p  # tp shares p's memory

    return step


def _stepper(contender, rule, p, g):
    if contender == "torch":
        return _torch_stepper(rule, p, g)
    return _fastdl_stepper(contender, rule, p, g)


@pytest.mark.parametrize("index", range(len(SHAPES)), ids=LABELS)
@pytest.mark.parametrize("rule", list(RULES))
def test_optimizer_step(benchmark, contender, rule, index):
    p0, g = _data(index)
    want = _stepper("numpy", rule, p0.copy(), g)
    got = _stepper(contender, rule, p0.copy(), g)
    for _ in range(3):
        np.testing.assert_allclose(got(), want(), **TOL)
    step = _stepper(contender, rule, p0.copy(), g)
    step()  # warm-up (Numba's first call loads or compiles the kernel)
    benchmark.group = f"{rule} step {LABELS[index]}"
    benchmark(step)


def _softmax_step(contender):
    if contender == "torch":
        import torch

        def step(y, t):
            ty = torch.from_numpy(y).requires_grad_()
            loss = torch.nn.functional.cross_entropy(ty, torch.from_numpy(t))
            (dy,) = torch.autograd.grad(loss, ty)
            return loss.item(), dy.numpy()

        return step

    loss_fn = SoftmaxCrossEntropy()

    def step(y, t):
        with fastdl.use_backend(contender):
            return loss_fn.forward(y, t), loss_fn.backward()

    return step


def test_softmax_cross_entropy(benchmark, contender):
    rng = np.random.default_rng(0)
    y = rng.standard_normal((100, 10), dtype=np.float32)
    t = rng.integers(0, 10, 100)
    per_sample, probs = ref_softmax.softmax_xent_forward(y, t)
    dy_ref = ref_softmax.softmax_xent_backward(probs, t, 1 / 100)
    step = _softmax_step(contender)
    step(y, t)  # warm-up
    benchmark.group = "softmax-CE fwd+bwd y(100,10)"
    loss, dy = benchmark(step, y, t)
    np.testing.assert_allclose(loss, per_sample.mean(), rtol=1e-6)
    np.testing.assert_allclose(dy, dy_ref, **TOL)
