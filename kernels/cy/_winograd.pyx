"""Winograd F(2x2, 3x3) tile transforms, Cython: the compiled loops of ``kernels/_winograd.py``.

A 4x4 input tile ``d`` at rows ``2*ty - ph ...``, columns ``2*tx - pw ...`` of a plane (zero
outside it) becomes ``B^T d B``; a 4x4 product tile ``m`` becomes the 2x2 output tile
``A^T m A`` (clipped at the plane's edge). The backward loops are their adjoints. Tile tensors
are ``(16, channels, tiles)``: entry ``k = 4*a + b`` of the 4x4 tile of image ``s`` and tile
``t = ty*TW + tx`` lies at ``[k, channel, s*TH*TW + t]``. The 16 planes ``[k]`` may lie
any distance apart, each C-contiguous. Each loop handles images ``n0 ...``
of the batch, as many as the tile tensor holds, serially and without the GIL (the caller
splits the batch over threads).

The loops are in C (``_winograd_tiles.h``, for ``restrict``), in two kinds of steps:

- copies between a plane and its polyphase form, arrays indexed by the tile ``t`` alone (the
  input plane as eight arrays ``P[2i + a][2(j + e) + b]``, an output plane as four);
- the transforms proper, each one loop whose every access is ``array[t]``, which the compiler
  vectorises: over the tiles of one plane (input), or of one channel's planes in the chunk
  (output, output gradient, input gradient; the latter then merges the overlapping windows
  column-wise in one more such loop). Row by row, over ``TW`` tiles with stride-2 gathers, the
  loops did not vectorise and took twice as long (bench/README.md, "Convolution algorithms").
"""

from cython cimport floating
from libc.stdlib cimport calloc, free

include "_util.pxi"

cdef extern from *:
    """
    #include <stddef.h>
    #include <string.h>
    #define REAL float
    #define WG(name) name##_f
    #include "_winograd_tiles.h"
    #undef REAL
    #undef WG
    #define REAL double
    #define WG(name) name##_d
    #include "_winograd_tiles.h"
    #undef REAL
    #undef WG
    """
    void pack_input_f(const float*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                      Py_ssize_t, Py_ssize_t, float*) noexcept nogil
    void pack_input_d(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                      Py_ssize_t, Py_ssize_t, double*) noexcept nogil
    void input_transform_f(const float*, Py_ssize_t, Py_ssize_t, Py_ssize_t, float*,
                           Py_ssize_t) noexcept nogil
    void input_transform_d(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, double*,
                           Py_ssize_t) noexcept nogil
    void output_transform_f(const float*, Py_ssize_t, float, Py_ssize_t, float*) noexcept nogil
    void output_transform_d(const double*, Py_ssize_t, double, Py_ssize_t, double*) noexcept nogil
    void unpack_output_f(const float*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                         float*) noexcept nogil
    void unpack_output_d(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                         double*) noexcept nogil
    void pack_output_grad_f(const float*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                            float*) noexcept nogil
    void pack_output_grad_d(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                            double*) noexcept nogil
    void output_grad_transform_f(const float*, Py_ssize_t, float*, Py_ssize_t) noexcept nogil
    void output_grad_transform_d(const double*, Py_ssize_t, double*, Py_ssize_t) noexcept nogil
    void input_grad_transform_f(const float*, Py_ssize_t, Py_ssize_t, float*) noexcept nogil
    void input_grad_transform_d(const double*, Py_ssize_t, Py_ssize_t, double*) noexcept nogil
    void merge_columns_f(const float*, Py_ssize_t, Py_ssize_t, float*, float*) noexcept nogil
    void merge_columns_d(const double*, Py_ssize_t, Py_ssize_t, double*, double*) noexcept nogil
    void unpack_input_grad_f(const float*, const float*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                             Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                             const float*, float*, float*) noexcept nogil
    void unpack_input_grad_d(const double*, const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                             Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                             const double*, double*, double*) noexcept nogil


cdef floating* _zeros(Py_ssize_t count, floating kind) except NULL:
    """``count`` zeroed entries of ``kind``'s type from ``calloc`` (the caller frees)."""
    cdef floating* buf = <floating*> calloc(max(1, count), sizeof(floating))
    if buf == NULL:
        raise MemoryError(f"winograd scratch of {count} entries")
    return buf


