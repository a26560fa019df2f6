"""Losses with the textbook protocol (like its ``SoftmaxWithLoss``), plus softmax helpers.

A loss object has

- ``forward(y, t) -> float``: the loss of network output ``y`` against targets ``t``, averaged
  over the batch, as a Python float (accumulated in float64);
- ``backward(dout=1.0) -> dy``: the gradient with respect to ``y``, already divided by the batch
  size, with ``y``'s shape and dtype (float32 in, float32 out).

``forward`` stores what ``backward`` needs, so call them in that order. :func:`get_loss` makes a
loss from a name; :class:`Flooding` wraps any loss. Bad input raises ``TypeError`` (dtypes, kinds)
or ``ValueError`` (shapes, label values) naming the argument and the numbers. Non-finite ``y``
is not checked: it gives a non-finite loss, which a training loop can test with
``math.isfinite``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from . import functional as F
from ._typing import FloatArray, IntArray, Loss
from ._validate import labels_in_range

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _float_array(owner: str, name: str, a: npt.ArrayLike, ndim: int | None = None) -> FloatArray:
    """Return ``a`` as a float32/float64 array of ``ndim`` dimensions with at least one row."""
    a = np.asarray(a)
    if a.dtype not in _FLOATS:
        raise TypeError(f"{owner}: {name} must be a float32 or float64 array, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{owner}: {name} must be {ndim}-D, got shape {a.shape}")
    if a.ndim == 0 or a.shape[0] == 0:
        raise ValueError(f"{owner}: {name} must hold a non-empty batch, got shape {a.shape}")
    return a


def _labels(owner: str, t: npt.NDArray[Any], y_shape: tuple[int, ...]) -> IntArray:
    """Check integer class labels ``t`` (N,) against scores of shape (N, K)."""
    n, k = y_shape
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{owner}: labels t must be an integer array, got dtype {t.dtype} "
            f"(convert with t.astype(np.int64), or pass one-hot targets of shape ({n}, {k}))"
        )
    if t.shape != (n,):
        raise ValueError(
            f"{owner}: labels t must have shape ({n},) to match y {y_shape}, got {t.shape}"
        )
    if not labels_in_range(t, k):
        i = int(np.flatnonzero((t < 0) | (t >= k))[0])
        raise ValueError(f"{owner}: label t[{i}] = {t[i]} is not a class index in [0, {k})")
    return t


def _distributions(owner: str, t: npt.NDArray[Any], y: FloatArray) -> FloatArray:
    """Check one-hot or probability targets ``t`` (N, K); return them in ``y``'s dtype."""
    if t.dtype.kind not in "biuf":
        raise TypeError(f"{owner}: targets t must be numeric, got dtype {t.dtype}")
    if t.shape != y.shape:
        raise ValueError(f"{owner}: one-hot targets t must have y's shape {y.shape}, got {t.shape}")
    t = t.astype(y.dtype, copy=False)
    if (t < 0).any():
        i, j = np.argwhere(t < 0)[0]
        raise ValueError(f"{owner}: targets must be >= 0, got t[{i}, {j}] = {t[i, j]}")
    return t


def _scale(owner: str, dout: float, n: int) -> float:
    """Return ``dout / n`` as a float after checking ``dout`` is a real scalar."""
    if isinstance(dout, (bool, np.bool_)) or not isinstance(dout, numbers.Real):
        raise TypeError(
            f"{owner}: dout must be a real scalar (the gradient of the final loss, usually 1.0), "
            f"got {type(dout).__name__}"
        )
    return float(dout) / n


def _shift(z: FloatArray, axis: int) -> tuple[FloatArray, FloatArray]:
    """``(z - max(z), max(z))`` along ``axis``; ``-inf`` where the difference overflows."""
    m = np.max(z, axis=axis, keepdims=True)
    with np.errstate(over="ignore"):
        return z - m, m


