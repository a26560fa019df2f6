"""Optimizer updates, NumPy reference: each rule of ``fastdl.optimizers`` as the textbook writes it.

Every function updates the parameter ``p`` and its state arrays (``v``, ``h``, ``m``...) *in
place* and returns None: this family's exception to "kernels never mutate their inputs". The
gradient ``g`` is only read. All arrays have one shape and one float dtype; the hyperparameters
are Python floats, so NumPy computes in the parameter's dtype (float32 stays float32).
"""

import numpy as np


def sgd_update(p, g, lr):
    """``p -= lr * g``.

    Parameters
    ----------
    p, g : ndarrays of one shape and float dtype (``p`` updated in place)
    lr : float
    """
    p -= lr * g


def momentum_update(p, g, v, lr, momentum):
    """``v = momentum * v - lr * g; p += v``."""
    v[...] = momentum * v - lr * g
    p += v


def nesterov_update(p, g, v, lr, momentum):
    """``v = momentum * v - lr * g; p += momentum * v - lr * g``."""
    v[...] = momentum * v - lr * g
    p += momentum * v - lr * g


def adagrad_update(p, g, h, lr, eps):
    """``h += g * g; p -= lr * g / (sqrt(h) + eps)``."""
    h += g * g
    p -= lr * g / (np.sqrt(h) + eps)


def rmsprop_update(p, g, h, lr, rho, eps):
    """``h = rho * h + (1 - rho) * g * g; p -= lr * g / (sqrt(h) + eps)``."""
    h[...] = rho * h + (1.0 - rho) * g * g
    p -= lr * g / (np.sqrt(h) + eps)


def adadelta_update(p, g, s, u, lr, rho, eps):
    """Adadelta with a learning-rate factor::

    s = rho * s + (1 - rho) * g * g
    d = sqrt(u + eps) / sqrt(s + eps) * g
    u = rho * u + (1 - rho) * d * d
    p -= lr * d
    """
    s[...] = rho * s + (1.0 - rho) * g * g
    d = np.sqrt(u + eps) / np.sqrt(s + eps) * g
    u[...] = rho * u + (1.0 - rho) * d * d
    p -= lr * d


def adam_update(p, g, m, v, step_size, beta1, beta2, sqrt_bc2, eps, decay=1.0):
    """Adam with bias correction, after AdamW's decoupled decay ``p *= decay``::

    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    p -= step_size * m / (sqrt(v) / sqrt_bc2 + eps)

    i.e. ``p -= lr * m_hat / (sqrt(v_hat) + eps)`` with ``step_size = lr / (1 - beta1**t)``
    and ``sqrt_bc2 = sqrt(1 - beta2**t)``. ``decay = 1 - lr * weight_decay`` for AdamW's
    decaying parameters, 1 otherwise.
    """
    p *= decay
    m[...] = beta1 * m + (1.0 - beta1) * g
    v[...] = beta2 * v + (1.0 - beta2) * g * g
    p -= step_size * m / (np.sqrt(v) / sqrt_bc2 + eps)


def nadam_update(p, g, m, v, coef_g, coef_m, beta1, beta2, bc2, eps):
    """Nadam: Adam's moments, then a step along both ``g`` and ``m``::

    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    p -= (coef_g * g + coef_m * m) / (sqrt(v / bc2) + eps)

    with ``coef_g = lr * (1 - mu_t) / (1 - P_t)``, ``coef_m = lr * mu_(t+1) / (1 - P_(t+1))``
    and ``bc2 = 1 - beta2**t`` (see ``fastdl.optimizers.Nadam``).
    """
    m[...] = beta1 * m + (1.0 - beta1) * g
    v[...] = beta2 * v + (1.0 - beta2) * g * g
    p -= (coef_g * g + coef_m * m) / (np.sqrt(v / bc2) + eps)
