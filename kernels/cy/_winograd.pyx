"""Winograd F(2x2, 3x3) tile transforms, Cython: the compiled loops of ``kernels/_winograd.py``.

A 4x4 input tile ``d`` at rows ``2*ty - ph ...``, columns ``2*tx - pw ...`` of a plane (zero
outside it) becomes ``B^T d B``; a 4x4 product tile ``m`` becomes the 2x2 output tile
``A^T m A`` (clipped at the plane's edge). The backward loops are their adjoints. Tile tensors
are ``(16, channels, tiles)``: entry ``k = 4*a + b`` of the 4x4 tile of image ``s`` and tile
``t = ty*TW + tx`` lies at ``[k, channel, s*TH*TW + t]``. The 16 planes ``[k]`` may lie
any distance apart, each C-contiguous. Each loop handles images ``n0 ...``
of the batch, as many as the tile tensor holds, serially and without the GIL (the caller
splits the batch over threads).

The loops go through a plane one row of tiles at a time, as whole rows: the input plane is first
copied into a zero-padded scratch plane ``P (2*TH + 2, 2*TW + 2)`` (tile ``(ty, tx)`` reads
``P[2*ty : 2*ty + 4, 2*tx : 2*tx + 4]``), the row transform combines four rows of ``P``
elementwise, and the column transform writes each of the 16 planes' ``TW`` entries of the tile
row contiguously. The loops' inner loops are short (``TW``, ``2*TW + 2``), so they cost about
as much as the 16 GEMMs between them (bench/README.md, "Convolution algorithms").
"""

from cython cimport floating
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

include "_util.pxi"


cdef floating* _scratch(Py_ssize_t count, floating kind) except NULL:
    """``count`` uninitialised entries of ``kind``'s type from ``malloc`` (the caller frees)."""
    cdef floating* buf = <floating*> malloc(max(1, count) * sizeof(floating))
    if buf == NULL:
        raise MemoryError(f"winograd scratch of {count} entries")
    return buf


cdef inline void _pad_plane(
    const floating* src, Py_ssize_t h, Py_ssize_t w, Py_ssize_t ph, Py_ssize_t pw,
    floating* p, Py_ssize_t rows, Py_ssize_t cols,
) noexcept nogil:
    """``p (rows, cols)[r, q] = src (h, w)[r - ph, q - pw]``, 0 outside ``src``."""
    cdef Py_ssize_t r, yy
    cdef Py_ssize_t lo = min(pw, cols), hi = max(lo, min(cols, w + pw))
    for r in range(rows):
        yy = r - ph
        if yy < 0 or yy >= h or hi == lo:
            memset(p + r * cols, 0, cols * sizeof(floating))
            continue
        memset(p + r * cols, 0, lo * sizeof(floating))
        memcpy(p + r * cols + lo, src + yy * w + lo - pw, (hi - lo) * sizeof(floating))
        memset(p + r * cols + hi, 0, (cols - hi) * sizeof(floating))


def input_tiles(
    const floating[:, :, :, ::1] x, Py_ssize_t n0, floating[:, :, :] v,
    Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t th, Py_ssize_t tw,
):
    """Fill ``v (16, C, S*TH*TW)`` with ``B^T d B`` of every tile of images ``n0:n0+S`` of ``x``.

    ``B^T`` has rows ``1 0 -1 0 / 0 1 1 0 / 0 -1 1 0 / 0 1 0 -1``.
    """
    cdef Py_ssize_t c = x.shape[1], h = x.shape[2], w = x.shape[3], tiles = th * tw
    cdef Py_ssize_t s, ci, ty, tx, a, q, ns = v.shape[2] // tiles
    cdef Py_ssize_t step = v.strides[0] // sizeof(floating)
    cdef Py_ssize_t rows = 2 * th + 2, cols = 2 * tw + 2
    cdef const floating* p0
    cdef const floating* p1
    cdef const floating* p2
    cdef const floating* p3
    cdef floating* ta
    cdef floating* dst
    fits(v.strides[2] == sizeof(floating) or v.shape[2] < 2, "v's rows must be contiguous")
    fits(v.shape[0] == 16 and v.shape[1] == c and v.shape[2] == ns * tiles, "v must be (16, C, S*T)")
    fits(n0 >= 0 and n0 + ns <= x.shape[0], "images n0:n0+S must lie in x")
    cdef floating* p = _scratch(rows * cols + 4 * cols, <floating> 0)
    cdef floating* t = p + rows * cols  # (4, cols): B^T of the tile row's four rows of P
    with nogil:
        for s in range(ns):
            for ci in range(c):
                _pad_plane(&x[n0 + s, ci, 0, 0], h, w, ph, pw, p, rows, cols)
                for ty in range(th):
                    p0 = p + 2 * ty * cols
                    p1 = p0 + cols
                    p2 = p1 + cols
                    p3 = p2 + cols
                    for q in range(cols):
                        t[q] = p0[q] - p2[q]
                        t[cols + q] = p1[q] + p2[q]
                        t[2 * cols + q] = p2[q] - p1[q]
                        t[3 * cols + q] = p1[q] - p3[q]
                    for a in range(4):  # entries 4a .. 4a+3: the same combination along columns
                        ta = t + a * cols
                        dst = &v[4 * a, ci, s * tiles + ty * tw]
                        for tx in range(tw):
                            dst[tx] = ta[2 * tx] - ta[2 * tx + 2]
                            dst[step + tx] = ta[2 * tx + 1] + ta[2 * tx + 2]
                            dst[2 * step + tx] = ta[2 * tx + 2] - ta[2 * tx + 1]
                            dst[3 * step + tx] = ta[2 * tx + 1] - ta[2 * tx + 3]
    free(p)