def softmax(z: npt.ArrayLike, axis: int = -1) -> FloatArray:
    """Numerically stable softmax ``exp(z) / sum(exp(z))`` along ``axis``.

    Parameters
    ----------
    z : ndarray, float32 or float64, any shape
    axis : int

    Returns
    -------
    ndarray with ``z``'s shape and dtype; each slice along ``axis`` sums to 1.
    """
    z = _float_array("softmax", "z", z)
    e = np.exp(_shift(z, axis)[0])
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z: npt.ArrayLike, axis: int = -1) -> FloatArray:
    """Numerically stable ``log(softmax(z))`` along ``axis``: ``z - max - log(sum(exp(z - max)))``.

    Parameters
    ----------
    z : ndarray, float32 or float64, any shape
    axis : int

    Returns
    -------
    ndarray with ``z``'s shape and dtype. Finite for finite ``z`` unless the true value is below
    the dtype's range (float32 logits more than ~3.4e38 apart give ``-inf``).
    """
    z = _float_array("log_softmax", "z", z)
    shifted = _shift(z, axis)[0]
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class LogSoftmax:
    """Log-softmax over the classes as a parameterless layer, to put before :class:`NLLLoss`.

    It follows the layer protocol (``forward(x, train=True)``, ``backward(dout)``, empty
    ``params``/``grads``/``buffers``, ``config()``), so it fits in ``Sequential``.
    Shapes: x (N, K) logits -> (N, K) log-probabilities.
    """

    def __init__(self) -> None:
        self.params: dict[str, FloatArray] = {}
        self.grads: dict[str, FloatArray] = {}
        self.buffers: dict[str, FloatArray] = {}
        self._logp: FloatArray | None = None

    def forward(self, x: npt.ArrayLike, train: bool = True) -> FloatArray:
        self._logp = log_softmax(_float_array("LogSoftmax", "x", x, ndim=2), axis=1)
        return self._logp

    def backward(self, dout: FloatArray) -> FloatArray:
        """``dx = dout - softmax(x) * sum(dout, axis=1)``, shape (N, K)."""
        if self._logp is None:
            raise RuntimeError("LogSoftmax: backward called before forward")
        dout = _float_array("LogSoftmax", "dout", dout)
        if dout.shape != self._logp.shape:
            raise ValueError(
                f"LogSoftmax: dout must have shape {self._logp.shape}, got {dout.shape}"
            )
        dout = dout.astype(self._logp.dtype, copy=False)
        return dout - np.exp(self._logp) * dout.sum(axis=1, keepdims=True)

    def config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return "LogSoftmax()"


