"""2-D convolution (cross-correlation, as PyTorch's ``conv2d``), Cython: im2col + NumPy's GEMM.

Where ``kernels/_conv_rule.py`` picks Winograd (3x3 filters at stride 1 between at least 16
channels), the calls go to ``kernels/_winograd.py`` with this backend's tile loops
(``_winograd.pyx``) instead; the rest of this module is the im2col algorithm.

Compiled loops build one column matrix per image, ``col (C*KH*KW + 1, OH*OW)`` whose last row is
ones, and GEMM stays in NumPy's BLAS (``np.matmul``, one GEMM per image, no transposes):

- forward: ``y[n] = [W | b] @ col[n]`` is NCHW already and includes the bias;
- backward: ``[dW | db].T = sum_n col[n] @ dy[n].T`` (the ones row gives ``db``; the window
  matrix as BLAS's untransposed left operand is the faster order in float32) and
  ``dcol[n] = W.T @ dy[n]``, which ``_col2im_chunk`` adds back into ``dx``.

Images go through in chunks whose columns take about ``_CHUNK_BYTES``, so that each chunk's
``col`` is still in cache when its GEMMs read it. The batch is split into one range of images per
thread (``fastdl._kernels._threads``: as many threads as BLAS had, BLAS on one thread meanwhile);
each thread alternates its compiled loops (GIL released) with its GEMMs, chunk by chunk, in its
own buffers, and writes only its images of ``y`` and ``dx``. Backward adds the threads' partial
``[dW | db]`` in thread order.
"""

from cython cimport floating
from libc.string cimport memcpy, memset

import numpy as np

from .. import _winograd as winograd
from .._common import out_size, pair
from .._conv_rule import choose
from .._threads import over_samples
from . import _winograd as tile_loops

include "_util.pxi"

# A chunk's window matrix: a call's peak memory within PyTorch's on small layers, without slowing
# the layers the rule gives to im2col (bench/README.md, "Convolution algorithms")
_CHUNK_BYTES = 512 << 10


def conv2d_forward(x, w, b, stride=1, pad=0):
    """Convolve ``x`` with filters ``w`` and add bias ``b``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), C-contiguous float32 or float64
    w : ndarray of shape (F, C, KH, KW), same dtype
    b : ndarray of shape (F,) or None
    stride, pad : int or (int, int)

    Returns
    -------
    y : ndarray of shape (N, F, OH, OW)
    """
    if choose(x.shape, w.shape, stride) == "winograd":
        return winograd.forward(x, w, b, pad, tile_loops)
    f, c, kh, kw = w.shape
    w2 = w.reshape(f, -1)  # (F, C*KH*KW)
    if b is not None:
        w2 = np.concatenate([w2, b[:, None]], axis=1)  # (F, C*KH*KW + 1)
    geo = _Geometry(x, kh, kw, stride, pad)
    y = np.empty((x.shape[0], f, geo.oh * geo.ow), dtype=x.dtype)  # (N, F, OH*OW)

    def run(first, last):
        for lo, hi, col in geo.chunks(x, w2.shape[1], first, last):
            np.matmul(w2, col, out=y[lo:hi])

    over_samples(x.shape[0], run)
    return y.reshape(x.shape[0], f, geo.oh, geo.ow)


