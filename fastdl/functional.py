"""Public kernel API: validates input once, then calls the selected backend.

Every kernel of ``docs/kernels.md`` is here with the same parameters plus a keyword-only
``backend=`` (``None`` = the current selection, see :func:`fastdl.get_backend`). Inputs may be
non-contiguous or read-only; they are never modified, but for the parameter and state arrays
that the ``*_update`` functions update in place. Bad input raises ``TypeError`` or
``ValueError`` naming the argument before any compiled code runs. A batch of N = 0 gives empty
results (zero gradients for ``w`` and ``b``) without calling a backend, the same on every backend;
see :mod:`fastdl._validate` for the size rules and limits.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _backend
from . import _validate as v
from ._typing import FloatArray, IntArray, IntPair

__all__ = [
    "im2col",
    "col2im",
    "conv2d_forward",
    "conv2d_backward",
    "maxpool2d_forward",
    "maxpool2d_backward",
    "avgpool2d_forward",
    "avgpool2d_backward",
    "bias_act_forward",
    "bias_act_backward",
    "sgd_update",
    "momentum_update",
    "nesterov_update",
    "adagrad_update",
    "rmsprop_update",
    "adadelta_update",
    "adam_update",
    "nadam_update",
    "softmax_xent_forward",
    "softmax_xent_backward",
    "matmul",
]


def _call(name: str, backend: str | None, *args: Any, **kwargs: Any) -> Any:
    return _backend.resolve(name, backend)[1](*args, **kwargs)


def _sliding(
    x_shape: Sequence[int],
    kh: int,
    kw: int,
    stride: IntPair | None,
    pad: IntPair,
    pool: bool = False,
) -> tuple[int, int, tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Validate window arguments; return ``(kh, kw, stride, pad, (oh, ow))``.

    For pooling (``pool=True``) ``stride=None`` means the window size and ``pad`` may be at most
    half the window.
    """
    kh, kw = v.kernel_size(kh, kw)
    stride = v.pair("stride", (kh, kw) if pool and stride is None else stride, 1)
    pad = v.pair("pad", pad, 0)
    if pool:
        v.pool_pad(kh, kw, pad)
    return kh, kw, stride, pad, v.window(x_shape, kh, kw, stride, pad)


def im2col(
    x: npt.ArrayLike,
    kh: int,
    kw: int,
    stride: IntPair = 1,
    pad: IntPair = 0,
    *,
    backend: str | None = None,
) -> FloatArray:
    """Unfold sliding windows into rows.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    kh, kw : int
    stride, pad : int or (int, int)
    backend : str, optional

    Returns
    -------
    col : ndarray of shape (N*OH*OW, C*KH*KW); rows (n, oh, ow), columns (c, kh, kw)
    """
    x = v.array("x", x, 4)
    kh, kw, stride, pad, _ = _sliding(x.shape, kh, kw, stride, pad)
    if not x.shape[0]:
        return np.empty((0, x.shape[1] * kh * kw), x.dtype)
    return _call("im2col", backend, x, kh, kw, stride, pad)


def col2im(
    col: npt.ArrayLike,
    x_shape: Sequence[int],
    kh: int,
    kw: int,
    stride: IntPair = 1,
    pad: IntPair = 0,
    *,
    backend: str | None = None,
) -> FloatArray:
    """Fold rows back into an image, summing overlaps (the adjoint of :func:`im2col`).

    Parameters
    ----------
    col : ndarray of shape (N*OH*OW, C*KH*KW)
    x_shape : tuple (N, C, H, W)

    Returns
    -------
    x : ndarray of shape x_shape, dtype of ``col``
    """
    col = v.array("col", col, 2)
    x_shape = v.shape4("x_shape", x_shape)
    kh, kw, stride, pad, (oh, ow) = _sliding(x_shape, kh, kw, stride, pad)
    n, c = x_shape[:2]
    v.shape_is("col", col, (n * oh * ow, c * kh * kw), "N*OH*OW, C*KH*KW")
    if not n:
        return np.zeros(x_shape, col.dtype)
    return _call("col2im", backend, col, x_shape, kh, kw, stride, pad)