class SoftmaxCrossEntropy:
    """Softmax followed by cross-entropy, fused and numerically stable (the textbook's
    ``SoftmaxWithLoss``; PyTorch's ``CrossEntropyLoss`` with mean reduction).

    ``forward(y, t)``
        y : (N, K) float32/float64 logits (no softmax applied).
        t : (N,) integer labels in [0, K), or (N, K) one-hot / probability targets (>= 0).
        Returns ``mean_i(-sum_k t_ik * log softmax(y)_ik)``, computed through log-sum-exp: finite
        for any finite logits whose loss fits in float64 (e.g. float32 logits of +-3e38).
        Sets ``self.probs``, the (N, K) softmax of ``y`` in ``y``'s dtype.
    ``backward(dout=1.0)``
        Returns ``dout * (softmax(y) * sum_k t_k - t) / N``, i.e. ``dout * (softmax(y) - t) / N``
        for labels and one-hot targets; shape (N, K), ``y``'s dtype.
    """

    def __init__(self) -> None:
        self.probs: FloatArray | None = None
        self._t: Any = None  # (N,) labels or (N, K) targets

    def forward(self, y: npt.ArrayLike, t: npt.ArrayLike) -> float:
        name = type(self).__name__
        y = _float_array(name, "y", y, ndim=2)
        t = np.asarray(t)
        if t.ndim == 1:
            t = _labels(name, t, y.shape)
        elif t.ndim == 2:
            t = _distributions(name, t, y)
        else:
            raise ValueError(
                f"{name}: t must be (N,) labels or (N, K) one-hot targets, got shape {t.shape}"
            )
        self._t = t
        if t.ndim == 1:  # one fused pass (fastdl.functional.softmax_xent_forward)
            per_sample, self.probs = F.softmax_xent_forward(y, t)
            return float(per_sample.mean())
        shifted, m = _shift(y, axis=1)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        self.probs = e / total
        # loss_i = sum_k t_ik * (m_i - y_ik) + log(total_i) * sum_k t_ik, every term >= 0; the
        # differences are taken in float64 so extreme float32 logits do not overflow.
        m64, log_total = m[:, 0].astype(np.float64), np.log(total[:, 0]).astype(np.float64)
        t64 = t.astype(np.float64)
        gap = m64[:, None] - y.astype(np.float64)
        per_sample = (t64 * gap).sum(axis=1) + log_total * t64.sum(axis=1)
        return float(per_sample.mean())

    def backward(self, dout: float = 1.0) -> FloatArray:
        name = type(self).__name__
        if self.probs is None:
            raise RuntimeError(f"{name}: backward called before forward")
        n = self.probs.shape[0]
        scale = _scale(name, dout, n)
        if self._t.ndim == 1:
            return F.softmax_xent_backward(self.probs, self._t, scale)
        dy = self.probs * self._t.sum(axis=1, keepdims=True) - self._t
        dy *= scale
        return dy


SoftmaxWithLoss = SoftmaxCrossEntropy  # the textbook's name


class NLLLoss:
    """Negative log-likelihood of log-probabilities (PyTorch's ``NLLLoss``, mean reduction).

    Put after :class:`LogSoftmax`; together they equal :class:`SoftmaxCrossEntropy`.

    ``forward(logp, t)``
        logp : (N, K) float32/float64 log-probabilities (not checked to be <= 0).
        t : (N,) integer labels in [0, K).
        Returns ``-mean_i logp[i, t_i]``.
    ``backward(dout=1.0)``
        Returns (N, K): ``-dout / N`` at ``[i, t_i]``, 0 elsewhere; ``logp``'s dtype.
    """

    def __init__(self) -> None:
        self._shape: Any = None
        self._dtype: Any = None
        self._t: IntArray | None = None

    def forward(self, logp: npt.ArrayLike, t: npt.ArrayLike) -> float:
        logp = _float_array("NLLLoss", "logp", logp, ndim=2)
        t = _labels("NLLLoss", np.asarray(t), logp.shape)
        self._shape, self._dtype, self._t = logp.shape, logp.dtype, t
        return float(-logp[np.arange(len(t)), t].astype(np.float64).mean())

    def backward(self, dout: float = 1.0) -> FloatArray:
        if self._t is None:
            raise RuntimeError("NLLLoss: backward called before forward")
        n = self._shape[0]
        dlogp = np.zeros(self._shape, self._dtype)
        dlogp[np.arange(n), self._t] = -_scale("NLLLoss", dout, n)
        return dlogp


class MSELoss:
    """Mean squared error over all elements: ``mean((y - t)**2)`` (PyTorch's ``MSELoss``).

    The textbook's ``mean_squared_error`` is ``0.5 * sum((y - t)**2)`` per sample, i.e.
    ``MSELoss * D / 2`` for (N, D) outputs averaged over the batch.

    ``forward(y, t)``
        y : float32/float64 array of any shape (N, ...); t : real array of the same shape.
    ``backward(dout=1.0)``
        Returns ``2 * dout * (y - t) / y.size``, ``y``'s shape and dtype.
    """

    def __init__(self) -> None:
        self._diff: FloatArray | None = None

    def forward(self, y: npt.ArrayLike, t: npt.ArrayLike) -> float:
        y = _float_array("MSELoss", "y", y)
        t = np.asarray(t)
        if t.dtype.kind not in "iuf":
            raise TypeError(f"MSELoss: targets t must be a real array, got dtype {t.dtype}")
        if t.shape != y.shape:
            raise ValueError(f"MSELoss: t must have y's shape {y.shape}, got {t.shape}")
        self._diff = y - t.astype(y.dtype, copy=False)
        return float(np.mean(np.square(self._diff, dtype=np.float64)))

    def backward(self, dout: float = 1.0) -> FloatArray:
        if self._diff is None:
            raise RuntimeError("MSELoss: backward called before forward")
        return self._diff * (2 * _scale("MSELoss", dout, self._diff.size))