def conv2d_backward(dy, x, w, stride=1, pad=0, need_dx=True):
    """Gradients of ``conv2d_forward`` with respect to its inputs.

    Parameters
    ----------
    dy : ndarray of shape (N, F, OH, OW), C-contiguous, dtype of ``x``
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (F, C, KH, KW)
    stride, pad : int or (int, int)
    need_dx : bool
        With ``False`` the input gradient is not computed (a network's first layer does not
        need it) and ``dx`` is ``None``.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), or None
    dw : ndarray of shape (F, C, KH, KW)
    db : ndarray of shape (F,)
    """
    if choose(x.shape, w.shape, stride) == "winograd":
        return winograd.backward(dy, x, w, pad, need_dx, tile_loops)
    f, c, kh, kw = w.shape
    k = c * kh * kw
    geo = _Geometry(x, kh, kw, stride, pad)
    dy3 = dy.reshape(x.shape[0], f, -1)  # (N, F, OH*OW)
    wt = w.reshape(f, k).T  # (C*KH*KW, F)
    dx = np.zeros(x.shape, dtype=x.dtype) if need_dx else None

    def run(first, last):
        grad = np.zeros((k + 1, f), dtype=x.dtype)  # [dW | db].T of images first:last
        dcol = np.empty((geo.chunk if need_dx else 0, k, geo.oh * geo.ow), dtype=x.dtype)
        for lo, hi, col in geo.chunks(x, k + 1, first, last):
            grad += np.matmul(col, dy3[lo:hi].transpose(0, 2, 1)).sum(axis=0)  # (K + 1, F)
            if need_dx:
                d = np.matmul(wt, dy3[lo:hi], out=dcol[: hi - lo])  # (chunk, C*KH*KW, OH*OW)
                _col2im_chunk(d, dx[lo:hi], *geo.loop_args)
        return grad

    grad = sum(over_samples(x.shape[0], run))  # (C*KH*KW + 1, F)
    return dx, grad[:k].T.reshape(w.shape), grad[k].copy()  # dw (F, C, KH, KW), db (F,)


