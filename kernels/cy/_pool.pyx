"""Max and average pooling, Cython: one pass per direction, no im2col matrix.

Every loop gives each thread whole ``(n, c)`` planes (OpenMP ``prange``, ``threads_for``), so
the backward passes never have two threads adding into one element. The forward passes update a
whole output row per window offset ``(i, j)``, visiting the offsets in row-major order and only
the real pixels; the updates are branch-free selects that vectorise. Max pooling starts from
``-inf`` with index 0, which is what the reference's ``-inf`` padding gives (padding can only tie,
never win, since ``pad <= k // 2``), and keeps the first maximum in row-major window order (the
first NaN, like ``np.argmax``). Max backward takes the windows in decreasing ``(oh, ow)`` order, so
each pixel receives its terms in increasing window offset ``(i, j)``, the reference's col2im order:
it is bit-identical to the reference. Average backward uses that windows are separable (rows
times columns) and sums in its own order.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY
from libc.stdint cimport int32_t, int64_t

import numpy as np

from .._common import is_2x2_tiling
from .._common import pool_backward_setup as _backward_setup
from .._common import pool_geometry as _geometry
from .._threads import threads_for

include "_util.pxi"
include "_pool_2x2.pxi"


def maxpool2d_forward(x, kh, kw, stride=None, pad=0):
    """Max pooling.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), C-contiguous float32 or float64
    kh, kw : int
    stride : int or (int, int) or None
        Defaults to the window size.
    pad : int or (int, int)

    Returns
    -------
    y : ndarray of shape (N, C, OH, OW)
    argmax : int64 ndarray of shape (N, C, OH, OW)
        Window-local flat index ``i*kw + j`` of each maximum.
    """
    sh, sw, ph, pw, oh, ow = _geometry(x.shape, kh, kw, stride, pad)
    y = np.empty((*x.shape[:2], oh, ow), dtype=x.dtype)
    argmax = np.empty(y.shape, dtype=np.int64)
    if is_2x2_tiling(kh, kw, sh, sw, ph, pw):
        _max_forward_2x2(x, y, argmax, threads_for(x.size))
    else:
        scratch = np.empty((y.shape[0] * y.shape[1], ow), dtype=np.int32)  # (N*C, OW)
        _max_forward(x, y, argmax, scratch, kh, kw, sh, sw, ph, pw, threads_for(x.size))
    return y, argmax


def maxpool2d_backward(dy, argmax, x_shape, kh, kw, stride=None, pad=0):
    """Route ``dy`` to the maxima recorded in ``argmax``.

    Parameters
    ----------
    dy : ndarray of shape (N, C, OH, OW), C-contiguous float32 or float64
    argmax : C-contiguous int64 ndarray of shape (N, C, OH, OW), values in [0, kh*kw)
    x_shape : tuple (N, C, H, W)

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    dx, fast, (sh, sw, ph, pw) = _backward_setup(x_shape, dy.dtype, kh, kw, stride, pad)
    if fast:
        _max_backward_2x2(dy, argmax, dx, threads_for(dx.size))
    else:
        _max_backward(dy, argmax, dx, kh, kw, sh, sw, ph, pw, threads_for(dx.size))
    return dx


def avgpool2d_forward(x, kh, kw, stride=None, pad=0):
    """Average pooling (padding counts as zeros; divisor always ``kh*kw``).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), C-contiguous float32 or float64

    Returns
    -------
    y : ndarray of shape (N, C, OH, OW)
    """
    sh, sw, ph, pw, oh, ow = _geometry(x.shape, kh, kw, stride, pad)
    y = np.empty((*x.shape[:2], oh, ow), dtype=x.dtype)
    if is_2x2_tiling(kh, kw, sh, sw, ph, pw):
        _avg_forward_2x2(x, y, threads_for(x.size))
    else:
        _avg_forward(x, y, kh, kw, sh, sw, ph, pw, threads_for(x.size))
    return y


