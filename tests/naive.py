"""Plain-loop oracles for the kernels of docs/kernels.md: the readable specification of the spec.

im2col, convolution, pooling and bias + activation are here; the optimizer updates' and softmax +
cross-entropy's oracles sit beside their tests (``test_optim_kernels.py``,
``test_softmax_kernels.py``).

Every function loops explicitly over every index and computes in float64 (outputs are float64
whatever the input dtype; ``argmax`` is int64), so it is slow and meant for tiny shapes only.
Signatures mirror the kernels' (``conv2d_backward`` always computes ``dx``: no ``need_dx``).
Nothing here imports fastdl: the oracle must not share a bug with the code it checks.
"""

import math
from itertools import product

import numpy as np


def _pair(v):
    """Return ``v`` as an ``(h, w)`` pair: ``3 -> (3, 3)``, ``(2, 1) -> (2, 1)``."""
    return (v[0], v[1]) if isinstance(v, (tuple, list)) else (v, v)


def out_size(h, w, kh, kw, stride=1, pad=0):
    """Output height and width of a sliding window: ``(h + 2*pad - kh) // stride + 1``."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(pad)
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def _inside(r, s, h, w):
    """True if row ``r``, column ``s`` is a real pixel of an ``h`` x ``w`` image, not padding."""
    return 0 <= r < h and 0 <= s < w


def im2col(x, kh, kw, stride=1, pad=0):
    """Unfold windows: x (N, C, H, W) -> col (N*OH*OW, C*KH*KW).

    Rows in (n, oh, ow) order, columns in (c, kh, kw) order; padding reads as 0.
    """
    n, c, h, w = x.shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(pad)
    oh, ow = out_size(h, w, kh, kw, stride, pad)
    col = np.zeros((n * oh * ow, c * kh * kw))
    for ni, p, q in product(range(n), range(oh), range(ow)):
        row = (ni * oh + p) * ow + q
        for ci, i, j in product(range(c), range(kh), range(kw)):
            r, s = p * sh - ph + i, q * sw - pw + j
            if _inside(r, s, h, w):
                col[row, (ci * kh + i) * kw + j] = x[ni, ci, r, s]
    return col


def col2im(col, x_shape, kh, kw, stride=1, pad=0):
    """Fold col (N*OH*OW, C*KH*KW) back to x (N, C, H, W), summing overlaps; padding is dropped."""
    n, c, h, w = x_shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(pad)
    oh, ow = out_size(h, w, kh, kw, stride, pad)
    x = np.zeros((n, c, h, w))
    for ni, p, q in product(range(n), range(oh), range(ow)):
        row = (ni * oh + p) * ow + q
        for ci, i, j in product(range(c), range(kh), range(kw)):
            r, s = p * sh - ph + i, q * sw - pw + j
            if _inside(r, s, h, w):
                x[ni, ci, r, s] += col[row, (ci * kh + i) * kw + j]
    return x


def conv2d_forward(x, w, b, stride=1, pad=0):
    """Cross-correlation: x (N, C, H, W), w (F, C, KH, KW), b (F,) or None -> y (N, F, OH, OW)."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(pad)
    oh, ow = out_size(h, wd, kh, kw, stride, pad)
    y = np.zeros((n, f, oh, ow))
    for ni, fi, p, q in product(range(n), range(f), range(oh), range(ow)):
        acc = 0.0 if b is None else float(b[fi])
        for ci, i, j in product(range(c), range(kh), range(kw)):
            r, s = p * sh - ph + i, q * sw - pw + j
            if _inside(r, s, h, wd):
                acc += float(w[fi, ci, i, j]) * float(x[ni, ci, r, s])
        y[ni, fi, p, q] = acc
    return y


