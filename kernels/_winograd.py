"""3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, 2015).

Shared by the compiled backends, which pass in their tile loops (``input_tiles``,
``input_grad_tiles``, ``output_tiles``, ``output_grad_tiles``; ``kernels/cy/_winograd.pyx``).
Each 2x2 output tile of a plane is ``A^T [(G g G^T) * (B^T d B)] A`` of the 4x4 input tile ``d``
under it and the 3x3 filter ``g``. Summed over input channels this becomes 16 independent
matrix products, one per entry of the 4x4 tile::

    M[k] (F, T) = U[k] (F, C) @ V[k] (C, T)        k = 0..15, T tiles

with ``U = G g G^T`` (the filters, once per call) and ``V = B^T d B`` (the input tiles). That is
16 GEMMs of (F, C) x (C, T) in place of im2col's (F, 9C) x (9C, 4T): 2.25 times fewer
multiply-adds, and the tile tensor ``V`` holds 4 entries per input pixel (16 per 2x2 tile)
instead of im2col's 9.

Backward runs the same pipeline transposed: ``dM = A dY A^T`` per tile, then
``dU[k] = dM[k] @ V[k]^T`` (summed over the batch inside the GEMM),
``dV[k] = U[k]^T @ dM[k]`` and ``dx += B dV B^T`` tile by tile (the adjoint of the input
transform, so any padding works), ``dw = G^T dU G`` and ``db = sum(dy)``. ``V`` is recomputed
in backward rather than kept from forward.

The batch is split into one range of images per thread (``fastdl._kernels._threads``: BLAS on
one thread meanwhile); each thread goes through its images in chunks whose tile tensors take
about ``CHUNK_BYTES``, with its own buffers. Backward adds the threads' partial ``dU`` in thread
order.

Extra memory of a call (besides its output): ``U`` (16 F C), and per thread two tile tensors of
one chunk, ``16 max(C, F) T`` entries each (about ``2 * CHUNK_BYTES``), plus in backward ``dU``.
"""

import numpy as np

from ._common import pair
from ._threads import over_samples

# Bytes of one chunk's tile tensor (V or M, the larger), per thread.
CHUNK_BYTES = 512 << 10
# Extra entries after each of a tile tensor's 16 planes. The tile loops write (or read) all 16
# planes at once; planes a power of two apart in memory map to the same cache sets and evict
# each other.
SKEW = 16

# G of F(2x2, 3x3): U = G g G^T. Its entries (0, 1/2, 1) are exact in float32.
G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def applies(w_shape, stride):
    """Whether F(2x2, 3x3) computes this convolution: 3x3 filters at stride 1 (any padding)."""
    return tuple(w_shape[2:]) == (3, 3) and pair(stride) == (1, 1)


