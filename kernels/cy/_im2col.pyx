"""im2col / col2im, Cython: typed-memoryview loops, OpenMP ``prange`` over disjoint parts.

``im2col`` gives each thread whole output rows (one ``(n, oh)`` pair at a time) and writes every
entry once, zeros for the padding. ``col2im`` gives each thread whole ``(n, c)`` image planes, so
no two threads add into one element. Within a plane it loops over the window row ``i``, then the
output row, then the window column ``j``: a pixel gets at most one term per offset ``(i, j)`` and
receives them in increasing ``(i, j)`` order, the reference's order, so the sums are bit-identical
to the reference's (terms that fall in the padding are skipped; the reference drops them too).
Threads: ``threads_for`` (``kernels/_threads.py``).
"""

from cython cimport floating
from cython.parallel cimport prange

import numpy as np

from .._common import out_size, pair
from .._threads import threads_for

include "_util.pxi"


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
    _im2col_loop(x, col, kh, kw, sh, sw, ph, pw, oh, ow, threads_for(col.size))
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
    _col2im_loop(col, x, kh, kw, sh, sw, ph, pw, oh, ow, threads_for(col.size))
    return x


def _im2col_loop(
    const floating[:, :, :, ::1] x, floating[:, ::1] col,
    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
    Py_ssize_t oh, Py_ssize_t ow, int nt,
):
    """Fill ``col (N*OH*OW, C*KH*KW)`` from ``x (N, C, H, W)``; one thread per ``(n, oh)``."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t t, b, oy, ox, x0, j0, j1, ci, i, y, j
    cdef const floating* src  # row y of x[b, ci]
    cdef floating* dst  # the (ci, i) block of KW entries of one col row
    for t in prange(n * oh, nogil=True, schedule="static", num_threads=nt):
        b = t // oh
        oy = t % oh
        for ox in range(ow):
            x0 = ox * sw - pw
            j0, j1 = span(x0, kw, w)
            for ci in range(c):
                for i in range(kh):
                    y = oy * sh - ph + i
                    dst = &col[t * ow + ox, (ci * kh + i) * kw]
                    if 0 <= y < h:
                        src = &x[b, ci, y, 0]
                        for j in range(j0):
                            dst[j] = 0
                        for j in range(j0, j1):
                            dst[j] = src[x0 + j]
                        for j in range(j1, kw):
                            dst[j] = 0
                    else:
                        for j in range(kw):
                            dst[j] = 0


def _col2im_loop(
    const floating[:, ::1] col, floating[:, :, :, ::1] x,
    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
    Py_ssize_t oh, Py_ssize_t ow, int nt,
):
    """Add ``col (N*OH*OW, C*KH*KW)`` into the zeroed ``x (N, C, H, W)``; one thread per plane."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t ncol = col.shape[1]
    cdef Py_ssize_t t, b, ci, i, oy, y, j, ox
    cdef const floating* src  # the (ci, i) block of the col row (n, oy, 0); row ox is ncol further
    cdef floating* dst  # row y of x[b, ci]
    for t in prange(n * c, nogil=True, schedule="static", num_threads=nt):
        b = t // c
        ci = t % c
        for i in range(kh):
            # output rows whose window row i lands inside the image: y = oy*sh - ph + i in [0, h)
            for oy in range(first(ph - i, sh, oh), first(h + ph - i, sh, oh)):
                y = oy * sh - ph + i
                src = &col[(b * oh + oy) * ow, (ci * kh + i) * kw]
                dst = &x[b, ci, y, 0]
                for j in range(kw):
                    for ox in range(first(pw - j, sw, ow), first(w + pw - j, sw, ow)):
                        dst[ox * sw - pw + j] += src[ox * ncol + j]