def conv2d_backward(dy, x, w, stride=1, pad=0):
    """Gradients of ``conv2d_forward``: dy (N, F, OH, OW) -> (dx (N, C, H, W), dw, db (F,))."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(pad)
    oh, ow = out_size(h, wd, kh, kw, stride, pad)
    dx, dw, db = np.zeros((n, c, h, wd)), np.zeros((f, c, kh, kw)), np.zeros(f)
    for ni, fi, p, q in product(range(n), range(f), range(oh), range(ow)):
        g = float(dy[ni, fi, p, q])
        db[fi] += g
        for ci, i, j in product(range(c), range(kh), range(kw)):
            r, s = p * sh - ph + i, q * sw - pw + j
            if _inside(r, s, h, wd):
                dx[ni, ci, r, s] += g * float(w[fi, ci, i, j])
                dw[fi, ci, i, j] += g * float(x[ni, ci, r, s])
    return dx, dw, db


def maxpool2d_forward(x, kh, kw, stride=None, pad=0):
    """Max over windows of x (N, C, H, W); padding counts as -inf; stride defaults to the window.

    Returns
    -------
    y : ndarray of shape (N, C, OH, OW)
    argmax : int64 ndarray of shape (N, C, OH, OW)
        Window-local index ``i*kw + j`` of the first maximum in row-major window order.
    """
    stride = (kh, kw) if stride is None else stride
    n, c, h, w = x.shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(pad)
    oh, ow = out_size(h, w, kh, kw, stride, pad)
    y, argmax = np.zeros((n, c, oh, ow)), np.zeros((n, c, oh, ow), dtype=np.int64)
    for ni, ci, p, q in product(range(n), range(c), range(oh), range(ow)):
        best, best_k = -math.inf, -1
        for i, j in product(range(kh), range(kw)):
            r, s = p * sh - ph + i, q * sw - pw + j
            v = float(x[ni, ci, r, s]) if _inside(r, s, h, w) else -math.inf
            if v > best:  # strictly greater: the first maximum keeps a tie
                best, best_k = v, i * kw + j
        y[ni, ci, p, q], argmax[ni, ci, p, q] = best, best_k
    return y, argmax


def maxpool2d_backward(dy, argmax, x_shape, kh, kw, stride=None, pad=0):
    """Route dy (N, C, OH, OW) to the input pixel each ``argmax`` names -> dx of ``x_shape``."""
    stride = (kh, kw) if stride is None else stride
    n, c, h, w = x_shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(pad)
    oh, ow = out_size(h, w, kh, kw, stride, pad)
    dx = np.zeros((n, c, h, w))
    for ni, ci, p, q in product(range(n), range(c), range(oh), range(ow)):
        i, j = divmod(int(argmax[ni, ci, p, q]), kw)
        r, s = p * sh - ph + i, q * sw - pw + j
        assert _inside(r, s, h, w), f"argmax {i * kw + j} of window ({p}, {q}) is padding"
        dx[ni, ci, r, s] += float(dy[ni, ci, p, q])
    return dx


def avgpool2d_forward(x, kh, kw, stride=None, pad=0):
    """Mean over windows of x (N, C, H, W), padding counted as 0 (always divide by kh*kw)."""
    stride = (kh, kw) if stride is None else stride
    n, c, h, w = x.shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(pad)
    oh, ow = out_size(h, w, kh, kw, stride, pad)
    y = np.zeros((n, c, oh, ow))
    for ni, ci, p, q in product(range(n), range(c), range(oh), range(ow)):
        acc = 0.0
        for i, j in product(range(kh), range(kw)):
            r, s = p * sh - ph + i, q * sw - pw + j
            if _inside(r, s, h, w):
                acc += float(x[ni, ci, r, s])
        y[ni, ci, p, q] = acc / (kh * kw)
    return y


def avgpool2d_backward(dy, x_shape, kh, kw, stride=None, pad=0):
    """Spread each dy (N, C, OH, OW) / (kh*kw) over the real pixels of its window."""
    stride = (kh, kw) if stride is None else stride
    n, c, h, w = x_shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(pad)
    oh, ow = out_size(h, w, kh, kw, stride, pad)
    dx = np.zeros((n, c, h, w))
    for ni, ci, p, q in product(range(n), range(c), range(oh), range(ow)):
        for i, j in product(range(kh), range(kw)):
            r, s = p * sh - ph + i, q * sw - pw + j
            if _inside(r, s, h, w):
                dx[ni, ci, r, s] += float(dy[ni, ci, p, q]) / (kh * kw)
    return dx


# Activations: scalar formulas from the definitions, each with its derivative. Branch points
# follow PyTorch: relu'(0)=0, leaky_relu'(0)=alpha, relu6'(0)=relu6'(6)=0, elu'(0)=alpha,
# hswish'(-n/2)=0 and hswish'(n/2)=1 (torch >= 2.7, pytorch/pytorch#148049; older torch
# took the middle branch, -0.5 and 1.5, at both points).
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


def _exp(v):
    """``math.exp`` that saturates to inf instead of raising OverflowError (past v ~ 709.78)."""
    return math.exp(v) if v < 709.0 else math.inf


def _sigmoid(z):
    return 1.0 / (1.0 + _exp(-z))


def _softplus(z):
    """log(1 + e^z), written max(z, 0) + log(1 + e^-|z|) so that it holds for huge |z|."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _mish_grad(z):
    t = math.tanh(_softplus(z))
    return t + z * (1.0 - t * t) * _sigmoid(z)


