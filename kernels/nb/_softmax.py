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
def _forward(y, t):
    n, k = y.shape
    loss, probs = np.empty(n), np.empty_like(y)
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
    return loss, probs


@jit(reassociate=False)
def _backward(probs, t, scale, one):
    """``scale`` and ``one`` in ``probs``' dtype: the arithmetic stays in that dtype."""
    n, k = probs.shape
    dy = np.empty_like(probs)
    for i in range(n):
        for j in range(k):
            dy[i, j] = probs[i, j] * scale
        dy[i, t[i]] = (probs[i, t[i]] - one) * scale
    return dy


def softmax_xent_forward(y, t):
    """``(loss (N,) float64, probs (N, K))`` for C-contiguous ``y`` (N, K) and int64 labels ``t``
    (N,): the contract of the reference, ``kernels/ref/_softmax.py``."""
    return _forward(y, t)


def softmax_xent_backward(probs, t, scale):
    """``dy = (probs - onehot(t)) * scale``, shape (N, K), ``probs``' dtype."""
    f = probs.dtype.type
    return _backward(probs, t, f(scale), f(1.0))