class _Geometry:
    """Sizes of one convolution and the chunks of images it goes through."""

    def __init__(self, x, kh, kw, stride, pad):
        (sh, sw), (ph, pw) = pair(stride), pair(pad)
        n, c, h, w = x.shape
        self.oh, self.ow = out_size(h, w, kh, kw, stride, pad)
        self.loop_args = (kh, kw, sh, sw, ph, pw, self.oh, self.ow)
        col_bytes = (c * kh * kw + 1) * self.oh * self.ow * x.itemsize  # one image
        self.chunk = int(max(1, min(n, _CHUNK_BYTES // col_bytes)))

    def chunks(self, x, rows, first, last):
        """Yield ``(lo, hi, col)`` for images ``first:last`` of ``x``, a chunk at a time:
        ``col (hi - lo, rows, OH*OW)`` of images ``lo:hi``.

        ``rows`` is ``C*KH*KW`` or one more, a row of ones. One buffer per call, reused.
        """
        c = x.shape[1]
        buf = np.empty((self.chunk, rows, self.oh * self.ow), dtype=x.dtype)
        buf[:, c * self.loop_args[0] * self.loop_args[1] :] = 1
        for lo in range(first, last, self.chunk):
            hi = min(lo + self.chunk, last)
            _im2col_chunk(x[lo:hi], buf[: hi - lo], *self.loop_args)
            yield lo, hi, buf[: hi - lo]


def _im2col_chunk(
    const floating[:, :, :, ::1] x, floating[:, :, ::1] col,
    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
    Py_ssize_t oh, Py_ssize_t ow,
):
    """Fill the rows ``k < C*KH*KW`` of ``col (N, K', OH*OW)`` from ``x (N, C, H, W)``.

    ``col[n, (c, i, j), (oy, ox)] = x[n, c, oy*sh - ph + i, ox*sw - pw + j]`` (0 in the padding);
    rows ``k >= C*KH*KW`` are left alone. With stride 1 and ``OW == W`` (a "same" convolution) a
    row is the image plane shifted by ``(i - ph, j - pw)``: one copy of the flat plane, then the
    wrapped-around columns are zeroed.
    """
    cdef Py_ssize_t c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t t, b, ci, i, j, oy, oy0, oy1, ox, lo, hi, shift, q0, q1
    cdef bint flat = sh == 1 and sw == 1 and ow == w
    cdef const floating* src  # x[b, ci]
    cdef const floating* pix  # pixel row oy*sh - ph + i of it
    cdef floating* dst  # col row (b, (ci, i, j))
    cdef floating* row  # its output row oy
    fits(col.shape[2] == oh * ow, "col rows must hold OH*OW entries")
    with nogil:
        for t in range(x.shape[0] * c):
            b = t // c
            ci = t % c
            src = &x[b, ci, 0, 0]
            for i in range(kh):
                oy0 = first(ph - i, sh, oh)  # output rows whose pixel row lies in [0, h)
                oy1 = first(h + ph - i, sh, oh)
                for j in range(kw):
                    lo = first(pw - j, sw, ow)  # output columns whose pixel lies in [0, w)
                    hi = first(w + pw - j, sw, ow)
                    dst = &col[b, (ci * kh + i) * kw + j, 0]
                    memset(dst, 0, oy0 * ow * sizeof(floating))
                    memset(dst + oy1 * ow, 0, (oh - oy1) * ow * sizeof(floating))
                    if flat and oy1 > oy0:
                        shift = (i - ph) * w + j - pw
                        q0 = max(oy0 * ow, -shift)
                        q1 = min(oy1 * ow, h * w - shift)
                        if q1 > q0:  # empty when the shifted plane lies wholly in the padding
                            memcpy(dst + q0, src + q0 + shift, (q1 - q0) * sizeof(floating))
                    for oy in range(oy0, oy1):
                        row = dst + oy * ow
                        pix = src + (oy * sh - ph + i) * w  # column ox*sw + j - pw
                        for ox in range(lo):
                            row[ox] = 0
                        if flat:
                            pass
                        elif sw == 1:
                            for ox in range(lo, hi):
                                row[ox] = pix[ox + j - pw]
                        else:
                            for ox in range(lo, hi):
                                row[ox] = pix[ox * sw + j - pw]
                        for ox in range(hi, ow):
                            row[ox] = 0


def _col2im_chunk(
    floating[:, :, ::1] col, floating[:, :, :, ::1] x,
    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
    Py_ssize_t oh, Py_ssize_t ow,
):
    """Add the rows ``k < C*KH*KW`` of ``col (N, K', OH*OW)`` into ``x (N, C, H, W)``.

    The adjoint of ``_im2col_chunk``; ``x`` starts zeroed. ``col`` is scratch: in the "same" case
    its entries that fall in the padding are zeroed, then each row is added to the plane as one
    flat, shifted sum.
    """
    cdef Py_ssize_t c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t t, b, ci, i, j, oy, oy0, oy1, ox, lo, hi, shift, q, q0, q1
    cdef bint flat = sh == 1 and sw == 1 and ow == w
    cdef floating* src  # col row (b, (ci, i, j))
    cdef floating* row  # its output row oy
    cdef floating* dst  # x[b, ci]
    cdef floating* pix  # pixel row oy*sh - ph + i of it
    fits(col.shape[2] == oh * ow, "col rows must hold OH*OW entries")
    with nogil:
        for t in range(x.shape[0] * c):
            b = t // c
            ci = t % c
            dst = &x[b, ci, 0, 0]
            for i in range(kh):
                oy0 = first(ph - i, sh, oh)
                oy1 = first(h + ph - i, sh, oh)
                for j in range(kw):
                    lo = first(pw - j, sw, ow)
                    hi = first(w + pw - j, sw, ow)
                    src = &col[b, (ci * kh + i) * kw + j, 0]
                    for oy in range(oy0, oy1):
                        row = src + oy * ow
                        pix = dst + (oy * sh - ph + i) * w  # column ox*sw + j - pw
                        if flat:  # zero what wraps around; the rows are added below in one sum
                            for ox in range(lo):
                                row[ox] = 0
                            for ox in range(hi, ow):
                                row[ox] = 0
                        elif sw == 1:
                            for ox in range(lo, hi):
                                pix[ox + j - pw] += row[ox]
                        else:
                            for ox in range(lo, hi):
                                pix[ox * sw + j - pw] += row[ox]
                    if flat and oy1 > oy0:
                        shift = (i - ph) * w + j - pw
                        q0 = max(oy0 * ow, -shift)
                        q1 = min(oy1 * ow, h * w - shift)
                        for q in range(q0, q1):
                            (dst + shift)[q] += src[q]