def _conv_args(
    x: npt.ArrayLike, w: npt.ArrayLike, stride: IntPair, pad: IntPair
) -> tuple[FloatArray, FloatArray, tuple[int, int], tuple[int, int], tuple[int, int]]:
    x = v.array("x", x, 4)
    w = v.array("w", w, 4, x.dtype)
    if not w.shape[0]:
        raise ValueError(
            f"w has F=0 filters (shape {w.shape}, i.e. (F, C, KH, KW)); F must be >= 1"
        )
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"channel mismatch: x has C={x.shape[1]} channels (shape {x.shape}) but w expects "
            f"C={w.shape[1]} (shape {w.shape}, i.e. (F, C, KH, KW))"
        )
    _, _, stride, pad, out = _sliding(x.shape, w.shape[2], w.shape[3], stride, pad)
    if x.shape[0] * w.shape[0] * out[0] * out[1] > v.MAX_ELEMENTS:
        raise ValueError(
            f"conv2d of x {x.shape} with w {w.shape} (stride={stride}, pad={pad}) gives an "
            f"output of more than {v.MAX_ELEMENTS:,} (2**32) entries"
        )
    return x, w, stride, pad, out


def conv2d_forward(
    x: npt.ArrayLike,
    w: npt.ArrayLike,
    b: npt.ArrayLike | None,
    stride: IntPair = 1,
    pad: IntPair = 0,
    *,
    backend: str | None = None,
) -> FloatArray:
    """2-D convolution (cross-correlation, like ``torch.nn.functional.conv2d``).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (F, C, KH, KW)
    b : ndarray of shape (F,) or None
    stride, pad : int or (int, int)

    Returns
    -------
    y : ndarray of shape (N, F, OH, OW)
    """
    x, w, stride, pad, (oh, ow) = _conv_args(x, w, stride, pad)
    if b is not None:
        b = v.array("b", b, 1, x.dtype)
        v.shape_is("b", b, (w.shape[0],), "one bias per filter F")
    if not x.shape[0]:
        return np.empty((0, w.shape[0], oh, ow), x.dtype)
    return _call("conv2d_forward", backend, x, w, b, stride, pad)


def conv2d_backward(
    dy: npt.ArrayLike,
    x: npt.ArrayLike,
    w: npt.ArrayLike,
    stride: IntPair = 1,
    pad: IntPair = 0,
    need_dx: bool = True,
    *,
    backend: str | None = None,
) -> tuple[FloatArray | None, FloatArray, FloatArray]:
    """Gradients of :func:`conv2d_forward`.

    Parameters
    ----------
    dy : ndarray of shape (N, F, OH, OW)
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (F, C, KH, KW)
    need_dx : bool
        ``False`` skips the input gradient (a network's first layer does not need it).

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), or None when ``need_dx`` is False
    dw : ndarray of shape (F, C, KH, KW)
    db : ndarray of shape (F,)
    """
    x, w, stride, pad, (oh, ow) = _conv_args(x, w, stride, pad)
    dy = v.array("dy", dy, 4, x.dtype)
    v.shape_is("dy", dy, (x.shape[0], w.shape[0], oh, ow), "N, F, OH, OW")
    if not isinstance(need_dx, (bool, np.bool_)):
        raise TypeError(f"need_dx must be a bool, got {type(need_dx).__name__}")
    if not x.shape[0]:
        dx = np.empty(x.shape, x.dtype) if need_dx else None
        return dx, np.zeros(w.shape, x.dtype), np.zeros(w.shape[0], x.dtype)
    return _call("conv2d_backward", backend, dy, x, w, stride, pad, bool(need_dx))


def maxpool2d_forward(
    x: npt.ArrayLike,
    kh: int,
    kw: int,
    stride: IntPair | None = None,
    pad: IntPair = 0,
    *,
    backend: str | None = None,
) -> tuple[FloatArray, IntArray]:
    """Max pooling; padding counts as -inf, ties go to the first maximum.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kh, kw : int
    stride : int or (int, int), optional
        Defaults to the window size ``(kh, kw)``.
    pad : int or (int, int)
        At most half the window.

    Returns
    -------
    y : ndarray of shape (N, C, OH, OW)
    argmax : int64 ndarray of shape (N, C, OH, OW)
        Window-local flat index ``i*kw + j`` of each maximum.
    """
    x = v.array("x", x, 4)
    kh, kw, stride, pad, (oh, ow) = _sliding(x.shape, kh, kw, stride, pad, pool=True)
    if not x.shape[0]:
        return np.empty((0, x.shape[1], oh, ow), x.dtype), np.empty(
            (0, x.shape[1], oh, ow), np.int64
        )
    return _call("maxpool2d_forward", backend, x, kh, kw, stride, pad)