def input_grad_tiles(
    const floating[:, :, :] dv, floating[:, :, :, ::1] dx, Py_ssize_t n0,
    Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t th, Py_ssize_t tw,
):
    """Write into images ``n0:n0+S`` of ``dx`` the sum of ``B e B^T`` over the tiles ``e`` of
    ``dv (16, C, S*TH*TW)``: the adjoint of :func:`input_tiles` (entries in the padding dropped).

    Every pixel of those images is written (``dx`` need not be zeroed).
    """
    cdef Py_ssize_t c = dx.shape[1], h = dx.shape[2], w = dx.shape[3], tiles = th * tw
    cdef Py_ssize_t s, ci, ty, tx, i, b, yy, ns = dv.shape[2] // tiles
    cdef Py_ssize_t step = dv.strides[0] // sizeof(floating)
    cdef Py_ssize_t rows = 2 * th + 2, cols = 2 * tw + 2
    cdef const floating* e0
    cdef const floating* e1
    cdef const floating* e2
    cdef const floating* e3
    cdef floating* ti
    cdef floating* row
    fits(dv.strides[2] == sizeof(floating) or dv.shape[2] < 2, "dv's rows must be contiguous")
    fits(dv.shape[0] == 16 and dv.shape[1] == c and dv.shape[2] == ns * tiles, "dv must be (16, C, S*T)")
    fits(n0 >= 0 and n0 + ns <= dx.shape[0], "images n0:n0+S must lie in dx")
    cdef floating* p = _scratch(rows * cols + 16 * tw, <floating> 0)
    cdef floating* t = p + rows * cols  # (4, 4, tw): B e of the tile row, entry (i, b)
    with nogil:
        for s in range(ns):
            for ci in range(c):
                memset(p, 0, rows * cols * sizeof(floating))
                for ty in range(th):
                    for b in range(4):  # t[:, b] = B e[:, b] (B = the transpose of B^T above)
                        e0 = &dv[b, ci, s * tiles + ty * tw]
                        e1 = e0 + 4 * step
                        e2 = e1 + 4 * step
                        e3 = e2 + 4 * step
                        for tx in range(tw):
                            t[b * tw + tx] = e0[tx]
                            t[(4 + b) * tw + tx] = e1[tx] - e2[tx] + e3[tx]
                            t[(8 + b) * tw + tx] = e1[tx] + e2[tx] - e0[tx]
                            t[(12 + b) * tw + tx] = -e3[tx]
                    for i in range(4):  # row 2ty + i of P gets t[i] B^T, tiles overlapping by 2
                        ti = t + 4 * i * tw
                        row = p + (2 * ty + i) * cols
                        for tx in range(tw):
                            row[2 * tx] += ti[tx]
                            row[2 * tx + 1] += ti[tw + tx] - ti[2 * tw + tx] + ti[3 * tw + tx]
                        for tx in range(tw):
                            row[2 * tx + 2] += ti[tw + tx] + ti[2 * tw + tx] - ti[tx]
                            row[2 * tx + 3] -= ti[3 * tw + tx]
                for yy in range(h):
                    memcpy(&dx[n0 + s, ci, yy, 0], p + (yy + ph) * cols + pw, w * sizeof(floating))
    free(p)