cdef Py_ssize_t _images(const floating[:, :, :] t, str name, str channels, Py_ssize_t rows,
                        Py_ssize_t tiles) except -1:
    """Check that the tile tensor ``t`` is ``(16, rows, S*tiles)`` with contiguous rows (its
    shape's letters ``channels``, ``C`` or ``F``, for the message); return ``S``."""
    cdef Py_ssize_t ns = t.shape[2] // tiles
    fits(t.strides[2] == sizeof(floating) or t.shape[2] < 2, f"{name}'s rows must be contiguous")
    fits(
        t.shape[0] == 16 and t.shape[1] == rows and t.shape[2] == ns * tiles,
        f"{name} must be (16, {channels}, S*T)",
    )
    return ns


def input_tiles(
    const floating[:, :, :, ::1] x, Py_ssize_t n0, floating[:, :, :] v,
    Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t th, Py_ssize_t tw,
):
    """Fill ``v (16, C, S*TH*TW)`` with ``B^T d B`` of every tile of images ``n0:n0+S`` of ``x``.

    ``B^T`` has rows ``1 0 -1 0 / 0 1 1 0 / 0 -1 1 0 / 0 1 0 -1``.
    """
    cdef Py_ssize_t c = x.shape[1], h = x.shape[2], w = x.shape[3], tiles = th * tw
    cdef Py_ssize_t s, ci, ns = _images(v, "v", "C", c, tiles)
    cdef Py_ssize_t step = v.strides[0] // sizeof(floating), qn = (th + 1) * tw
    fits(n0 >= 0 and n0 + ns <= x.shape[0], "images n0:n0+S must lie in x")
    fits(2 * th + 2 >= h + ph and 2 * tw + 2 >= w + pw, "the tiles must cover x")
    # the padding entries of Q stay zero: every plane writes the same entries
    cdef floating* q = _zeros(8 * qn, <floating> 0)
    with nogil:
        for s in range(ns):
            for ci in range(c):
                if floating is float:
                    pack_input_f(&x[n0 + s, ci, 0, 0], h, w, ph, pw, tw, qn, q)
                    input_transform_f(q, qn, tw, tiles, &v[0, ci, s * tiles], step)
                else:
                    pack_input_d(&x[n0 + s, ci, 0, 0], h, w, ph, pw, tw, qn, q)
                    input_transform_d(q, qn, tw, tiles, &v[0, ci, s * tiles], step)
    free(q)


def input_grad_tiles(
    const floating[:, :, :] dv, floating[:, :, :, ::1] dx, Py_ssize_t n0,
    Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t th, Py_ssize_t tw,
):
    """Write into images ``n0:n0+S`` of ``dx`` the sum of ``B e B^T`` over the tiles ``e`` of
    ``dv (16, C, S*TH*TW)``: the adjoint of :func:`input_tiles` (entries in the padding dropped).

    Every pixel of those images is written (``dx`` need not be zeroed).
    """
    cdef Py_ssize_t c = dx.shape[1], h = dx.shape[2], w = dx.shape[3], tiles = th * tw
    cdef Py_ssize_t s, ci, ns = _images(dv, "dv", "C", c, tiles)
    cdef Py_ssize_t step = dv.strides[0] // sizeof(floating)
    fits(n0 >= 0 and n0 + ns <= dx.shape[0], "images n0:n0+S must lie in dx")
    fits(2 * th + 2 >= h + ph and 2 * tw + 2 >= w + pw, "the tiles must cover dx")
    cdef Py_ssize_t st = ns * tiles, rows = ns * th
    cdef floating* z = _zeros(24 * st + 8 * rows + 3 * tw + 2, <floating> 0)  # (16, S*T)
    cdef floating* hq = z + 16 * st  # (8, S*T)
    cdef floating* eq = hq + 8 * st  # (8, S*TH)
    cdef floating* zero = eq + 8 * rows  # TW zeros
    cdef floating* line = zero + tw  # a padded row, 2*TW + 2
    with nogil:
        for ci in range(c):
            if floating is float:
                input_grad_transform_f(&dv[0, ci, 0], step, st, z)
                merge_columns_f(z, st, tw, hq, eq)
            else:
                input_grad_transform_d(&dv[0, ci, 0], step, st, z)
                merge_columns_d(z, st, tw, hq, eq)
            for s in range(ns):
                if floating is float:
                    unpack_input_grad_f(
                        hq + s * tiles, eq + s * th, st, rows, th, tw, h, w, ph, pw, zero, line,
                        &dx[n0 + s, ci, 0, 0],
                    )
                else:
                    unpack_input_grad_d(
                        hq + s * tiles, eq + s * th, st, rows, th, tw, h, w, ph, pw, zero, line,
                        &dx[n0 + s, ci, 0, 0],
                    )
    free(z)