def maxpool2d_backward(
    dy: npt.ArrayLike,
    argmax: npt.ArrayLike,
    x_shape: Sequence[int],
    kh: int,
    kw: int,
    stride: IntPair | None = None,
    pad: IntPair = 0,
    *,
    backend: str | None = None,
) -> FloatArray:
    """Gradient of :func:`maxpool2d_forward`: routes ``dy`` to the recorded maxima.

    Parameters
    ----------
    dy : ndarray of shape (N, C, OH, OW)
    argmax : integer ndarray of shape (N, C, OH, OW), values in [0, kh*kw)
    x_shape : tuple (N, C, H, W)

    Returns
    -------
    dx : ndarray of shape x_shape
    """
    dy = v.array("dy", dy, 4)
    x_shape = v.shape4("x_shape", x_shape)
    kh, kw, stride, pad, (oh, ow) = _sliding(x_shape, kh, kw, stride, pad, pool=True)
    v.shape_is("dy", dy, (*x_shape[:2], oh, ow), "N, C, OH, OW")
    argmax = np.asarray(argmax)
    if argmax.dtype.kind not in "iu":
        raise TypeError(f"argmax must be an integer array, got dtype {argmax.dtype}")
    v.shape_is("argmax", argmax, dy.shape, "same as dy")
    if argmax.size and (argmax.min() < 0 or argmax.max() >= kh * kw):
        raise ValueError(
            f"argmax values must lie in [0, {kh * kw}) for a {kh}x{kw} window, "
            f"got min {argmax.min()} and max {argmax.max()}"
        )
    argmax = np.ascontiguousarray(argmax, dtype=np.int64)
    if not x_shape[0]:
        return np.zeros(x_shape, dy.dtype)
    return _call("maxpool2d_backward", backend, dy, argmax, x_shape, kh, kw, stride, pad)


def avgpool2d_forward(
    x: npt.ArrayLike,
    kh: int,
    kw: int,
    stride: IntPair | None = None,
    pad: IntPair = 0,
    *,
    backend: str | None = None,
) -> FloatArray:
    """Average pooling (``count_include_pad=True``: always divides by ``kh*kw``).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)

    Returns
    -------
    y : ndarray of shape (N, C, OH, OW)
    """
    x = v.array("x", x, 4)
    kh, kw, stride, pad, (oh, ow) = _sliding(x.shape, kh, kw, stride, pad, pool=True)
    if not x.shape[0]:
        return np.empty((0, x.shape[1], oh, ow), x.dtype)
    return _call("avgpool2d_forward", backend, x, kh, kw, stride, pad)


def avgpool2d_backward(
    dy: npt.ArrayLike,
    x_shape: Sequence[int],
    kh: int,
    kw: int,
    stride: IntPair | None = None,
    pad: IntPair = 0,
    *,
    backend: str | None = None,
) -> FloatArray:
    """Gradient of :func:`avgpool2d_forward`.

    Parameters
    ----------
    dy : ndarray of shape (N, C, OH, OW)
    x_shape : tuple (N, C, H, W)

    Returns
    -------
    dx : ndarray of shape x_shape
    """
    dy = v.array("dy", dy, 4)
    x_shape = v.shape4("x_shape", x_shape)
    kh, kw, stride, pad, (oh, ow) = _sliding(x_shape, kh, kw, stride, pad, pool=True)
    v.shape_is("dy", dy, (*x_shape[:2], oh, ow), "N, C, OH, OW")
    if not x_shape[0]:
        return np.zeros(x_shape, dy.dtype)
    return _call("avgpool2d_backward", backend, dy, x_shape, kh, kw, stride, pad)