class Flooding:
    """Flooding (Ishida et al., 2020): ``|L - b| + b`` around any loss ``L``.

    Above the flood level ``b`` the loss and its gradient are unchanged; below it the gradient
    is negated (gradient ascent), so the training loss floats around ``b``. At ``L == b`` the
    gradient keeps its sign (factor +1).

    Parameters
    ----------
    loss : loss object or str
        Any object with ``forward(y, t)`` and ``backward(dout)``, or a name for :func:`get_loss`.
    b : float >= 0
        The flood level.
    """

    def __init__(self, loss: str | Loss, b: float) -> None:
        self.loss = get_loss(loss)
        if isinstance(b, (bool, np.bool_)) or not isinstance(b, numbers.Real):
            raise TypeError(f"Flooding: b must be a real number, got {type(b).__name__}")
        if not (np.isfinite(b) and b >= 0):
            raise ValueError(f"Flooding: the flood level b must be finite and >= 0, got {b!r}")
        self.b: float = float(b)
        self._sign: float | None = None

    def forward(self, y: npt.ArrayLike, t: npt.ArrayLike) -> float:
        value = self.loss.forward(y, t)
        self._sign = 1.0 if value >= self.b else -1.0
        return abs(value - self.b) + self.b

    def backward(self, dout: float = 1.0) -> FloatArray:
        if self._sign is None:
            raise RuntimeError("Flooding: backward called before forward")
        return self.loss.backward(_scale("Flooding", dout, 1) * self._sign)

    def __repr__(self) -> str:
        return f"Flooding({self.loss!r}, b={self.b!r})"


def accuracy(y: npt.ArrayLike, t: npt.ArrayLike) -> float:
    """Fraction of rows whose highest score is the target class.

    Parameters
    ----------
    y : (N, K) float array of scores (logits or probabilities).
    t : (N,) integer labels in [0, K), or (N, K) one-hot targets (their argmax is the label).

    Returns
    -------
    float in [0, 1]
    """
    y = _float_array("accuracy", "y", y, ndim=2)
    t = np.asarray(t)
    if t.ndim == 2:
        t = np.argmax(_distributions("accuracy", t, y), axis=1)
    else:
        t = _labels("accuracy", t, y.shape)
    return float(np.mean(np.argmax(y, axis=1) == t))


LOSSES: dict[str, type[SoftmaxCrossEntropy | NLLLoss | MSELoss]] = {
    "softmax_cross_entropy": SoftmaxCrossEntropy,
    "cross_entropy": SoftmaxCrossEntropy,
    "nll": NLLLoss,
    "mse": MSELoss,
}


def get_loss(loss: str | Loss) -> Loss:
    """Return a new loss for a name in :data:`LOSSES`, or ``loss`` itself if it is a loss object.

    Parameters
    ----------
    loss : str or object with ``forward`` and ``backward``
        ``"softmax_cross_entropy"`` (alias ``"cross_entropy"``), ``"nll"`` or ``"mse"``.
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)}")
        return LOSSES[loss]()
    if not (callable(getattr(loss, "forward", None)) and callable(getattr(loss, "backward", None))):
        raise TypeError(
            f"loss must be a name in {sorted(LOSSES)} or an object with forward(y, t) and "
            f"backward(dout), got {type(loss).__name__}"
        )
    return loss