def _tanhexp_grad(z):
    e = _exp(z)
    t = math.tanh(e)
    sech2 = 1.0 - t * t  # exactly 0 once tanh(e^z) saturates; then skip the inf * 0
    return t + (z * e * sech2 if sech2 else 0.0)


def _gelu(z):
    return 0.5 * z * (1.0 + math.tanh(_GELU_C * (z + _GELU_A * z * z * z)))


def _gelu_grad(z):
    t = math.tanh(_GELU_C * (z + _GELU_A * z * z * z))
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _GELU_C * (1.0 + 3.0 * _GELU_A * z * z)


def _hswish(z, n=6.0):
    if z <= -n / 2:
        return 0.0
    return z if z > n / 2 else z * (z + n / 2) / n


def _hswish_grad(z, n=6.0):
    if z <= -n / 2:
        return 0.0
    return 1.0 if z >= n / 2 else (2.0 * z + n / 2) / n


# name -> (act(z, **params), act'(z, **params))
ACTIVATIONS = {
    "identity": (lambda z: z, lambda z: 1.0),
    "relu": (lambda z: max(z, 0.0), lambda z: 1.0 if z > 0 else 0.0),
    "leaky_relu": (
        lambda z, alpha=0.01: z if z > 0 else alpha * z,
        lambda z, alpha=0.01: 1.0 if z > 0 else alpha,
    ),
    "relu6": (lambda z: min(max(z, 0.0), 6.0), lambda z: 1.0 if 0 < z < 6 else 0.0),
    "elu": (
        lambda z, alpha=1.0: z if z > 0 else alpha * math.expm1(z),
        lambda z, alpha=1.0: 1.0 if z > 0 else alpha * math.exp(z),
    ),
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "tanh": (math.tanh, lambda z: 1.0 - math.tanh(z) ** 2),
    "softplus": (_softplus, _sigmoid),
    "swish": (
        lambda z: z * _sigmoid(z),
        lambda z: _sigmoid(z) + z * _sigmoid(z) * (1.0 - _sigmoid(z)),
    ),
    "hswish": (_hswish, _hswish_grad),
    "mish": (lambda z: z * math.tanh(_softplus(z)), _mish_grad),
    "tanhexp": (lambda z: z * math.tanh(_exp(z)), _tanhexp_grad),
    "gelu": (_gelu, _gelu_grad),
}
ACTIVATIONS["silu"] = ACTIVATIONS["swish"]


def _pre_activation(x, b, idx, axis):
    """``x[idx] + b[idx[axis]]`` in float64 (just ``x[idx]`` when ``b`` is None)."""
    return float(x[idx]) + (0.0 if b is None else float(b[idx[axis]]))


def bias_act_forward(x, b, act, axis=1, **act_params):
    """y = act(x + b) elementwise; x of any shape, b (x.shape[axis],) or None, along ``axis``."""
    fn, _ = ACTIVATIONS[act]
    y = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        y[idx] = fn(_pre_activation(x, b, idx, axis), **act_params)
    return y


def bias_act_backward(dy, x, b, act, axis=1, **act_params):
    """Gradients of ``bias_act_forward``: (dx of x.shape, db (x.shape[axis],) or None)."""
    _, grad = ACTIVATIONS[act]
    dx = np.zeros(x.shape)
    db = None if b is None else np.zeros(b.shape)
    for idx in np.ndindex(x.shape):
        dx[idx] = float(dy[idx]) * grad(_pre_activation(x, b, idx, axis), **act_params)
        if db is not None:
            db[idx[axis]] += dx[idx]
    return dx, db