def _act_args(
    x: npt.ArrayLike, b: npt.ArrayLike | None, act: str, axis: int, act_params: dict[str, float]
) -> tuple[FloatArray, FloatArray | None, str, int, dict[str, float]]:
    """Validate the bias/activation arguments; return ``(x, b, act, axis, params)``."""
    x = v.array("x", x)
    if x.ndim < 1:
        raise ValueError(f"x must have at least 1 dimension, got shape {x.shape}")
    if type(axis) is not int and (
        isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral)
    ):
        raise TypeError(f"axis must be an int, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis={axis} is out of range for x of shape {x.shape}")
    axis = int(axis) % x.ndim
    if b is not None:
        b = v.array("b", b, 1, x.dtype)
        v.shape_is("b", b, (x.shape[axis],), f"x.shape[axis] with axis={axis}")
    defaults, aliases = _backend.activations()
    name = aliases.get(act, act) if isinstance(act, str) else act
    if not act_params and name in _DEFAULT_PARAMS:  # the common call: nothing to check
        return x, b, name, axis, _DEFAULT_PARAMS[name]
    if name not in defaults:
        known = sorted(defaults) + sorted(aliases)
        raise ValueError(f"unknown activation act={act!r}; known: {', '.join(known)}")
    unknown = set(act_params) - set(defaults[name])
    if unknown:
        takes = ", ".join(defaults[name]) or "no parameters"
        raise TypeError(f"activation {name!r} takes {takes}; got {', '.join(sorted(unknown))}")
    params = {**defaults[name], **act_params}
    for key, val in params.items():
        if not isinstance(val, numbers.Real) or not math.isfinite(val):
            raise ValueError(f"{name} parameter {key} must be a finite real number, got {val!r}")
        params[key] = float(val)
    if name == "hswish" and params["n"] <= 0:
        raise ValueError(f"hswish parameter n must be > 0, got {params['n']}")
    if not act_params:
        _DEFAULT_PARAMS[name] = params  # read-only from here on: kernels take it as **params
    return x, b, name, axis, params


_DEFAULT_PARAMS: dict[str, dict[str, float]] = {}  # activation -> its validated default parameters


def bias_act_forward(
    x: npt.ArrayLike,
    b: npt.ArrayLike | None,
    act: str,
    axis: int = 1,
    *,
    backend: str | None = None,
    **act_params: float,
) -> FloatArray:
    """Fused ``y = act(x + b)``, ``b`` broadcast along ``axis``.

    Parameters
    ----------
    x : ndarray, e.g. of shape (N, D) or (N, C, H, W)
    b : ndarray of shape (x.shape[axis],) or None
    act : str
        identity, relu, leaky_relu (alpha=0.01), relu6, elu (alpha=1.0), sigmoid, tanh,
        softplus, swish (or silu), hswish (n=6), mish, tanhexp, gelu (tanh approximation).
    axis : int
    **act_params
        ``alpha`` for leaky_relu and elu, ``n`` for hswish.

    Returns
    -------
    y : ndarray of the shape and dtype of ``x``
    """
    x, b, name, axis, params = _act_args(x, b, act, axis, act_params)
    if not x.size:
        return np.empty(x.shape, x.dtype)
    return _call("bias_act_forward", backend, x, b, name, axis, **params)


def bias_act_backward(
    dy: npt.ArrayLike,
    x: npt.ArrayLike,
    b: npt.ArrayLike | None,
    act: str,
    axis: int = 1,
    *,
    backend: str | None = None,
    **act_params: float,
) -> tuple[FloatArray, FloatArray | None]:
    """Gradients of :func:`bias_act_forward` (``x + b`` is recomputed, nothing is saved).

    Parameters
    ----------
    dy, x : ndarrays of the same shape
    b : ndarray of shape (x.shape[axis],) or None

    Returns
    -------
    dx : ndarray of the shape of ``x``
    db : ndarray of shape (x.shape[axis],), or None when ``b`` is None
    """
    x, b, name, axis, params = _act_args(x, b, act, axis, act_params)
    dy = v.array("dy", dy, None, x.dtype)
    v.shape_is("dy", dy, x.shape, "same as x")
    if not x.size:
        return np.zeros(x.shape, x.dtype), None if b is None else np.zeros(b.shape, x.dtype)
    return _call("bias_act_backward", backend, dy, x, b, name, axis, **params)


# Optimizer updates: kernel -> (state array names, hyperparameter names); divisors must be > 0.
_UPDATES = {
    "sgd_update": ((), ("lr",)),
    "momentum_update": (("v",), ("lr", "momentum")),
    "nesterov_update": (("v",), ("lr", "momentum")),
    "adagrad_update": (("h",), ("lr", "eps")),
    "rmsprop_update": (("h",), ("lr", "rho", "eps")),
    "adadelta_update": (("s", "u"), ("lr", "rho", "eps")),
    "adam_update": (("m", "v"), ("step_size", "beta1", "beta2", "sqrt_bc2", "eps", "decay")),
    "nadam_update": (("m", "v"), ("coef_g", "coef_m", "beta1", "beta2", "bc2", "eps")),
}
_DIVISORS = frozenset({"eps", "sqrt_bc2", "bc2"})


