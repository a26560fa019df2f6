"""Max and average pooling, Numba: one compiled pass, no window matrix, one thread per plane.

Every loop runs over ``(n, c)`` image planes with ``prange``; a plane is read and written by one
thread only, so the backward scatters are race-free. Padding is never read: max pooling skips it
(it is -inf, and ``pad <= k // 2`` leaves a real pixel in every window), average pooling counts it
as zeros by dividing by ``kh*kw``. Max pooling backward visits the outputs of a plane in reverse
row-major order: a pixel then receives its terms in increasing window-offset ``(i, j)`` order,
the order in which the reference's col2im adds them, so overlapping windows sum the same bits.
The average pooling loops run over whole output rows per window offset, which vectorises.
"""

import numpy as np
from numba import prange

from .._common import is_2x2_tiling
from .._common import pool_backward_setup as _backward_setup
from .._common import pool_geometry as _geometry
from ._config import jit
from ._index import _U, _first, _span


@jit(parallel=True)
def _max_loop(x, y, arg, scratch, kh, kw, sh, sw, ph, pw):
    """One thread per plane, an output row at a time, window offsets ``(i, j)`` in row-major order.

    The innermost loop runs over the outputs of the row, so each output still sees its window
    in row-major order (the first maximum wins). Padding is skipped: it is -inf, never a strict
    maximum, and a window of -inf reports index 0 like the reference. The argmax row is kept as
    int32 (the width of float32 lanes) in ``scratch (N*C, OW)`` and widened to int64 once per row.

    The update is a select, not a branch (random data mispredicts every other comparison); a NaN
    wins once, like ``np.argmax``. Strides 1 and 2 get their own loops with a constant stride,
    which LLVM vectorises with plain or interleaved loads instead of gathers. The loops are
    written out here and index the whole arrays: a row view, or an array passed to a helper,
    costs atomic reference-count updates on arrays that both threads use, which slowed these
    loops down markedly (bench/README.md, Numba design notes).
    """
    n, c, h, w = x.shape
    oh, ow = y.shape[2:]
    lowest = x.dtype.type(-np.inf)
    for t in prange(n * c):
        b, ci = t // c, t % c
        for oy in range(oh):
            for ox in range(ow):
                y[b, ci, oy, ox], scratch[t, ox] = lowest, 0
            i0, i1 = _span(oy * sh - ph, kh, h)
            for i in range(i0, i1):
                r = oy * sh - ph + i
                for j in range(kw):
                    lo, hi = _first(pw - j, sw, ow), _first(w + pw - j, sw, ow)
                    j0, k = j - pw, np.int32(i * kw + j)
                    if sw == 1:
                        for ox in range(lo, hi):
                            v, best = x[b, ci, r, _U(ox + j0)], y[b, ci, oy, _U(ox)]
                            take = (v > best) | ((v != v) & (best == best))
                            y[b, ci, oy, _U(ox)] = v if take else best
                            scratch[t, _U(ox)] = k if take else scratch[t, _U(ox)]
                    elif sw == 2:
                        for ox in range(lo, hi):
                            v, best = x[b, ci, r, _U(2 * ox + j0)], y[b, ci, oy, _U(ox)]
                            take = (v > best) | ((v != v) & (best == best))
                            y[b, ci, oy, _U(ox)] = v if take else best
                            scratch[t, _U(ox)] = k if take else scratch[t, _U(ox)]
                    else:
                        for ox in range(lo, hi):
                            v, best = x[b, ci, r, _U(ox * sw + j0)], y[b, ci, oy, _U(ox)]
                            take = (v > best) | ((v != v) & (best == best))
                            y[b, ci, oy, _U(ox)] = v if take else best
                            scratch[t, _U(ox)] = k if take else scratch[t, _U(ox)]
            for ox in range(ow):
                arg[b, ci, oy, ox] = scratch[t, ox]


@jit(parallel=True)
def _max_back_loop(dy, arg, dx, kh, kw, sh, sw, ph, pw):
    """Add ``dy`` into the zeroed ``dx`` at the recorded maxima; outputs in reverse order.

    The window index ``a`` becomes its row and column through tables of ``kh*kw`` entries (no
    integer division per output). An index into the padding (the first entry of a window of
    ``-inf``) adds nothing, as in the reference, whose padded gradient is cropped.
    """
    n, c, oh, ow = dy.shape
    h, w = dx.shape[2:]
    di, dj = np.empty(kh * kw, dtype=np.int64), np.empty(kh * kw, dtype=np.int64)
    for a in range(kh * kw):
        di[a], dj[a] = a // kw, a % kw
    for t in prange(n * c):
        b, ci = t // c, t % c
        for oy in range(oh - 1, -1, -1):
            for ox in range(ow - 1, -1, -1):
                a = arg[b, ci, oy, ox]
                yy, xx = oy * sh - ph + di[a], ox * sw - pw + dj[a]
                if 0 <= yy < h and 0 <= xx < w:
                    dx[b, ci, _U(yy), _U(xx)] += dy[b, ci, oy, ox]


