"""Softmax + cross-entropy with integer labels, NumPy reference.

Forward: ``probs = exp(y - max) / sum(exp(y - max))`` per row, and the loss
``-log(probs[i, t_i]) = max_i - y[i, t_i] + log(sum_k exp(y_ik - max_i))``, every term taken in
float64 so that float32 logits of +-3e38 give a finite loss. Backward: ``(probs - onehot(t)) *
scale``.
"""

import numpy as np


def softmax_xent_forward(y, t):
    """Per-sample cross-entropy of softmax(y) against labels ``t``, and the softmax itself.

    Parameters
    ----------
    y : C-contiguous float32 or float64 ndarray of shape (N, K)
        Logits.
    t : C-contiguous int64 ndarray of shape (N,)
        Labels in [0, K).

    Returns
    -------
    loss : float64 ndarray of shape (N,)
    probs : ndarray of shape (N, K), ``y``'s dtype
    """
    m = y.max(axis=1, keepdims=True)  # (N, 1)
    with np.errstate(over="ignore"):  # y - m below the dtype's range: -inf, whose exp is 0
        e = np.exp(y - m)  # (N, K)
    total = e.sum(axis=1, keepdims=True)  # (N, 1)
    probs = e / total
    picked = y[np.arange(len(t)), t].astype(np.float64)  # (N,)
    loss = m[:, 0].astype(np.float64) - picked + np.log(total[:, 0]).astype(np.float64)
    return loss, probs


def softmax_xent_backward(probs, t, scale):
    """Gradient of ``scale * sum_i loss_i`` with respect to the logits.

    Parameters
    ----------
    probs : C-contiguous float32 or float64 ndarray of shape (N, K)
        The softmax returned by :func:`softmax_xent_forward`.
    t : C-contiguous int64 ndarray of shape (N,)
    scale : float
        E.g. ``dout / N`` for the mean loss.

    Returns
    -------
    dy : ndarray of shape (N, K), ``probs``' dtype: ``(probs - onehot(t)) * scale``
    """
    dy = probs.copy()
    dy[np.arange(len(t)), t] -= 1
    dy *= scale
    return dy