def output_tiles(
    const floating[:, :, :] m, const floating[::1] bias, floating[:, :, :, ::1] y,
    Py_ssize_t n0, Py_ssize_t th, Py_ssize_t tw,
):
    """Write ``A^T m A + bias[f]`` of every tile of ``m (16, F, S*TH*TW)`` into images
    ``n0:n0+S`` of ``y (N, F, OH, OW)``, clipped at its edges.

    ``A^T`` has rows ``1 1 1 0 / 0 1 -1 -1``.
    """
    cdef Py_ssize_t f = y.shape[1], oh = y.shape[2], ow = y.shape[3], tiles = th * tw
    cdef Py_ssize_t s, fi, ns = _images(m, "m", "F", f, tiles)
    cdef Py_ssize_t step = m.strides[0] // sizeof(floating)
    fits(bias.shape[0] == f, "bias must have F entries")
    fits(n0 >= 0 and n0 + ns <= y.shape[0], "images n0:n0+S must lie in y")
    fits(2 * th >= oh and 2 * tw >= ow, "the tiles must cover y")
    cdef Py_ssize_t st = ns * tiles
    cdef floating* yq = _zeros(4 * st, <floating> 0)  # (4, S*T): output entry (i, j) of tile t
    with nogil:
        for fi in range(f):
            if floating is float:
                output_transform_f(&m[0, fi, 0], step, bias[fi], st, yq)
            else:
                output_transform_d(&m[0, fi, 0], step, bias[fi], st, yq)
            for s in range(ns):
                if floating is float:
                    unpack_output_f(yq + s * tiles, st, tw, oh, ow, &y[n0 + s, fi, 0, 0])
                else:
                    unpack_output_d(yq + s * tiles, st, tw, oh, ow, &y[n0 + s, fi, 0, 0])
    free(yq)


def output_grad_tiles(
    const floating[:, :, :, ::1] dy, Py_ssize_t n0, floating[:, :, :] dm,
    Py_ssize_t th, Py_ssize_t tw,
):
    """Fill ``dm (16, F, S*TH*TW)`` with ``A g A^T`` of every 2x2 tile ``g`` of images
    ``n0:n0+S`` of ``dy (N, F, OH, OW)`` (zero past its edges): the adjoint of
    :func:`output_tiles` without the bias."""
    cdef Py_ssize_t f = dy.shape[1], oh = dy.shape[2], ow = dy.shape[3], tiles = th * tw
    cdef Py_ssize_t s, fi, ns = _images(dm, "dm", "F", f, tiles)
    cdef Py_ssize_t step = dm.strides[0] // sizeof(floating)
    fits(n0 >= 0 and n0 + ns <= dy.shape[0], "images n0:n0+S must lie in dy")
    fits(2 * th >= oh and 2 * tw >= ow, "the tiles must cover dy")
    cdef Py_ssize_t st = ns * tiles
    # (4, S*T); the entries past dy's edges stay zero: every plane writes the same entries
    cdef floating* gq = _zeros(4 * st, <floating> 0)
    with nogil:
        for fi in range(f):
            for s in range(ns):
                if floating is float:
                    pack_output_grad_f(&dy[n0 + s, fi, 0, 0], oh, ow, st, tw, gq + s * tiles)
                else:
                    pack_output_grad_d(&dy[n0 + s, fi, 0, 0], oh, ow, st, tw, gq + s * tiles)
            if floating is float:
                output_grad_transform_f(gq, st, &dm[0, fi, 0], step)
            else:
                output_grad_transform_d(gq, st, &dm[0, fi, 0], step)
    free(gq)