def _update(
    name: str,
    backend: str | None,
    p: FloatArray,
    g: npt.ArrayLike,
    state: tuple[FloatArray, ...],
    hyper: tuple[float, ...],
) -> None:
    """Validate an optimizer update and run it in place on ``p`` and its ``state`` arrays.

    ``p`` and the state arrays must be writeable float arrays of one shape and dtype; ``g`` may
    be any array of that shape and dtype (it is never modified). Arrays that are not C-contiguous
    are updated through contiguous copies written back afterwards.
    """
    state_names, hyper_names = _UPDATES[name]
    v.updated("p", p, p)
    g = v.array("g", g, None, p.dtype)
    v.shape_is("g", g, p.shape, "same as p")
    for state_name, a in zip(state_names, state):
        v.updated(state_name, a, p)
    values = [v.real(h, x, h in _DIVISORS) for h, x in zip(hyper_names, hyper)]
    if not p.size:
        return
    arrays = (p, *state)
    work = [a if a.flags.c_contiguous else np.ascontiguousarray(a) for a in arrays]
    _call(name, backend, work[0], g, *work[1:], *values)
    for a, w in zip(arrays, work):
        if w is not a:
            a[...] = w


def sgd_update(p: FloatArray, g: npt.ArrayLike, lr: float, *, backend: str | None = None) -> None:
    """SGD in place: ``p -= lr * g``.

    Parameters
    ----------
    p : writeable float32/float64 ndarray of any shape, updated in place
    g : ndarray of ``p``'s shape and dtype, not modified
    lr : float
    """
    _update("sgd_update", backend, p, g, (), (lr,))


def momentum_update(
    p: FloatArray,
    g: npt.ArrayLike,
    v: FloatArray,
    lr: float,
    momentum: float,
    *,
    backend: str | None = None,
) -> None:
    """Momentum SGD in place: ``v = momentum * v - lr * g; p += v``.

    ``v`` is a writeable array of ``p``'s shape and dtype, updated in place (so are the state
    arrays of every update below).
    """
    _update("momentum_update", backend, p, g, (v,), (lr, momentum))


def nesterov_update(
    p: FloatArray,
    g: npt.ArrayLike,
    v: FloatArray,
    lr: float,
    momentum: float,
    *,
    backend: str | None = None,
) -> None:
    """Nesterov momentum in place: ``v = momentum * v - lr * g; p += momentum * v - lr * g``."""
    _update("nesterov_update", backend, p, g, (v,), (lr, momentum))


def adagrad_update(
    p: FloatArray,
    g: npt.ArrayLike,
    h: FloatArray,
    lr: float,
    eps: float,
    *,
    backend: str | None = None,
) -> None:
    """AdaGrad in place: ``h += g * g; p -= lr * g / (sqrt(h) + eps)``, ``eps > 0``."""
    _update("adagrad_update", backend, p, g, (h,), (lr, eps))


def rmsprop_update(
    p: FloatArray,
    g: npt.ArrayLike,
    h: FloatArray,
    lr: float,
    rho: float,
    eps: float,
    *,
    backend: str | None = None,
) -> None:
    """RMSprop in place: ``h = rho * h + (1 - rho) * g * g; p -= lr * g / (sqrt(h) + eps)``."""
    _update("rmsprop_update", backend, p, g, (h,), (lr, rho, eps))


def adadelta_update(
    p: FloatArray,
    g: npt.ArrayLike,
    s: FloatArray,
    u: FloatArray,
    lr: float,
    rho: float,
    eps: float,
    *,
    backend: str | None = None,
) -> None:
    """Adadelta in place (``fastdl.optimizers.Adadelta``)::

    s = rho * s + (1 - rho) * g * g
    d = sqrt(u + eps) / sqrt(s + eps) * g
    u = rho * u + (1 - rho) * d * d
    p -= lr * d
    """
    _update("adadelta_update", backend, p, g, (s, u), (lr, rho, eps))


def adam_update(
    p: FloatArray,
    g: npt.ArrayLike,
    m: FloatArray,
    v: FloatArray,
    step_size: float,
    beta1: float,
    beta2: float,
    sqrt_bc2: float,
    eps: float,
    decay: float = 1.0,
    *,
    backend: str | None = None,
) -> None:
    """Adam in place, after AdamW's decoupled decay ``p *= decay``::

    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    p -= step_size * m / (sqrt(v) / sqrt_bc2 + eps)

    ``step_size = lr / (1 - beta1**t)``, ``sqrt_bc2 = sqrt(1 - beta2**t) > 0``, ``eps > 0``.
    """
    _update("adam_update", backend, p, g, (m, v), (step_size, beta1, beta2, sqrt_bc2, eps, decay))


