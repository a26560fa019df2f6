"""im2col / col2im, Numba: one compiled pass over the output, parallel over disjoint parts.

``im2col`` gives each thread whole output rows (one ``(n, oh)`` pair at a time) and writes every
entry once, zeros for the padding. ``col2im`` gives each thread whole ``(n, c)`` image planes, so
no two threads add into one element. Within a plane it loops over the window row ``i``, then the
output row, then the window column ``j``: a pixel gets at most one term per offset ``(i, j)`` and
receives them in increasing ``(i, j)`` order, the reference's order, so the sums are bit-identical
to the reference's (terms that fall in the padding are skipped; the reference drops them too).
"""

import numpy as np
from numba import prange

from .._common import out_size, pair
from ._config import jit
from ._index import _U, _first, _span


def im2col(x, kh, kw, stride=1, pad=0):
    """Unfold sliding windows of ``x`` into rows.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), C-contiguous float32 or float64
    kh, kw : int
        Window height and width.
    stride, pad : int or (int, int)

    Returns
    -------
    col : ndarray of shape (N*OH*OW, C*KH*KW)
        Rows in (n, oh, ow) order, columns in (c, kh, kw) order.
    """
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    n, c, h, w = x.shape
    oh, ow = out_size(h, w, kh, kw, stride, pad)
    col = np.empty((n * oh * ow, c * kh * kw), dtype=x.dtype)
    _im2col_loop(x, col, kh, kw, sh, sw, ph, pw, oh, ow)
    return col


def col2im(col, x_shape, kh, kw, stride=1, pad=0):
    """Fold rows back into an image, summing overlapping entries (the adjoint of ``im2col``).

    Parameters
    ----------
    col : ndarray of shape (N*OH*OW, C*KH*KW), C-contiguous float32 or float64
    x_shape : tuple (N, C, H, W)
    kh, kw : int
    stride, pad : int or (int, int)

    Returns
    -------
    x : ndarray of shape (N, C, H, W), dtype of ``col``
    """
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    n, c, h, w = (int(s) for s in x_shape)
    oh, ow = out_size(h, w, kh, kw, stride, pad)
    x = np.zeros((n, c, h, w), dtype=col.dtype)
    _col2im_loop(col, x, kh, kw, sh, sw, ph, pw, oh, ow)
    return x


@jit(parallel=True)
def _im2col_loop(x, col, kh, kw, sh, sw, ph, pw, oh, ow):
    """Fill ``col (N*OH*OW, C*KH*KW)`` from ``x (N, C, H, W)``; one thread per ``(n, oh)``."""
    n, c, h, w = x.shape
    for t in prange(n * oh):
        b, oy = t // oh, t % oh
        for ox in range(ow):
            r = t * ow + ox
            x0 = ox * sw - pw
            j0, j1 = _span(x0, kw, w)
            for ci in range(c):
                for i in range(kh):
                    y = oy * sh - ph + i
                    base = (ci * kh + i) * kw
                    if 0 <= y < h:
                        for j in range(j0):
                            col[r, _U(base + j)] = 0
                        for j in range(j0, j1):
                            col[r, _U(base + j)] = x[b, ci, y, _U(x0 + j)]
                        for j in range(j1, kw):
                            col[r, _U(base + j)] = 0
                    else:
                        for j in range(kw):
                            col[r, _U(base + j)] = 0


@jit(parallel=True)
def _col2im_loop(col, x, kh, kw, sh, sw, ph, pw, oh, ow):
    """Add ``col (N*OH*OW, C*KH*KW)`` into the zeroed ``x (N, C, H, W)``; one thread per plane."""
    n, c, h, w = x.shape
    for t in prange(n * c):
        b, ci = t // c, t % c
        for i in range(kh):
            # output rows whose window row i lands inside the image: y = oy*sh - ph + i in [0, h)
            for oy in range(_first(ph - i, sh, oh), _first(h + ph - i, sh, oh)):
                y = oy * sh - ph + i
                r0 = (b * oh + oy) * ow
                base = (ci * kh + i) * kw
                for j in range(kw):
                    for ox in range(_first(pw - j, sw, ow), _first(w + pw - j, sw, ow)):
                        x[b, ci, y, _U(ox * sw - pw + j)] += col[_U(r0 + ox), base + j]


# Per-sample ("transposed") layout for the convolution: col[m, (c, i, j), (oh, ow)] holds the
# window entries of sample n0 + m, so one GEMM per sample writes NCHW output directly. These two
# loops are serial on purpose: the convolution runs one copy of its pipeline per thread, over its
# own samples (kernels/_threads.py); a parallel loop between BLAS calls fought the BLAS threads for
# the two cores (it was several times slower: bench/README.md, "Against the targets").


@jit()
def _im2col_t_loop(x, n0, col, kh, kw, sh, sw, ph, pw, oh, ow):
    """Fill rows ``0..C*KH*KW-1`` of ``col (M, K, OH*OW)`` from samples ``n0..n0+M-1`` of ``x``.

    Padding is written as zeros; rows of ``col`` past ``C*KH*KW`` (a ones row for the bias, say)
    are left untouched.
    """
    n, c, h, w = x.shape
    m = col.shape[0]
    for t in range(m * c * kh):
        b, ci, i = t // (c * kh), (t // kh) % c, t % kh
        for j in range(kw):
            row = (ci * kh + i) * kw + j
            lo, hi = _first(pw - j, sw, ow), _first(w + pw - j, sw, ow)
            for oy in range(oh):
                y = oy * sh - ph + i
                r0 = oy * ow
                if 0 <= y < h:
                    for ox in range(lo):
                        col[b, row, _U(r0 + ox)] = 0
                    for ox in range(lo, hi):
                        col[b, row, _U(r0 + ox)] = x[n0 + b, ci, y, _U(ox * sw - pw + j)]
                    for ox in range(hi, ow):
                        col[b, row, _U(r0 + ox)] = 0
                else:
                    for ox in range(ow):
                        col[b, row, _U(r0 + ox)] = 0


@jit()
def _col2im_t_loop(col, x, n0, kh, kw, sh, sw, ph, pw, oh, ow):
    """Add ``col (M, C*KH*KW, OH*OW)`` into samples ``n0..n0+M-1`` of the zeroed ``x``.

    Each pixel receives its terms in increasing ``(i, j)`` order, the order of :func:`col2im`,
    so the sums are the same bits.
    """
    n, c, h, w = x.shape
    m = col.shape[0]
    for t in range(m * c):
        b, ci = t // c, t % c
        for i in range(kh):
            for oy in range(_first(ph - i, sh, oh), _first(h + ph - i, sh, oh)):
                y = oy * sh - ph + i
                for j in range(kw):
                    row = (ci * kh + i) * kw + j
                    for ox in range(_first(pw - j, sw, ow), _first(w + pw - j, sw, ow)):
                        x[n0 + b, ci, y, _U(ox * sw - pw + j)] += col[b, row, _U(oy * ow + ox)]
