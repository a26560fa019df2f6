"""Fused bias + activation, Cython: ``act(x + b)`` and its gradient, one pass each.

Layout: ``x`` is viewed as (outer, C, inner) around ``axis``. With ``inner == 1`` (bias along the
last axis, e.g. a Dense layer's (N, D)) every row of length C gets the bias vector; otherwise every
(outer, c) segment of length ``inner`` gets the scalar ``b[c]``; without a bias the flat array is
cut into segments of ``_SEG`` elements. Threads (OpenMP ``prange``, ``threads_for``) take whole
rows, blocks of rows or segments, and ``db`` is reduced race-free: each block of rows (or each
segment) has its own row of partial sums, added up by NumPy at the end.

The element loops (``_act.pxi``) are compiled three times: here for the baseline instruction set,
and in ``_bias_act_avx2`` / ``_bias_act_avx512`` for x86-64 CPUs with AVX2 + FMA or AVX-512. The
transcendental activations are compute-bound, and SSE2 (the x86-64 baseline) runs them 3-5 times
slower than AVX-512. ``_LOOPS`` is the best of the three that this CPU runs.
"""

import importlib
import math

import numpy as np

from .._common import ACTIVATIONS
from .._threads import threads_for

include "_act.pxi"

cdef extern from *:
    """
    /* 2: AVX-512F, 1: AVX2 + FMA, 0: neither or not an x86-64 GCC/clang build */
    static int fastdl_simd_level(void) {
    #if defined(__GNUC__) && defined(__x86_64__)
        __builtin_cpu_init();
        if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
        return __builtin_cpu_supports("avx512f") ? 2 : 1;
    #else
        return 0;
    #endif
    }
    """
    int _simd_level "fastdl_simd_level"() noexcept nogil

_CODES = {name: code for code, name in enumerate(_NAMES)}
_SEG = 4096  # segment length without a bias
_BLOCKS = 16  # row blocks (rows of partial db sums) when the bias runs along the last axis
# (one block when the loop runs serially)


# the loop modules by SIMD level (index = fastdl_simd_level()); _LOOPS: the one this CPU runs
_VARIANTS = ("_bias_act", "_bias_act_avx2", "_bias_act_avx512")
_LOOPS = importlib.import_module(f"{__package__}.{_VARIANTS[_simd_level()]}")


def bias_act_forward(x, b, act, axis=1, **act_params):
    """``y = act(x + b)``.

    Parameters
    ----------
    x : C-contiguous float32 or float64 ndarray of any shape, e.g. (N, D) or (N, C, H, W)
    b : ndarray of shape (x.shape[axis],) or None
    act : str
        Canonical activation name (a key of ``ACTIVATIONS``).
    axis : int
        Axis of ``x`` that ``b`` runs along.
    **act_params
        ``alpha`` for leaky_relu and elu, ``n`` for hswish; missing ones take the defaults.

    Returns
    -------
    y : ndarray of the shape and dtype of ``x``
    """
    y = np.empty_like(x)
    code, p = _code_param(act, act_params)
    b1 = np.zeros(1, dtype=x.dtype) if b is None else b
    for lo, hi, m, rows in _pieces(x, b, axis):
        nt = threads_for(hi - lo)
        _LOOPS._forward_code(code, _piece(x, lo, hi, m), b1, _piece(y, lo, hi, m), rows, p, nt)
    return y


def bias_act_backward(dy, x, b, act, axis=1, **act_params):
    """Gradients of ``bias_act_forward``; recomputes ``x + b``.

    Parameters
    ----------
    dy, x : C-contiguous ndarrays of the same shape and dtype
    b : ndarray of shape (x.shape[axis],) or None

    Returns
    -------
    dx : ndarray of the shape and dtype of ``x``
    db : ndarray of shape (x.shape[axis],), or None when ``b`` is None
    """
    dx = np.empty_like(x)
    db = None if b is None else np.zeros_like(b)
    code, p = _code_param(act, act_params)
    b1 = np.zeros(1, dtype=x.dtype) if b is None else b
    for lo, hi, m, rows in _pieces(x, b, axis):
        x2 = _piece(x, lo, hi, m)  # (rows, m)
        nt = threads_for(hi - lo)
        blocks = min(_BLOCKS if nt > 1 else 1, x2.shape[0])
        if b is None:
            part = np.empty((0, 1), dtype=x.dtype)  # no sums wanted
        elif rows:
            part = np.zeros((blocks, m), dtype=x.dtype)  # one per row block
        else:
            part = np.empty((x2.shape[0], 1), dtype=x.dtype)  # one per (outer, c) segment
        _LOOPS._backward_code(
            code, _piece(dy, lo, hi, m), x2, b1, _piece(dx, lo, hi, m), part, rows, p, nt
        )
        if b is not None:
            db = part[0] if rows and blocks == 1 else part.reshape(-1, b.shape[0]).sum(axis=0)
    return dx, db


def _code_param(act, act_params):
    """The activation's code and its one parameter (alpha or n; 0 when it has none)."""
    params = {**ACTIVATIONS[act], **act_params}
    return _CODES[act], float(next(iter(params.values()), 0.0))


def _pieces(x, b, axis):
    """``[(lo, hi, m, rows)]``: flat ``x[lo:hi]`` as rows of ``m``; one or two pieces cover ``x``.

    ``rows``: ``b`` is added along each row; otherwise ``b[r % len(b)]`` to all of row ``r``.
    """
    if b is None:  # segments of _SEG elements, then the remainder
        body = x.size - x.size % _SEG
        cuts = ((0, body, _SEG), (body, x.size, x.size - body))
        return [(lo, hi, m, False) for lo, hi, m in cuts if hi > lo]
    if x.size == 0:
        return []
    inner = x.size // math.prod(x.shape[: axis + 1])
    return [(0, x.size, x.shape[axis] if inner == 1 else inner, inner == 1)]


def _piece(a, lo, hi, m):
    """Flat ``a[lo:hi]`` viewed as rows of ``m``: shape ``((hi - lo) // m, m)``."""
    if lo == 0 and hi == a.size:
        return a.reshape(-1, m)  # (size // m, m)
    return a.reshape(-1)[lo:hi].reshape(-1, m)  # (rows, m)