def nadam_update(
    p: FloatArray,
    g: npt.ArrayLike,
    m: FloatArray,
    v: FloatArray,
    coef_g: float,
    coef_m: float,
    beta1: float,
    beta2: float,
    bc2: float,
    eps: float,
    *,
    backend: str | None = None,
) -> None:
    """Nadam in place: Adam's ``m`` and ``v``, then
    ``p -= (coef_g * g + coef_m * m) / (sqrt(v / bc2) + eps)`` (``fastdl.optimizers.Nadam``)."""
    _update("nadam_update", backend, p, g, (m, v), (coef_g, coef_m, beta1, beta2, bc2, eps))


def _scores(name: str, y: npt.ArrayLike) -> FloatArray:
    """Check (N, K) scores with K >= 1 classes; return them C-contiguous."""
    y = v.array(name, y, 2)
    if y.shape[1] == 0:
        raise ValueError(f"{name} must have at least one class (column), got shape {y.shape}")
    return y


def softmax_xent_forward(
    y: npt.ArrayLike, t: npt.ArrayLike, *, backend: str | None = None
) -> tuple[FloatArray, FloatArray]:
    """Softmax of the logits ``y`` and its cross-entropy against integer labels ``t``.

    Parameters
    ----------
    y : ndarray of shape (N, K), float32 or float64 logits
    t : integer ndarray of shape (N,), labels in [0, K)

    Returns
    -------
    loss : float64 ndarray of shape (N,)
        ``-log softmax(y)[i, t_i]`` via log-sum-exp: finite for any finite logits (float32 +-3e38).
    probs : ndarray of shape (N, K), ``y``'s dtype
    """
    y = _scores("y", y)
    t = v.labels("t", t, y.shape)
    if not len(y):
        return np.zeros(0), np.empty(y.shape, y.dtype)
    return _call("softmax_xent_forward", backend, y, t)


def softmax_xent_backward(
    probs: npt.ArrayLike, t: npt.ArrayLike, scale: float, *, backend: str | None = None
) -> FloatArray:
    """Gradient of ``scale * sum_i loss_i`` with respect to the logits.

    Parameters
    ----------
    probs : ndarray of shape (N, K), the softmax of :func:`softmax_xent_forward`
    t : integer ndarray of shape (N,), labels in [0, K)
    scale : float, e.g. ``1 / N`` for the mean loss

    Returns
    -------
    dy : ndarray of shape (N, K), ``probs``' dtype: ``(probs - onehot(t)) * scale``
    """
    probs = _scores("probs", probs)
    t = v.labels("t", t, probs.shape)
    scale = v.real("scale", scale)
    if not len(probs):
        return np.empty(probs.shape, probs.dtype)
    return _call("softmax_xent_backward", backend, probs, t, scale)


def matmul(a: npt.ArrayLike, b: npt.ArrayLike, *, backend: str | None = None) -> FloatArray:
    """Matrix product ``a @ b``, by BLAS on fastdl's threads.

    Once a fastdl kernel has run on several threads in the process (a convolution, a large
    activation), the compiled backends hold BLAS at one thread and split a very large product
    by rows over fastdl's threads (:func:`fastdl.set_num_threads`): OpenBLAS's own threads
    busy-wait after every multi-threaded call and slow the parallel kernels that follow. Before
    that, and on the ``numpy`` backend, it is NumPy's ``a @ b`` as it is. Results agree to
    rounding: OpenBLAS picks its kernel by the matrix sizes and thread count, so the last bits
    may differ between the two.

    Parameters
    ----------
    a : float32 or float64 ndarray of shape (M, K), any strides
    b : ndarray of shape (K, N) and ``a``'s dtype, any strides

    Returns
    -------
    c : C-contiguous ndarray of shape (M, N), ``a``'s dtype (zeros when K is 0)
    """
    a, b = v.matrices(a, b)
    if not (a.shape[0] and a.shape[1] and b.shape[1]):
        return np.zeros((a.shape[0], b.shape[1]), a.dtype)
    return _call("matmul", backend, a, b)
