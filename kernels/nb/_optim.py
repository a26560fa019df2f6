"""Optimizer updates, Numba: each rule one serial pass over the flat arrays, in place.

The public functions flatten the (C-contiguous) arrays and cast the hyperparameters, and the
constants derived from them (``1 - beta1``...), to the parameter's dtype once, so a float32
parameter is updated in float32 arithmetic as in the reference. No ``prange``: parameters are
small, and a serial loop needs no thread pool. No ``reassoc``: nothing here is a reduction, and LLVM
must not regroup the products of the formulas.
"""

import numpy as np

from ._config import jit


@jit(reassociate=False)
def _sgd(p, g, lr):
    for i in range(p.size):
        p[i] -= lr * g[i]


@jit(reassociate=False)
def _momentum(p, g, v, lr, momentum, nesterov):
    for i in range(p.size):
        step = lr * g[i]
        vi = momentum * v[i] - step
        v[i] = vi
        p[i] += momentum * vi - step if nesterov else vi


@jit(reassociate=False)
def _scaled(p, g, h, lr, rho, c_rho, eps):
    """``h = rho * h + c_rho * g * g; p -= lr * g / (sqrt(h) + eps)`` (AdaGrad: rho = c_rho = 1)."""
    for i in range(p.size):
        gi = g[i]
        hi = rho * h[i] + c_rho * gi * gi
        h[i] = hi
        p[i] -= lr * gi / (np.sqrt(hi) + eps)


@jit(reassociate=False)
def _adadelta(p, g, s, u, lr, rho, c_rho, eps):
    for i in range(p.size):
        gi = g[i]
        si = rho * s[i] + c_rho * gi * gi
        s[i] = si
        d = np.sqrt(u[i] + eps) / np.sqrt(si + eps) * gi
        u[i] = rho * u[i] + c_rho * d * d
        p[i] -= lr * d


@jit(reassociate=False, inline=True)
def _moments(m, v, g, beta1, c1, beta2, c2):
    """Adam's ``(beta1 * m + c1 * g, beta2 * v + c2 * g * g)`` for one element."""
    return beta1 * m + c1 * g, beta2 * v + c2 * g * g


@jit(reassociate=False)
def _adam(p, g, m, v, step_size, beta1, c1, beta2, c2, sqrt_bc2, eps, decay):
    for i in range(p.size):
        mi, vi = _moments(m[i], v[i], g[i], beta1, c1, beta2, c2)
        m[i], v[i] = mi, vi
        p[i] = p[i] * decay - step_size * mi / (np.sqrt(vi) / sqrt_bc2 + eps)


@jit(reassociate=False)
def _nadam(p, g, m, v, coef_g, coef_m, beta1, c1, beta2, c2, bc2, eps):
    for i in range(p.size):
        gi = g[i]
        mi, vi = _moments(m[i], v[i], gi, beta1, c1, beta2, c2)
        m[i], v[i] = mi, vi
        p[i] -= (coef_g * gi + coef_m * mi) / (np.sqrt(vi / bc2) + eps)


def _flat(*arrays):
    return [a.reshape(-1) for a in arrays]  # (size,) views of C-contiguous arrays


def sgd_update(p, g, lr):
    """``p -= lr * g``.

    Parameters
    ----------
    p, g : C-contiguous ndarrays of one shape and float dtype (``p`` updated in place)
    lr : float
    """
    _sgd(*_flat(p, g), p.dtype.type(lr))


def momentum_update(p, g, v, lr, momentum):
    """``v = momentum * v - lr * g; p += v``."""
    f = p.dtype.type
    _momentum(*_flat(p, g, v), f(lr), f(momentum), False)


def nesterov_update(p, g, v, lr, momentum):
    """``v = momentum * v - lr * g; p += momentum * v - lr * g``."""
    f = p.dtype.type
    _momentum(*_flat(p, g, v), f(lr), f(momentum), True)


def adagrad_update(p, g, h, lr, eps):
    """``h += g * g; p -= lr * g / (sqrt(h) + eps)``."""
    f = p.dtype.type
    _scaled(*_flat(p, g, h), f(lr), f(1.0), f(1.0), f(eps))


def rmsprop_update(p, g, h, lr, rho, eps):
    """``h = rho * h + (1 - rho) * g * g; p -= lr * g / (sqrt(h) + eps)``."""
    f = p.dtype.type
    _scaled(*_flat(p, g, h), f(lr), f(rho), f(1.0 - rho), f(eps))


def adadelta_update(p, g, s, u, lr, rho, eps):
    """Adadelta with a learning-rate factor (see the reference)."""
    f = p.dtype.type
    _adadelta(*_flat(p, g, s, u), f(lr), f(rho), f(1.0 - rho), f(eps))


def adam_update(p, g, m, v, step_size, beta1, beta2, sqrt_bc2, eps, decay=1.0):
    """Adam with bias correction after the decoupled decay ``p *= decay`` (see the reference)."""
    f = p.dtype.type
    hyper = (step_size, beta1, 1.0 - beta1, beta2, 1.0 - beta2, sqrt_bc2, eps, decay)
    _adam(*_flat(p, g, m, v), *map(f, hyper))


def nadam_update(p, g, m, v, coef_g, coef_m, beta1, beta2, bc2, eps):
    """Nadam (see the reference)."""
    f = p.dtype.type
    hyper = (coef_g, coef_m, beta1, 1.0 - beta1, beta2, 1.0 - beta2, bc2, eps)
    _nadam(*_flat(p, g, m, v), *map(f, hyper))