class _Tiling:
    """Output size, tile grid and chunking of one call."""

    def __init__(self, x_shape, f, pad, itemsize):
        n, c, h, w = x_shape
        self.ph, self.pw = pair(pad)
        self.oh, self.ow = h + 2 * self.ph - 2, w + 2 * self.pw - 2
        self.th, self.tw = (self.oh + 1) // 2, (self.ow + 1) // 2
        self.tiles = self.th * self.tw
        per_image = 16 * max(c, f) * self.tiles * itemsize
        self.chunk = int(max(1, min(n, CHUNK_BYTES // per_image)))

    def buffer(self, rows, dtype):
        """A buffer for a tile tensor of ``rows`` channels and one full chunk: 16 planes, each
        ``SKEW`` entries longer than it needs (see ``SKEW``)."""
        return np.empty((16, rows * self.chunk * self.tiles + SKEW), dtype=dtype)

    def chunks(self, first, last):
        """``(lo, hi)`` of the chunks of images ``first:last``."""
        for lo in range(first, last, self.chunk):
            yield lo, min(lo + self.chunk, last)

    def view(self, buf, rows, images):
        """The first ``images`` images' worth of ``buf`` as a tile tensor, each of its 16
        matrices C-contiguous."""
        plane = buf[:, : rows * images * self.tiles]  # (16, rows*S*T), planes SKEW apart
        return plane.reshape(16, rows, images * self.tiles)  # (16, rows, S*T)


def filter_tiles(w):
    """``U (16, F, C)``: ``G g G^T`` of every 3x3 filter ``g`` of ``w (F, C, 3, 3)``."""
    g = G.astype(w.dtype)
    u = np.einsum("ai,fcij,bj->abfc", g, w, g)  # (4, 4, F, C)
    return np.ascontiguousarray(u.reshape(16, w.shape[0], w.shape[1]))  # (16, F, C)


def forward(x, w, b, pad, loops):
    """``conv2d_forward(x, w, b, 1, pad)`` for 3x3 filters.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), C-contiguous float32 or float64
    w : ndarray of shape (F, C, 3, 3), same dtype
    b : ndarray of shape (F,) or None
    pad : int or (int, int)
    loops : module
        The backend's tile loops.

    Returns
    -------
    y : ndarray of shape (N, F, OH, OW)
    """
    n, c = x.shape[:2]
    f = w.shape[0]
    geo = _Tiling(x.shape, f, pad, x.itemsize)
    u = filter_tiles(w)  # (16, F, C)
    bias = np.zeros(f, dtype=x.dtype) if b is None else np.ascontiguousarray(b, dtype=x.dtype)
    y = np.empty((n, f, geo.oh, geo.ow), dtype=x.dtype)

    def run(first, last):
        vbuf, mbuf = geo.buffer(c, x.dtype), geo.buffer(f, x.dtype)
        for lo, hi in geo.chunks(first, last):
            v = geo.view(vbuf, c, hi - lo)  # (16, C, S*T)
            loops.input_tiles(x, lo, v, geo.ph, geo.pw, geo.th, geo.tw)
            m = np.matmul(u, v, out=geo.view(mbuf, f, hi - lo))  # (16, F, S*T)
            loops.output_tiles(m, bias, y, lo, geo.th, geo.tw)

    over_samples(n, run)
    return y


def backward(dy, x, w, pad, need_dx, loops):
    """``conv2d_backward(dy, x, w, 1, pad, need_dx)`` for 3x3 filters.

    Parameters
    ----------
    dy : ndarray of shape (N, F, OH, OW), C-contiguous, dtype of ``x``
    x : ndarray of shape (N, C, H, W), C-contiguous float32 or float64
    w : ndarray of shape (F, C, 3, 3)
    pad : int or (int, int)
    need_dx : bool
    loops : module
        The backend's tile loops.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), or None
    dw : ndarray of shape (F, C, 3, 3)
    db : ndarray of shape (F,)
    """
    n, c = x.shape[:2]
    f = w.shape[0]
    geo = _Tiling(x.shape, f, pad, x.itemsize)
    ut = filter_tiles(w).transpose(0, 2, 1) if need_dx else None  # (16, C, F)
    dx = np.empty(x.shape, dtype=x.dtype) if need_dx else None  # every pixel gets written

    def run(first, last):
        vbuf, mbuf = geo.buffer(c, x.dtype), geo.buffer(f, x.dtype)
        du = np.zeros((16, f, c), dtype=x.dtype)
        for lo, hi in geo.chunks(first, last):
            v = geo.view(vbuf, c, hi - lo)  # (16, C, S*T)
            dm = geo.view(mbuf, f, hi - lo)  # (16, F, S*T)
            loops.input_tiles(x, lo, v, geo.ph, geo.pw, geo.th, geo.tw)
            loops.output_grad_tiles(dy, lo, dm, geo.th, geo.tw)
            du += np.matmul(dm, v.transpose(0, 2, 1))  # (16, F, C)
            if need_dx:
                dv = np.matmul(ut, dm, out=v)  # (16, C, S*T), over V: it is no longer needed
                loops.input_grad_tiles(dv, dx, lo, geo.ph, geo.pw, geo.th, geo.tw)
        return du

    du = sum(over_samples(n, run)).reshape(4, 4, f, c)  # (4, 4, F, C)
    g = G.astype(x.dtype)
    dw = np.einsum("ai,abfc,bj->fcij", g, du, g)  # (F, C, 3, 3)
    return dx, np.ascontiguousarray(dw), dy.sum(axis=(0, 2, 3))
