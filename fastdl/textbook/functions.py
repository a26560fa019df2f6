"""The textbook's ``common/functions.py``: activations and losses on NumPy arrays.

These are small elementwise formulas on (N, D) arrays; they stay in NumPy so that they give the
textbook's numbers exactly, for any input NumPy accepts (lists, integer arrays).
"""

import numpy as np

__all__ = [
    "identity_function",
    "step_function",
    "sigmoid",
    "sigmoid_grad",
    "relu",
    "relu_grad",
    "softmax",
    "sum_squared_error",
    "cross_entropy_error",
    "softmax_loss",
]


def identity_function(x):
    """Return ``x`` itself."""
    return x


def step_function(x):
    """1 where ``x > 0``, else 0, as an integer array of the shape of ``x``."""
    return (np.asarray(x) > 0).astype(int)


def sigmoid(x):
    """``1 / (1 + exp(-x))`` elementwise."""
    return 1 / (1 + np.exp(-x))


def sigmoid_grad(x):
    """Derivative of :func:`sigmoid` at ``x``: ``(1 - s) * s``."""
    s = sigmoid(x)
    return (1.0 - s) * s


def relu(x):
    """``max(0, x)`` elementwise."""
    return np.maximum(0, x)


def relu_grad(x):
    """1 where ``x >= 0`` (the textbook's convention: 1 at 0), else 0, in the dtype of ``x``."""
    x = np.asarray(x)
    return (x >= 0).astype(x.dtype)


def softmax(x):
    """Softmax over the last axis (one sample of shape (D,) or a batch of shape (N, D)).

    The row maximum is subtracted first, so large inputs do not overflow.
    """
    shifted = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def sum_squared_error(y, t):
    """``0.5 * sum((y - t)**2)`` over all elements."""
    return 0.5 * np.sum((y - t) ** 2)


def cross_entropy_error(y, t):
    """Mean cross-entropy of probabilities ``y`` against labels or one-hot targets ``t``.

    Parameters
    ----------
    y : ndarray of shape (N, D) or (D,)
        Probabilities (e.g. from :func:`softmax`).
    t : ndarray of shape (N,) or () with class labels, or of the shape of ``y`` (one-hot)

    Returns
    -------
    loss : scalar, ``-sum(log(y[n, t[n]] + 1e-7)) / N``
    """
    if y.ndim == 1:  # one sample: a batch of one
        y = y.reshape(1, -1)  # (1, D)
        t = np.reshape(t, (1, -1))  # (1, D) one-hot or (1, 1) label
    if np.size(t) == y.size:  # one-hot: take the index of the 1
        t = np.argmax(t, axis=1)  # (N,)
    t = np.reshape(t, -1)  # (N,)
    n = y.shape[0]
    return -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n


def softmax_loss(X, t):
    """``cross_entropy_error(softmax(X), t)``."""
    return cross_entropy_error(softmax(X), t)
