"""Softmax + cross-entropy with integer labels, Cython: one serial pass per row and direction.

Forward, per row: the maximum, then ``exp(y - max)`` written into ``probs`` and summed in double,
then ``probs`` times the double reciprocal of the sum; the loss ``max - y[t] + log(sum)`` in double
(float32 logits of +-3e38 give a finite loss). A difference below the dtype's range is ``-inf``,
whose ``exp`` is 0, as in the reference. float32 ``exp`` is the activations' inline, vectorisable
one (``_fmath.pxi``, about 1 ulp), float64 libm's.
"""

from cython cimport floating
from libc.math cimport log
from libc.stdint cimport int64_t

import numpy as np

include "_fmath.pxi"


def _forward(
    const floating[:, ::1] y, const int64_t[::1] t, double[::1] loss, floating[:, ::1] probs
):
    cdef Py_ssize_t i, j, n = y.shape[0], k = y.shape[1]
    cdef floating top
    cdef double total, inv
    with nogil:
        for i in range(n):
            top = y[i, 0]
            for j in range(1, k):
                top = y[i, j] if y[i, j] > top else top
            total = 0.0
            for j in range(k):  # vectorises; the sum below is sequential (no reassociation)
                probs[i, j] = _exp(y[i, j] - top)
            for j in range(k):
                total += probs[i, j]
            inv = 1.0 / total
            for j in range(k):
                probs[i, j] = <floating>(probs[i, j] * inv)
            loss[i] = <double>top - <double>y[i, t[i]] + log(total)


def _backward(
    const floating[:, ::1] probs, const int64_t[::1] t, double scale, floating[:, ::1] dy
):
    cdef Py_ssize_t i, j
    cdef floating s = <floating>scale
    with nogil:
        for i in range(probs.shape[0]):
            for j in range(probs.shape[1]):
                dy[i, j] = probs[i, j] * s
            dy[i, t[i]] = (probs[i, t[i]] - 1) * s


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
    _backward(probs, t, scale, dy)
    return dy
