"""Optimizer updates, Cython: each rule one serial pass over the flat arrays, in place.

The public functions flatten the (C-contiguous) arrays; the typed loops take float32 or float64
memoryviews (fused ``floating``) and cast the hyperparameters, and the constants derived from
them (``1 - beta1``...), to that type once, so a float32 parameter is updated in float32
arithmetic as in the reference. No ``prange``: parameters are small, and a serial loop needs no
thread pool. Divisions by a per-step constant (``sqrt_bc2``, ``bc2``) are multiplications by
its reciprocal; built with ``-fno-math-errno`` (setup.py) so that ``sqrt`` vectorises.
"""

from cython cimport floating
from libc.math cimport sqrt, sqrtf


cdef inline floating _sqrt(floating x) noexcept nogil:
    """``sqrt`` in ``x``'s own precision (``sqrtf`` for float32: no round trip to double)."""
    if floating is float:
        return sqrtf(x)
    return sqrt(x)


cdef inline (floating, floating) _moments(
    floating m, floating v, floating g, floating b1, floating c1, floating b2, floating c2
) noexcept nogil:
    """Adam's ``(b1 * m + c1 * g, b2 * v + c2 * g * g)`` for one element."""
    return b1 * m + c1 * g, b2 * v + c2 * g * g


def _sgd(floating[::1] p, const floating[::1] g, double lr):
    cdef Py_ssize_t i
    cdef floating lr_ = <floating>lr
    with nogil:
        for i in range(p.shape[0]):
            p[i] -= lr_ * g[i]


def _momentum(
    floating[::1] p, const floating[::1] g, floating[::1] v, double lr, double momentum,
    bint nesterov
):
    cdef Py_ssize_t i
    cdef floating lr_ = <floating>lr, mu = <floating>momentum, step, vi
    with nogil:
        if nesterov:
            for i in range(p.shape[0]):
                step = lr_ * g[i]
                vi = mu * v[i] - step
                v[i] = vi
                p[i] += mu * vi - step
        else:
            for i in range(p.shape[0]):
                vi = mu * v[i] - lr_ * g[i]
                v[i] = vi
                p[i] += vi


def _scaled(
    floating[::1] p, const floating[::1] g, floating[::1] h, double lr, double rho, double c_rho,
    double eps
):
    """``h = rho * h + c_rho * g * g; p -= lr * g / (sqrt(h) + eps)`` (AdaGrad: rho = c_rho = 1)."""
    cdef Py_ssize_t i
    cdef floating lr_ = <floating>lr, r = <floating>rho, c = <floating>c_rho, e = <floating>eps
    cdef floating gi, hi
    with nogil:
        for i in range(p.shape[0]):
            gi = g[i]
            hi = r * h[i] + c * gi * gi
            h[i] = hi
            p[i] -= lr_ * gi / (_sqrt(hi) + e)


def _adadelta(
    floating[::1] p, const floating[::1] g, floating[::1] s, floating[::1] u, double lr,
    double rho, double c_rho, double eps
):
    cdef Py_ssize_t i
    cdef floating lr_ = <floating>lr, r = <floating>rho, c = <floating>c_rho, e = <floating>eps
    cdef floating gi, si, d
    with nogil:
        for i in range(p.shape[0]):
            gi = g[i]
            si = r * s[i] + c * gi * gi
            s[i] = si
            d = _sqrt(u[i] + e) / _sqrt(si + e) * gi
            u[i] = r * u[i] + c * d * d
            p[i] -= lr_ * d


def _adam(
    floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v, double step_size,
    double beta1, double beta2, double sqrt_bc2, double eps, double decay
):
    cdef Py_ssize_t i
    cdef floating a = <floating>step_size, b1 = <floating>beta1, c1 = <floating>(1.0 - beta1)
    cdef floating b2 = <floating>beta2, c2 = <floating>(1.0 - beta2)
    cdef floating inv_sq = <floating>(1.0 / sqrt_bc2), e = <floating>eps, dec = <floating>decay
    cdef floating mi, vi
    with nogil:
        for i in range(p.shape[0]):
            mi, vi = _moments(m[i], v[i], g[i], b1, c1, b2, c2)
            m[i] = mi
            v[i] = vi
            p[i] = p[i] * dec - a * mi / (_sqrt(vi) * inv_sq + e)


def _nadam(
    floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v, double coef_g,
    double coef_m, double beta1, double beta2, double bc2, double eps
):
    cdef Py_ssize_t i
    cdef floating cg = <floating>coef_g, cm = <floating>coef_m
    cdef floating b1 = <floating>beta1, c1 = <floating>(1.0 - beta1)
    cdef floating b2 = <floating>beta2, c2 = <floating>(1.0 - beta2)
    cdef floating inv_bc = <floating>(1.0 / bc2), e = <floating>eps
    cdef floating gi, mi, vi
    with nogil:
        for i in range(p.shape[0]):
            gi = g[i]
            mi, vi = _moments(m[i], v[i], gi, b1, c1, b2, c2)
            m[i] = mi
            v[i] = vi
            p[i] -= (cg * gi + cm * mi) / (_sqrt(vi * inv_bc) + e)


def sgd_update(p, g, lr):
    """``p -= lr * g``.

    Parameters
    ----------
    p, g : C-contiguous ndarrays of one shape and float dtype (``p`` updated in place)
    lr : float
    """
    _sgd(p.reshape(-1), g.reshape(-1), lr)  # (size,) views


def momentum_update(p, g, v, lr, momentum):
    """``v = momentum * v - lr * g; p += v``."""
    _momentum(p.reshape(-1), g.reshape(-1), v.reshape(-1), lr, momentum, False)


def nesterov_update(p, g, v, lr, momentum):
    """``v = momentum * v - lr * g; p += momentum * v - lr * g``."""
    _momentum(p.reshape(-1), g.reshape(-1), v.reshape(-1), lr, momentum, True)


def adagrad_update(p, g, h, lr, eps):
    """``h += g * g; p -= lr * g / (sqrt(h) + eps)``."""
    _scaled(p.reshape(-1), g.reshape(-1), h.reshape(-1), lr, 1.0, 1.0, eps)


def rmsprop_update(p, g, h, lr, rho, eps):
    """``h = rho * h + (1 - rho) * g * g; p -= lr * g / (sqrt(h) + eps)``."""
    _scaled(p.reshape(-1), g.reshape(-1), h.reshape(-1), lr, rho, 1.0 - rho, eps)


def adadelta_update(p, g, s, u, lr, rho, eps):
    """Adadelta with a learning-rate factor (see the reference)."""
    _adadelta(p.reshape(-1), g.reshape(-1), s.reshape(-1), u.reshape(-1), lr, rho, 1.0 - rho, eps)


def adam_update(p, g, m, v, step_size, beta1, beta2, sqrt_bc2, eps, decay=1.0):
    """Adam with bias correction after the decoupled decay ``p *= decay`` (see the reference)."""
    flat = [a.reshape(-1) for a in (p, g, m, v)]  # (size,) views
    _adam(*flat, step_size, beta1, beta2, sqrt_bc2, eps, decay)


def nadam_update(p, g, m, v, coef_g, coef_m, beta1, beta2, bc2, eps):
    """Nadam (see the reference)."""
    flat = [a.reshape(-1) for a in (p, g, m, v)]  # (size,) views
    _nadam(*flat, coef_g, coef_m, beta1, beta2, bc2, eps)
