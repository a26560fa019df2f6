"""Fused bias + activation, NumPy reference.

Every activation is a pair ``(f, df)`` of functions of the pre-activation ``z = x + b``. The forms
are the numerically stable ones: no ``exp`` of a large positive number, so every finite input
gives a finite output and derivative. Derivatives at branch points follow PyTorch (relu'(0) = 0,
leaky_relu'(0) = alpha, relu6'(0) = relu6'(6) = 0, elu'(0) = alpha (the x <= 0 branch),
hswish'(-n/2) = 0, hswish'(n/2) = 1, as torch 2.13 computes them).
"""

import math

import numpy as np

from .._common import ACTIVATIONS

_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715
# Beyond |z| = 10 tanh of the GELU polynomial is exactly +-1 in float32 and float64; clipping
# there keeps z**3 from overflowing without changing any finite result.
_GELU_CLIP = 10.0
# tanh(e**z) == 1.0 exactly for z >= 4 in float64; clipping at 20 keeps exp finite.
_TANHEXP_CLIP = 20.0


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(z):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _mish_parts(z):
    t = np.tanh(_softplus(z))
    return t, z * t


def _tanhexp_parts(z):
    e = np.exp(np.minimum(z, _TANHEXP_CLIP))
    t = np.tanh(e)
    return e, t


def _gelu_t(z):
    zc = np.clip(z, -_GELU_CLIP, _GELU_CLIP)
    return zc, np.tanh(_GELU_C * (zc + _GELU_A * zc**3))


def _hswish(z, n):
    zc = np.clip(z, -n / 2, n / 2)  # the middle branch on clipped z: no overflow for huge |z|
    return np.where(z > n / 2, z, zc * (zc + n / 2) / n)


def _hswish_df(z, n):
    zc = np.clip(z, -n / 2, n / 2)
    return np.where(z <= -n / 2, 0, np.where(z < n / 2, (2 * zc + n / 2) / n, 1))


def _gelu_df(z):
    zc, t = _gelu_t(z)
    return 0.5 * (1 + t) + 0.5 * zc * (1 - t * t) * _GELU_C * (1 + 3 * _GELU_A * zc * zc)


def _swish_df(z):
    s = _sigmoid(z)
    return s * (1 + z * (1 - s))


def _mish_df(z):
    t = np.tanh(_softplus(z))
    return t + z * (1 - t * t) * _sigmoid(z)


def _tanhexp_df(z):
    e, t = _tanhexp_parts(z)
    return t + z * (e * (1 - t * t))  # the bracket is exactly 0 once tanh saturates


# name -> (f(z, **params), df(z, **params))
ACTS = {
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
    "leaky_relu": (
        lambda z, alpha: np.where(z > 0, z, alpha * z),
        lambda z, alpha: np.where(z > 0, 1.0, alpha),
    ),
    "relu6": (lambda z: np.clip(z, 0, 6), lambda z: ((z > 0) & (z < 6)) * 1.0),
    "elu": (
        lambda z, alpha: np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0))),
        lambda z, alpha: np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0))),
    ),
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "softplus": (_softplus, _sigmoid),
    "swish": (lambda z: z * _sigmoid(z), _swish_df),
    "hswish": (_hswish, _hswish_df),
    "mish": (lambda z: _mish_parts(z)[1], _mish_df),
    "tanhexp": (lambda z: z * _tanhexp_parts(z)[1], _tanhexp_df),
    "gelu": (lambda z: 0.5 * z * (1 + _gelu_t(z)[1]), _gelu_df),
}


def _preact(x, b, axis):
    """``z = x + b`` with ``b`` of shape (x.shape[axis],) broadcast along ``axis``."""
    if b is None:
        return x
    shape = [1] * x.ndim
    shape[axis] = -1
    return x + b.reshape(shape)  # b as (1, .., C, .., 1)


def bias_act_forward(x, b, act, axis=1, **act_params):
    """``y = act(x + b)``.

    Parameters
    ----------
    x : ndarray of any shape, e.g. (N, D) or (N, C, H, W)
    b : ndarray of shape (x.shape[axis],) or None
    act : str
        Canonical activation name (a key of ``ACTS``).
    axis : int
        Axis of ``x`` that ``b`` runs along.
    **act_params
        The activation's parameters (``alpha`` for leaky_relu and elu, ``n`` for hswish);
        missing ones take the defaults of ``ACTIVATIONS``.

    Returns
    -------
    y : ndarray of the shape and dtype of ``x``
    """
    f, _ = ACTS[act]
    return f(_preact(x, b, axis), **{**ACTIVATIONS[act], **act_params}).astype(x.dtype, copy=False)


def bias_act_backward(dy, x, b, act, axis=1, **act_params):
    """Gradients of ``bias_act_forward``; recomputes ``x + b``.

    Parameters
    ----------
    dy, x : ndarrays of the same shape
    b : ndarray of shape (x.shape[axis],) or None

    Returns
    -------
    dx : ndarray of the shape and dtype of ``x``
    db : ndarray of shape (x.shape[axis],), or None when ``b`` is None
    """
    _, df = ACTS[act]
    dx = (dy * df(_preact(x, b, axis), **{**ACTIVATIONS[act], **act_params})).astype(
        x.dtype, copy=False
    )
    if b is None:
        return dx, None
    other_axes = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
    return dx, dx.sum(axis=other_axes)