@jit(parallel=True)
def _max_loop_2x2(x, y, arg):
    """``_max_loop`` for 2x2 windows at stride 2, pad 0: each output's four pixels at once.

    A strict ``>`` keeps the first maximum in row-major order and vectorises; NaN never compares
    greater, so a row that contains one is redone with the NaN-aware select of ``_max_loop``.
    """
    n, c = x.shape[:2]
    oh, ow = y.shape[2:]
    for t in prange(n * c):
        b, ci = t // c, t % c
        for oy in range(oh):
            r0, r1, nan = 2 * oy, 2 * oy + 1, False
            for ox in range(ow):
                m, a = x[b, ci, r0, _U(2 * ox)], 0
                nan |= m != m
                for v, k in (
                    (x[b, ci, r0, _U(2 * ox + 1)], 1),
                    (x[b, ci, r1, _U(2 * ox)], 2),
                    (x[b, ci, r1, _U(2 * ox + 1)], 3),
                ):
                    nan |= v != v
                    m, a = (v, k) if v > m else (m, a)
                y[b, ci, oy, _U(ox)], arg[b, ci, oy, _U(ox)] = m, a
            if nan:
                for ox in range(ow):
                    m, a = x[b, ci, r0, 2 * ox], 0
                    for v, k in (
                        (x[b, ci, r0, 2 * ox + 1], 1),
                        (x[b, ci, r1, 2 * ox], 2),
                        (x[b, ci, r1, 2 * ox + 1], 3),
                    ):
                        take = (v > m) | ((v != v) & (m == m))
                        m, a = (v, k) if take else (m, a)
                    y[b, ci, oy, ox], arg[b, ci, oy, ox] = m, a


@jit(parallel=True, signed_zeros=True)
def _max_back_loop_2x2(dy, arg, dx):
    """Write ``dy`` or 0 to every pixel of the 2x2/2 windows (they do not overlap): no zeroing,
    no adding. ``+ 0`` turns -0.0 into +0.0 as the reference's zeros + dy does."""
    n, c, oh, ow = dy.shape
    zero = dx.dtype.type(0)
    for t in prange(n * c):
        b, ci = t // c, t % c
        for oy in range(oh):
            for i in range(2):
                for j in range(2):
                    k = np.int32(2 * i + j)
                    for ox in range(ow):
                        v = dy[b, ci, oy, _U(ox)] + zero
                        take = np.int32(arg[b, ci, oy, _U(ox)]) == k
                        dx[b, ci, 2 * oy + i, _U(2 * ox + j)] = v if take else zero


@jit(parallel=True)
def _avg_loop_2x2(x, y):
    """``_avg_loop`` for 2x2 windows at stride 2, pad 0: one pass, the same sums and order."""
    n, c = x.shape[:2]
    oh, ow = y.shape[2:]
    zero, count = x.dtype.type(0), x.dtype.type(4)
    for t in prange(n * c):
        b, ci = t // c, t % c
        for oy in range(oh):
            r0, r1 = 2 * oy, 2 * oy + 1
            for ox in range(ow):
                j = 2 * ox
                total = zero + x[b, ci, r0, _U(j)] + x[b, ci, r0, _U(j + 1)]
                total = total + x[b, ci, r1, _U(j)] + x[b, ci, r1, _U(j + 1)]
                y[b, ci, oy, _U(ox)] = total / count


@jit(parallel=True, signed_zeros=True)
def _avg_back_loop_2x2(dy, dx):
    """Write each pixel of the 2x2/2 windows its share ``dy / 4`` once (no overlap, no adds)."""
    n, c, oh, ow = dy.shape
    zero, count = dx.dtype.type(0), dx.dtype.type(4)
    for t in prange(n * c):
        b, ci = t // c, t % c
        for oy in range(oh):
            for i in range(2):
                for ox in range(ow):
                    share = dy[b, ci, oy, _U(ox)] / count + zero
                    dx[b, ci, 2 * oy + i, _U(2 * ox)] = share
                    dx[b, ci, 2 * oy + i, _U(2 * ox + 1)] = share


