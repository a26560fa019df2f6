"""Softmax + cross-entropy with integer labels, Numba: one serial pass per row and direction.

Forward, per row: the maximum, then ``exp(y - max)`` written into ``probs`` and summed in
float64, then ``probs`` times the float64 reciprocal of the sum; the loss ``max - y[t] +
log(sum)`` in float64 (float32 logits of +-3e38 give a finite loss). A difference below the
dtype's range is ``-inf``, whose ``exp`` is 0, as in the reference.
``reassociate=False``: with ``reassoc`` LLVM computed the loss as ``(max + log(sum)) - y[t]``,
which is 0 instead of log(3) for three equal logits of 1e30 (the tests pin it).
"""

import numpy as np

from ._config import jit


@jit(reassociate=False)
def _forward(y, t, loss, probs):
    n, k = y.shape
    for i in range(n):
        top = y[i, 0]
        for j in range(1, k):
            top = max(top, y[i, j])
        total = 0.0
        for j in range(k):
            e = np.exp(y[i, j] - top)
            probs[i, j] = e
            total += e
        inv = 1.0 / total
        for j in range(k):
            probs[i, j] = probs[i, j] * inv  # in float64, rounded once on the store
        loss[i] = np.float64(top) - np.float64(y[i, t[i]]) + np.log(total)


@jit(reassociate=False)
def _backward(probs, t, scale, one, dy):
    """``scale`` and ``one`` in ``probs``' dtype: the arithmetic stays in that dtype."""
    n, k = probs.shape
    for i in range(n):
        for j in range(k):
            dy[i, j] = probs[i, j] * scale
        dy[i, t[i]] = (probs[i, t[i]] - one) * scale


def softmax_xent_forward(y, t):
    """Per-sample cross-entropy of softmax(y) against labels ``t``, and the softmax itself.

    Parameters
    ----------
    y : C-contiguous float32 or float64 ndarray of shape (N, K)
    t : C-contiguous int64 ndarray of shape (N,), labels in [0, K)

    Returns
    -------
    loss : float64 ndarray of shape (N,)
    probs : ndarray of shape (N, K), ``y``'s dtype
    """
    loss, probs = np.empty(y.shape[0]), np.empty_like(y)
    _forward(y, t, loss, probs)
    return loss, probs


def softmax_xent_backward(probs, t, scale):
    """``dy = (probs - onehot(t)) * scale``, shape (N, K), ``probs``' dtype."""
    dy = np.empty_like(probs)
    f = probs.dtype.type
    _backward(probs, t, f(scale), f(1.0), dy)
    return dy