def output_tiles(
    const floating[:, :, :] m, const floating[::1] bias, floating[:, :, :, ::1] y,
    Py_ssize_t n0, Py_ssize_t th, Py_ssize_t tw,
):
    """Write ``A^T m A + bias[f]`` of every tile of ``m (16, F, S*TH*TW)`` into images
    ``n0:n0+S`` of ``y (N, F, OH, OW)``, clipped at its edges.

    ``A^T`` has rows ``1 1 1 0 / 0 1 -1 -1``.
    """
    cdef Py_ssize_t f = y.shape[1], oh = y.shape[2], ow = y.shape[3], tiles = th * tw
    cdef Py_ssize_t s, fi, ty, tx, i, b, ns = m.shape[2] // tiles
    cdef Py_ssize_t step = m.strides[0] // sizeof(floating)
    cdef const floating* e0
    cdef const floating* e1
    cdef const floating* e2
    cdef const floating* e3
    cdef floating* ri
    cdef floating* out
    cdef floating bf
    fits(m.strides[2] == sizeof(floating) or m.shape[2] < 2, "m's rows must be contiguous")
    fits(m.shape[0] == 16 and m.shape[1] == f and m.shape[2] == ns * tiles, "m must be (16, F, S*T)")
    fits(bias.shape[0] == f, "bias must have F entries")
    fits(n0 >= 0 and n0 + ns <= y.shape[0], "images n0:n0+S must lie in y")
    cdef floating* r = _scratch(8 * tw + 4 * tw, <floating> 0)  # (2, 4, tw)
    out = r + 8 * tw  # (2, 2*tw): the tile row's two output rows, before clipping
    with nogil:
        for s in range(ns):
            for fi in range(f):
                bf = bias[fi]
                for ty in range(th):
                    for b in range(4):  # r[:, b] = A^T m[:, b]
                        e0 = &m[b, fi, s * tiles + ty * tw]
                        e1 = e0 + 4 * step
                        e2 = e1 + 4 * step
                        e3 = e2 + 4 * step
                        for tx in range(tw):
                            r[b * tw + tx] = e0[tx] + e1[tx] + e2[tx]
                            r[(4 + b) * tw + tx] = e1[tx] - e2[tx] - e3[tx]
                    for i in range(2):  # output row 2ty + i = r[i] A + bias
                        ri = r + 4 * i * tw
                        for tx in range(tw):
                            out[2 * i * tw + 2 * tx] = ri[tx] + ri[tw + tx] + ri[2 * tw + tx] + bf
                            out[2 * i * tw + 2 * tx + 1] = (
                                ri[tw + tx] - ri[2 * tw + tx] - ri[3 * tw + tx] + bf
                            )
                    for i in range(min(2, oh - 2 * ty)):
                        memcpy(&y[n0 + s, fi, 2 * ty + i, 0], out + 2 * i * tw, ow * sizeof(floating))
    free(r)


def output_grad_tiles(
    const floating[:, :, :, ::1] dy, Py_ssize_t n0, floating[:, :, :] dm,
    Py_ssize_t th, Py_ssize_t tw,
):
    """Fill ``dm (16, F, S*TH*TW)`` with ``A g A^T`` of every 2x2 tile ``g`` of images
    ``n0:n0+S`` of ``dy (N, F, OH, OW)`` (zero past its edges): the adjoint of
    :func:`output_tiles` without the bias."""
    cdef Py_ssize_t f = dy.shape[1], oh = dy.shape[2], ow = dy.shape[3], tiles = th * tw
    cdef Py_ssize_t s, fi, ty, tx, a, q, ns = dm.shape[2] // tiles
    cdef Py_ssize_t step = dm.strides[0] // sizeof(floating)
    cdef floating* ra
    cdef floating* dst
    fits(dm.strides[2] == sizeof(floating) or dm.shape[2] < 2, "dm's rows must be contiguous")
    fits(dm.shape[0] == 16 and dm.shape[1] == f and dm.shape[2] == ns * tiles, "dm must be (16, F, S*T)")
    fits(n0 >= 0 and n0 + ns <= dy.shape[0], "images n0:n0+S must lie in dy")
    cdef floating* g = _scratch(6 * 2 * tw, <floating> 0)
    cdef floating* r = g + 4 * tw  # (4, 2*tw): A g of the tile row's rows g (2, 2*tw)
    memset(g, 0, 4 * tw * sizeof(floating))  # columns past OW stay 0
    with nogil:
        for s in range(ns):
            for fi in range(f):
                for ty in range(th):
                    for a in range(2):
                        if 2 * ty + a < oh:
                            memcpy(g + 2 * a * tw, &dy[n0 + s, fi, 2 * ty + a, 0], ow * sizeof(floating))
                        else:
                            memset(g + 2 * a * tw, 0, ow * sizeof(floating))
                    for q in range(2 * tw):  # A has rows 1 0 / 1 1 / 1 -1 / 0 -1
                        r[q] = g[q]
                        r[2 * tw + q] = g[q] + g[2 * tw + q]
                        r[4 * tw + q] = g[q] - g[2 * tw + q]
                        r[6 * tw + q] = -g[2 * tw + q]
                    for a in range(4):  # entries 4a .. 4a+3 = r[a] A^T
                        ra = r + 2 * a * tw
                        dst = &dm[4 * a, fi, s * tiles + ty * tw]
                        for tx in range(tw):
                            dst[tx] = ra[2 * tx]
                            dst[step + tx] = ra[2 * tx] + ra[2 * tx + 1]
                            dst[2 * step + tx] = ra[2 * tx] - ra[2 * tx + 1]
                            dst[3 * step + tx] = -ra[2 * tx + 1]
    free(g)