def avgpool2d_backward(dy, x_shape, kh, kw, stride=None, pad=0):
    """Spread ``dy / (kh*kw)`` evenly over each window.

    Parameters
    ----------
    dy : ndarray of shape (N, C, OH, OW), C-contiguous float32 or float64
    x_shape : tuple (N, C, H, W)

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    dx, fast, (sh, sw, ph, pw) = _backward_setup(x_shape, dy.dtype, kh, kw, stride, pad)
    if fast:
        _avg_backward_2x2(dy, dx, threads_for(dx.size))
        return dx
    n, c, _, ow = dy.shape
    scratch = np.empty((n * c, ow + dx.shape[3]), dtype=dy.dtype)  # (N*C, OW + W)
    _avg_backward(dy, dx, scratch, kh, kw, sh, sw, ph, pw, threads_for(dx.size))
    return dx


cdef inline void _max_step(floating v, floating* m, int32_t* a, int32_t k) noexcept nogil:
    """``m, a = v, k`` if ``v`` is a new maximum (or the first NaN); branch-free."""
    cdef bint better = (v > m[0]) | ((v != v) & (m[0] == m[0]))
    m[0] = v if better else m[0]
    a[0] = k if better else a[0]


cdef inline void _max_update(
    const floating* pix, Py_ssize_t sw, Py_ssize_t j0, Py_ssize_t lo, Py_ssize_t hi, int32_t k,
    floating* ym, int32_t* am,
) noexcept nogil:
    """``_max_step(pix[ox*sw + j0], ...)`` for ``lo <= ox < hi``; strides 1 and 2 vectorise."""
    cdef Py_ssize_t ox
    if sw == 1:
        for ox in range(lo, hi):
            _max_step(pix[ox + j0], ym + ox, am + ox, k)
    elif sw == 2:
        for ox in range(lo, hi):
            _max_step(pix[2 * ox + j0], ym + ox, am + ox, k)
    else:
        for ox in range(lo, hi):
            _max_step(pix[ox * sw + j0], ym + ox, am + ox, k)


def _max_forward(
    const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y, int64_t[:, :, :, ::1] argmax,
    int32_t[:, ::1] scratch,
    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
    int nt,
):
    """Fill ``y`` and ``argmax (N, C, OH, OW)`` from ``x (N, C, H, W)``; one thread per plane.

    An output row is updated one window offset ``(i, j)`` at a time, all its columns at once, with
    branch-free selects that vectorise; its argmax row is kept in ``scratch[plane]`` (N*C, OW) as
    int32 (int64 selects on float compares do not vectorise on SSE2), then widened.
    """
    cdef Py_ssize_t c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t oh = y.shape[2], ow = y.shape[3]
    cdef Py_ssize_t t, b, ci, oy, ox, i0, i1, i, j
    cdef const floating* pix  # pixel row oy*sh - ph + i; column ox*sw + j - pw
    cdef floating* ym  # y[b, ci, oy]
    cdef int32_t* am  # argmax row, int32
    fits(scratch.shape[1] >= ow, "scratch must have OW columns")
    for t in prange(x.shape[0] * c, nogil=True, schedule="static", num_threads=nt):
        b = t // c
        ci = t % c
        am = &scratch[t, 0]
        for oy in range(oh):
            ym = &y[b, ci, oy, 0]
            for ox in range(ow):
                ym[ox] = -INFINITY
                am[ox] = 0
            i0, i1 = span(oy * sh - ph, kh, h)
            for i in range(i0, i1):
                pix = &x[b, ci, oy * sh - ph + i, 0]
                for j in range(kw):
                    _max_update(
                        pix, sw, j - pw, first(pw - j, sw, ow), first(w + pw - j, sw, ow),
                        i * kw + j, ym, am,
                    )
            for ox in range(ow):
                argmax[b, ci, oy, ox] = am[ox]

def _max_backward(
    const floating[:, :, :, ::1] dy, const int64_t[:, :, :, ::1] argmax,
    floating[:, :, :, ::1] dx,
    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
    int nt,
):
    """Add ``dy`` into the zeroed ``dx`` at the maxima; one thread per plane, windows reversed."""
    cdef Py_ssize_t c = dx.shape[1], h = dx.shape[2], w = dx.shape[3]
    cdef Py_ssize_t oh = dy.shape[2], ow = dy.shape[3]
    cdef Py_ssize_t t, b, ci, oy, ox, a, yy, xx
    cdef Py_ssize_t[::1] di = np.arange(kh * kw) // kw  # window index -> row, column
    cdef Py_ssize_t[::1] dj = np.arange(kh * kw) % kw
    cdef const int64_t* arow
    cdef const floating* grow
    cdef floating* plane  # dx[b, ci]
    fits(argmax.shape[3] == ow, "argmax rows must be as long as dy's")
    for t in prange(dx.shape[0] * c, nogil=True, schedule="static", num_threads=nt):
        b = t // c
        ci = t % c
        plane = &dx[b, ci, 0, 0]
        for oy in range(oh - 1, -1, -1):
            arow = &argmax[b, ci, oy, 0]
            grow = &dy[b, ci, oy, 0]
            for ox in range(ow - 1, -1, -1):
                a = arow[ox]
                yy = oy * sh - ph + di[a]
                xx = ox * sw - pw + dj[a]
                if (0 <= yy < h) & (0 <= xx < w):
                    plane[yy * w + xx] += grow[ox]


cdef inline void _gather_add(
    const floating* pix, Py_ssize_t sw, Py_ssize_t j0, Py_ssize_t lo, Py_ssize_t hi,
    floating* acc,
) noexcept nogil:
    """``acc[ox] += pix[ox*sw + j0]`` for ``lo <= ox < hi``; strides 1 and 2 vectorise."""
    cdef Py_ssize_t ox
    if sw == 1:
        for ox in range(lo, hi):
            acc[ox] += pix[ox + j0]
    elif sw == 2:
        for ox in range(lo, hi):
            acc[ox] += pix[2 * ox + j0]
    else:
        for ox in range(lo, hi):
            acc[ox] += pix[ox * sw + j0]


cdef inline void _scatter_add(
    floating* pix, Py_ssize_t sw, Py_ssize_t j0, Py_ssize_t lo, Py_ssize_t hi,
    const floating* val,
) noexcept nogil:
    """``pix[ox*sw + j0] += val[ox]`` for ``lo <= ox < hi`` (distinct targets: any order)."""
    cdef Py_ssize_t ox
    if sw == 1:
        for ox in range(lo, hi):
            pix[ox + j0] += val[ox]
    elif sw == 2:
        for ox in range(lo, hi):
            pix[2 * ox + j0] += val[ox]
    else:
        for ox in range(lo, hi):
            pix[ox * sw + j0] += val[ox]


def _avg_forward(
    const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
    int nt,
):
    """Fill ``y (N, C, OH, OW)`` with window sums of ``x`` over ``kh*kw``; one thread per plane.

    Like ``_max_forward``, a row at a time; each sum runs in row-major window order.
    """
    cdef Py_ssize_t c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t oh = y.shape[2], ow = y.shape[3]
    cdef Py_ssize_t t, b, ci, oy, ox, i0, i1, i, j
    cdef floating area = kh * kw
    cdef const floating* pix  # pixel row oy*sh - ph + i
    cdef floating* ym  # y[b, ci, oy]
    for t in prange(x.shape[0] * c, nogil=True, schedule="static", num_threads=nt):
        b = t // c
        ci = t % c
        for oy in range(oh):
            ym = &y[b, ci, oy, 0]
            for ox in range(ow):
                ym[ox] = 0
            i0, i1 = span(oy * sh - ph, kh, h)
            for i in range(i0, i1):
                pix = &x[b, ci, oy * sh - ph + i, 0]
                for j in range(kw):
                    _gather_add(
                        pix, sw, j - pw, first(pw - j, sw, ow), first(w + pw - j, sw, ow), ym
                    )
            for ox in range(ow):
                ym[ox] = ym[ox] / area


def _avg_backward(
    const floating[:, :, :, ::1] dy, floating[:, :, :, ::1] dx, floating[:, ::1] scratch,
    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
    int nt,
):
    """Add ``dy / (kh*kw)`` over each window of the zeroed ``dx``; one thread per plane.

    Windows are separable: an output row's shares are first spread along one pixel row (``kw``
    strided adds into ``scratch[plane, OW:]``), which is then added to the ``kh`` pixel rows of
    the window (contiguous, vectorised). ``scratch (N*C, OW + W)`` also holds the shares.
    """
    cdef Py_ssize_t c = dx.shape[1], h = dx.shape[2], w = dx.shape[3]
    cdef Py_ssize_t oh = dy.shape[2], ow = dy.shape[3]
    cdef Py_ssize_t t, b, ci, oy, ox, xx, i0, i1, i, j
    cdef floating area = kh * kw
    cdef floating* share  # dy[b, ci, oy] / (kh*kw)
    cdef floating* spread  # the shares spread along one pixel row
    cdef floating* pix  # pixel row oy*sh - ph + i of dx[b, ci]
    fits(scratch.shape[1] >= ow + w, "scratch must have OW + W columns")
    for t in prange(dx.shape[0] * c, nogil=True, schedule="static", num_threads=nt):
        b = t // c
        ci = t % c
        share = &scratch[t, 0]
        spread = share + ow
        for oy in range(oh):
            for ox in range(ow):
                share[ox] = dy[b, ci, oy, ox] / area
            for xx in range(w):
                spread[xx] = 0
            for j in range(kw):
                _scatter_add(
                    spread, sw, j - pw, first(pw - j, sw, ow), first(w + pw - j, sw, ow), share
                )
            i0, i1 = span(oy * sh - ph, kh, h)
            for i in range(i0, i1):
                pix = &dx[b, ci, oy * sh - ph + i, 0]
                for xx in range(w):
                    pix[xx] += spread[xx]
