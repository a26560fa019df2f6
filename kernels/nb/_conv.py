"""2-D convolution, Numba: compiled im2col/col2im per chunk of samples, GEMMs in NumPy's BLAS.

Where ``kernels/_conv_rule.py`` picks Winograd (3x3 filters at stride 1 between at least 16
channels), the calls go to ``kernels/_winograd.py`` with this backend's tile loops
(``_winograd.py``) instead; the rest of this module is the im2col algorithm.

The batch is cut into chunks of ``m`` samples whose window matrix fits in the last-level cache. For
each chunk a compiled loop writes ``col (m, C*KH*KW + 1, OH*OW)`` (one block per sample, its last
row all ones) and one GEMM per sample, ``[W | b] (F, C*KH*KW + 1) @ col[s]``, writes
``y[n0 + s] (F, OH*OW)``: the output is NCHW without a transpose and the bias rides in the GEMM.
Backward reuses the layout: ``col[s] @ dy[s].T`` gives ``[dW | db].T`` of the sample (the ones row
sums ``dy`` into ``db``; this order, the window matrix as BLAS's untransposed left operand, is the
faster one in float32), ``W.T @ dy[s]`` gives the sample's ``dcol``, and a compiled col2im adds it
into ``dx``. Without a bias the forward pass leaves out the ones row. The batch is split into one
range of samples per thread (``fastdl._kernels._threads``: as many threads as BLAS had, BLAS on one
thread meanwhile); each thread runs this pipeline for its samples with its own buffers, the compiled
loops serial and without the GIL. Backward adds the threads' partial ``[dW | db]`` in thread order.
:func:`gemm_plan` gives the chunks and GEMM shapes, so that the benchmarks can time these GEMMs
alone.
"""

import numpy as np

from .. import _winograd as winograd
from .._common import out_size, pair
from .._conv_rule import choose
from .._threads import over_samples
from . import _winograd as tile_loops
from ._im2col import _col2im_t_loop, _im2col_t_loop

# Bytes of one chunk's window matrix: small enough to stay in cache together with the chunk's
# dcol and the GEMM's packed panels, and to keep a call's peak memory within PyTorch's on small
# layers, without slowing the layers the rule gives to im2col (bench/README.md, "Convolution
# algorithms", has the measurements).
CHUNK_BYTES = 512 << 10


def _chunk(n, rows, cols, itemsize):
    """Samples per chunk: ``rows * cols * itemsize`` bytes each, ``CHUNK_BYTES`` in all."""
    return max(1, min(n, CHUNK_BYTES // (rows * cols * itemsize)))


def gemm_plan(x_shape, w_shape, stride=1, pad=0, itemsize=4):
    """How the batch is chunked and how big the GEMM operands are.

    Parameters
    ----------
    x_shape : tuple (N, C, H, W)
    w_shape : tuple (F, C, KH, KW)
    stride, pad : int or (int, int)
    itemsize : int
        4 for float32, 8 for float64.

    Returns
    -------
    chunks : list of int
        Samples per chunk, summing to N.
    k : int
        ``C*KH*KW``.
    p : int
        ``OH*OW``.
    """
    n, c = x_shape[:2]
    _, _, kh, kw = w_shape
    p = int(np.prod(out_size(x_shape[2], x_shape[3], kh, kw, stride, pad)))
    k = c * kh * kw
    m = _chunk(n, k + 1, p, itemsize)
    return [min(m, n - n0) for n0 in range(0, n, m)], k, p


def conv2d_forward(x, w, b, stride=1, pad=0):
    """Convolve ``x`` with filters ``w`` and add bias ``b``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), C-contiguous float32 or float64
    w : ndarray of shape (F, C, KH, KW)
    b : ndarray of shape (F,) or None
    stride, pad : int or (int, int)

    Returns
    -------
    y : ndarray of shape (N, F, OH, OW)
    """
    if choose(x.shape, w.shape, stride) == "winograd":
        return winograd.forward(x, w, b, pad, tile_loops)
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    n = x.shape[0]
    f, _, kh, kw = w.shape
    oh, ow = out_size(x.shape[2], x.shape[3], kh, kw, stride, pad)
    k = w[0].size
    rows = k + (b is not None)
    wb = np.empty((f, rows), dtype=x.dtype)
    wb[:, :k] = w.reshape(f, k)  # (F, C*KH*KW)
    if b is not None:
        wb[:, k] = b
    m = _chunk(n, rows, oh * ow, x.itemsize)
    y = np.empty((n, f, oh * ow), dtype=x.dtype)

    def run(first, last):
        col = np.empty((m, rows, oh * ow), dtype=x.dtype)
        col[:, k:] = 1  # the ones row, if any: never overwritten by the im2col loop
        for n0 in range(first, last, m):
            cm = col[: min(m, last - n0)]
            _im2col_t_loop(x, n0, cm, kh, kw, sh, sw, ph, pw, oh, ow)
            np.matmul(wb, cm, out=y[n0 : n0 + len(cm)])

    over_samples(n, run)
    return y.reshape(n, f, oh, ow)  # (N, F, OH, OW)


def conv2d_backward(dy, x, w, stride=1, pad=0, need_dx=True):
    """Gradients of ``conv2d_forward`` with respect to its inputs.

    Parameters
    ----------
    dy : ndarray of shape (N, F, OH, OW)
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
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    n, f, oh, ow = dy.shape
    kh, kw = w.shape[2:]
    k = w[0].size
    dy3 = dy.reshape(n, f, oh * ow)  # (N, F, OH*OW)
    wt = w.reshape(f, k).T  # (C*KH*KW, F), a transposed view that BLAS reads as is
    m = _chunk(n, k + 1, oh * ow, x.itemsize)
    dx = np.zeros(x.shape, dtype=x.dtype) if need_dx else None

    def run(first, last):
        col = np.empty((m, k + 1, oh * ow), dtype=x.dtype)
        col[:, k] = 1
        dcol = np.empty((m if need_dx else 0, k, oh * ow), dtype=x.dtype)
        dwb = np.empty((m, k + 1, f), dtype=x.dtype)
        acc = np.zeros((k + 1, f), dtype=x.dtype)  # [dW | db].T of samples first:last
        for n0 in range(first, last, m):
            cm = min(m, last - n0)
            _im2col_t_loop(x, n0, col[:cm], kh, kw, sh, sw, ph, pw, oh, ow)
            np.matmul(col[:cm], dy3[n0 : n0 + cm].transpose(0, 2, 1), out=dwb[:cm])
            acc += dwb[:cm].sum(axis=0)
            if need_dx:
                np.matmul(wt, dy3[n0 : n0 + cm], out=dcol[:cm])
                _col2im_t_loop(dcol[:cm], dx, n0, kh, kw, sh, sw, ph, pw, oh, ow)
        return acc

    acc = sum(over_samples(n, run))  # (C*KH*KW + 1, F)
    return dx, acc[:k].T.reshape(w.shape), acc[k].copy()  # dw (F, C, KH, KW), db (F,)
