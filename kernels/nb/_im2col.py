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

# Inner-loop indices are cast to this unsigned type: Numba then drops its negative-index
# wraparound check, which otherwise blocks vectorisation (about 1.5-2x on these loops).
_U = np.uintp


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


@jit()
def _span(start, k, size):
    """Offsets ``lo <= t < hi`` of a length-``k`` window at ``start`` that lie in ``[0, size)``."""
    lo = min(max(0, -start), k)
    hi = max(min(k, size - start), lo)
    return lo, hi


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


@jit()
def _first(a, s, limit):
    """Smallest ``o >= 0`` with ``o * s >= a``, capped at ``limit``."""
    return 0 if a <= 0 else min((a + s - 1) // s, limit)


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
