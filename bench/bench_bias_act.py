"""Fused bias + activation timings: every backend, PyTorch and one ``np.add`` pass.

Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest bench/bench_bias_act.py --benchmark-only

float32 ``x (256, 4096)``, ``b (4096,)`` along axis 1 (a dense layer's pre-activation). Groups
``bias_act fwd <act>`` time ``y = act(x + b)``, groups ``bias_act bwd <act>`` time
``dx, db = bias_act_backward(dy, x, b, act)`` (which recomputes ``x + b``), both through
``fastdl.functional`` after an untimed warm-up call. PyTorch runs ``act(x + b)`` and, for the
backward, autograd of that expression for dx and db (it has to recompute it too, since the
contract saves nothing). The group ``bias_act np.add`` times the yardstick of the targets: one
``np.add(x, b, out=y)`` pass, which reads one array and writes one.
"""

import functools

import numpy as np
import pytest

from fastdl import functional
from fastdl._kernels._common import ACTIVATIONS
from fastdl._kernels.ref import _bias_act as ref

SHAPE = (256, 4096)
TOL = {"rtol": 3e-5, "atol": 3e-5}


@functools.cache
def _inputs():
    rng = np.random.default_rng(0)
    x = rng.uniform(-6, 6, SHAPE).astype(np.float32)
    b = rng.uniform(-1, 1, SHAPE[1]).astype(np.float32)
    return x, b, rng.standard_normal(SHAPE, dtype=np.float32)


def _torch_act(act):
    import torch

    tf = torch.nn.functional
    return {
        "identity": lambda t: t,
        "relu": torch.relu,
        "leaky_relu": tf.leaky_relu,
        "relu6": tf.relu6,
        "elu": tf.elu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "softplus": tf.softplus,
        "swish": tf.silu,
        "hswish": tf.hardswish,
        "mish": tf.mish,
        "tanhexp": lambda t: t * torch.tanh(torch.exp(t)),
        "gelu": lambda t: tf.gelu(t, approximate="tanh"),
    }[act]


def _torch_fns(act):
    import torch

    fn = _torch_act(act)

    def forward(x, b):
        return fn(torch.from_numpy(x) + torch.from_numpy(b)).numpy()

    def backward(dy, x, b):
        tx, tb = torch.from_numpy(x).requires_grad_(), torch.from_numpy(b).requires_grad_()
        dx, db = torch.autograd.grad(fn(tx + tb), (tx, tb), torch.from_numpy(dy))
        return dx.numpy(), db.numpy()

    return forward, backward


def _fns(contender, act):
    if contender == "torch":
        return _torch_fns(act)

    def forward(x, b):
        return functional.bias_act_forward(x, b, act, backend=contender)

    def backward(dy, x, b):
        return functional.bias_act_backward(dy, x, b, act, backend=contender)

    return forward, backward


@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_bias_act_forward(benchmark, contender, act):
    x, b, _ = _inputs()
    forward, _ = _fns(contender, act)
    forward(x, b)  # warm-up
    benchmark.group = f"bias_act fwd {act}"
    y = benchmark(forward, x, b)
    np.testing.assert_allclose(y, ref.bias_act_forward(x, b, act), **TOL)


@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_bias_act_backward(benchmark, contender, act):
    x, b, dy = _inputs()
    _, backward = _fns(contender, act)
    backward(dy, x, b)  # warm-up
    benchmark.group = f"bias_act bwd {act}"
    dx, db = benchmark(backward, dy, x, b)
    dx_ref, db_ref = ref.bias_act_backward(dy, x, b, act)
    np.testing.assert_allclose(dx, dx_ref, **TOL)
    np.testing.assert_allclose(db, db_ref, rtol=1e-4, atol=1e-3)


def test_np_add_pass(benchmark):
    """The yardstick: one pass that reads ``x`` and writes ``y``."""
    x, b, _ = _inputs()
    y = np.empty_like(x)
    benchmark.group = "bias_act np.add"
    benchmark(np.add, x, b, out=y)
