"""PyTorch CPU as an optional second oracle: the contract's semantics are torch.nn.functional's.

Skipped when torch is not installed (it is never a dependency of fastdl).
"""

import numpy as np
import pytest

from fastdl import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# torch's softplus returns x itself above x = 20 (its `threshold`); fastdl computes the exact
# value, which differs by up to e**-20 ~ 2e-9 there.
TOL = {np.float32: 3e-5, np.float64: 1e-8}


def _close(actual, expected, dtype):
    np.testing.assert_allclose(actual, expected, rtol=TOL[dtype], atol=TOL[dtype])


def _t(a):
    return torch.tensor(a, requires_grad=True)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "pad"),
    [((2, 3, 7, 6), (4, 3, 3, 2), (2, 1), (1, 0)), ((1, 2, 5, 5), (3, 2, 5, 5), 1, 2)],
)
def test_conv2d_matches_torch(backend, dtype, rng, x_shape, w_shape, stride, pad):
    x, w = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    tx, tw, tb = _t(x), _t(w), _t(b)
    ty = TF.conv2d(tx, tw, tb, stride=stride, padding=pad)
    y = F.conv2d_forward(x, w, b, stride, pad, backend=backend)
    _close(y, ty.detach().numpy(), dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(torch.tensor(dy))
    for got, t in zip(F.conv2d_backward(dy, x, w, stride, pad, backend=backend), (tx, tw, tb)):
        _close(got, t.grad.numpy(), dtype)


@pytest.mark.parametrize(
    ("x_shape", "k", "stride", "pad"),
    [
        ((2, 3, 7, 6), (3, 2), (2, 1), (1, 1)),
        ((1, 2, 6, 6), (2, 2), None, 0),
        ((2, 2, 5, 7), (3, 3), 2, 1),
    ],
)
def test_pooling_matches_torch(backend, dtype, rng, x_shape, k, stride, pad):
    x = np.round(rng.standard_normal(x_shape) * 1.5).astype(dtype)  # many ties
    x[0, 0] = -5  # an all-negative plane: the -inf padding must never win
    tx = _t(x)
    ty = TF.max_pool2d(tx, k, stride=stride, padding=pad)
    y, argmax = F.maxpool2d_forward(x, *k, stride, pad, backend=backend)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    dy = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(torch.tensor(dy))
    dx = F.maxpool2d_backward(dy, argmax, x.shape, *k, stride, pad, backend=backend)
    _close(dx, tx.grad.numpy(), dtype)  # same routing, including ties

    tx = _t(x)
    ty = TF.avg_pool2d(tx, k, stride=stride, padding=pad)
    _close(F.avgpool2d_forward(x, *k, stride, pad, backend=backend), ty.detach().numpy(), dtype)
    ty.backward(torch.tensor(dy))
    dx = F.avgpool2d_backward(dy, x.shape, *k, stride, pad, backend=backend)
    _close(dx, tx.grad.numpy(), dtype)


TORCH_ACTS = {
    "identity": lambda t: t,
    "relu": TF.relu,
    "leaky_relu": TF.leaky_relu,
    "relu6": TF.relu6,
    "elu": TF.elu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softplus": TF.softplus,
    "swish": TF.silu,
    "hswish": TF.hardswish,
    "mish": TF.mish,
    "tanhexp": lambda t: t * torch.tanh(torch.exp(t)),
    "gelu": lambda t: TF.gelu(t, approximate="tanh"),
}


@pytest.mark.parametrize("act", sorted(TORCH_ACTS))
def test_activation_matches_torch_including_branch_points(backend, dtype, act):
    grid = np.linspace(-30, 30, 601)
    special = [-6, -3, -1e-3, 0, 1e-3, 3, 6, 50, -50, 80, -80]  # branch points and tails
    x = np.concatenate([grid, special]).astype(dtype).reshape(4, -1)  # (4, 153)
    tx = _t(x)
    TORCH_ACTS[act](tx).sum().backward()
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is fine
        y = F.bias_act_forward(x, None, act, backend=backend)
        dx, _ = F.bias_act_backward(np.ones_like(x), x, None, act, backend=backend)
    _close(y, TORCH_ACTS[act](torch.tensor(x)).numpy(), dtype)
    _close(dx, tx.grad.numpy(), dtype)
