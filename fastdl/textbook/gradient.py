"""The textbook's ``common/gradient.py``: numerical gradients by central differences."""

import numpy as np
from tqdm.auto import tqdm

__all__ = ["numerical_gradient"]

_H = 1e-4  # the textbook's step


def _flat_view(x):
    """A 1-D view of ``x`` in memory order (the order of ``np.nditer``), or None if none exists."""
    if x.flags.c_contiguous:
        return x.reshape(-1)  # (x.size,) C order
    if x.flags.f_contiguous:
        return x.T.reshape(-1)  # (x.size,) Fortran order
    return None


def numerical_gradient(f, x):
    """Central-difference gradient ``(f(x + h e_i) - f(x - h e_i)) / (2h)``, h = 1e-4.

    Like the textbook's, it changes ``x`` in place, one element at a time, calls ``f(x)`` twice
    per element and restores the element exactly, so ``f`` may ignore its argument and read the
    same array through a network's ``params`` (``lambda W: net.loss(x, t)``). Elements are visited
    in memory order, as ``np.nditer`` visits them (which matters only if ``f`` draws random
    numbers). Faster than the textbook's ``np.nditer`` loop: elements are reached through a flat
    view and the differences are taken in one vectorised pass at the end; the ``2 * x.size`` calls
    of ``f`` remain. A progress bar appears on a terminal for large ``x``.

    To check the backward pass of a layer, :func:`fastdl.gradcheck` is the better tool: it works
    on float64 copies, never changes your arrays, and reports which elements disagree and why.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a scalar.
    x : float ndarray of any shape, writeable

    Returns
    -------
    grad : ndarray of the shape and dtype of ``x``
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        what = type(x).__name__ if not isinstance(x, np.ndarray) else f"dtype {x.dtype}"
        raise TypeError(
            f"numerical_gradient: x must be a float ndarray (changed in place), got {what}"
        )
    flat = _flat_view(x)
    if flat is None:  # strided x: visit its multi-indices in np.nditer's order
        it = np.nditer(x, flags=["multi_index"])
        idx = [it.multi_index for _ in it]
        get, put = (lambda k: x[idx[k]]), (lambda k, val: x.__setitem__(idx[k], val))
    else:
        get, put = flat.__getitem__, flat.__setitem__
    plus, minus = np.empty(x.size), np.empty(x.size)
    bar = tqdm(range(x.size), desc="numerical_gradient", leave=False, disable=x.size < 1000 or None)
    for k in bar:
        old = get(k)
        put(k, float(old) + _H)
        plus[k] = f(x)
        put(k, float(old) - _H)
        minus[k] = f(x)
        put(k, old)
    diff = (plus - minus) / (2 * _H)  # (x.size,) in visiting order
    grad = np.zeros_like(x)
    if flat is None:
        for k, i in enumerate(idx):
            grad[i] = diff[k]
    else:
        _flat_view(grad)[...] = diff  # zeros_like keeps the layout of x
    return grad