@jit(parallel=True)
def _avg_loop(x, y, kh, kw, sh, sw, ph, pw):
    """One thread per plane; each output row sums its windows offset by offset (vectorised)."""
    n, c, h, w = x.shape
    oh, ow = y.shape[2:]
    zero, count = x.dtype.type(0), x.dtype.type(kh * kw)
    for t in prange(n * c):
        b, ci = t // c, t % c
        for oy in range(oh):
            yr = y[b, ci, oy]
            for ox in range(ow):
                yr[ox] = zero
            i0, i1 = _span(oy * sh - ph, kh, h)
            for i in range(i0, i1):
                xr = x[b, ci, oy * sh - ph + i]
                for j in range(kw):
                    for ox in range(_first(pw - j, sw, ow), _first(w + pw - j, sw, ow)):
                        yr[_U(ox)] += xr[_U(ox * sw - pw + j)]
            for ox in range(ow):
                yr[ox] /= count


@jit(parallel=True)
def _avg_back_loop(dy, dx, scratch, kh, kw, sh, sw, ph, pw):
    """One thread per plane; each output row spreads its shares offset by offset (vectorised).

    A pixel receives its terms in (oh, i, j) order, not the reference's (i, j, oh) order:
    equal up to rounding (``helpers.SUM_TOL``). ``scratch (N*C, OW)`` holds each row's shares.
    """
    n, c, oh, ow = dy.shape
    h, w = dx.shape[2:]
    count = dx.dtype.type(kh * kw)
    for t in prange(n * c):
        b, ci = t // c, t % c
        share = scratch[t]
        for oy in range(oh):
            dyr = dy[b, ci, oy]
            for ox in range(ow):
                share[ox] = dyr[ox] / count  # rounded to the dtype, as the reference
            i0, i1 = _span(oy * sh - ph, kh, h)
            for i in range(i0, i1):
                dxr = dx[b, ci, oy * sh - ph + i]
                for j in range(kw):
                    for ox in range(_first(pw - j, sw, ow), _first(w + pw - j, sw, ow)):
                        dxr[_U(ox * sw - pw + j)] += share[_U(ox)]


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
        Window-local flat index ``i*kw + j`` of the first maximum.
    """
    sh, sw, ph, pw, oh, ow = _geometry(x.shape, kh, kw, stride, pad)
    y = np.empty((*x.shape[:2], oh, ow), dtype=x.dtype)
    arg = np.empty(y.shape, dtype=np.int64)
    if is_2x2_tiling(kh, kw, sh, sw, ph, pw):
        _max_loop_2x2(x, y, arg)
        return y, arg
    scratch = np.empty((x.shape[0] * x.shape[1], ow), dtype=np.int32)  # (N*C, OW)
    _max_loop(x, y, arg, scratch, kh, kw, sh, sw, ph, pw)
    return y, arg


def maxpool2d_backward(dy, argmax, x_shape, kh, kw, stride=None, pad=0):
    """Route ``dy`` to the maxima recorded in ``argmax``.

    Parameters
    ----------
    dy, argmax : ndarrays of shape (N, C, OH, OW); ``argmax`` int64 in ``[0, kh*kw)``
    x_shape : tuple (N, C, H, W)

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    dx, fast, (sh, sw, ph, pw) = _backward_setup(x_shape, dy.dtype, kh, kw, stride, pad)
    if fast:
        _max_back_loop_2x2(dy, argmax, dx)
    else:
        _max_back_loop(dy, argmax, dx, kh, kw, sh, sw, ph, pw)
    return dx


def avgpool2d_forward(x, kh, kw, stride=None, pad=0):
    """Average pooling (padding counts as zeros; divisor always ``kh*kw``).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)

    Returns
    -------
    y : ndarray of shape (N, C, OH, OW)
    """
    sh, sw, ph, pw, oh, ow = _geometry(x.shape, kh, kw, stride, pad)
    y = np.empty((*x.shape[:2], oh, ow), dtype=x.dtype)
    if is_2x2_tiling(kh, kw, sh, sw, ph, pw):
        _avg_loop_2x2(x, y)
    else:
        _avg_loop(x, y, kh, kw, sh, sw, ph, pw)
    return y


def avgpool2d_backward(dy, x_shape, kh, kw, stride=None, pad=0):
    """Spread ``dy / (kh*kw)`` evenly over each window.

    Parameters
    ----------
    dy : ndarray of shape (N, C, OH, OW)
    x_shape : tuple (N, C, H, W)

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    dx, fast, (sh, sw, ph, pw) = _backward_setup(x_shape, dy.dtype, kh, kw, stride, pad)
    if fast:
        _avg_back_loop_2x2(dy, dx)
        return dx
    scratch = np.empty((dy.shape[0] * dy.shape[1], dy.shape[3]), dtype=dy.dtype)  # (N*C, OW)
    _avg_back_loop(dy, dx, scratch, kh, kw, sh, sw, ph, pw)
    return dx
