"""Winograd F(2x2, 3x3) tile transforms, Numba: the compiled loops of ``kernels/_winograd.py``.

A 4x4 input tile ``d`` at rows ``2*ty - ph ...``, columns ``2*tx - pw ...`` of a plane (zero
outside it) becomes ``B^T d B``; a 4x4 product tile ``m`` becomes the 2x2 output tile
``A^T m A`` (clipped at the plane's edge). The backward loops are their adjoints. Tile tensors
are ``(16, channels, S*TH*TW)``: entry ``k = 4*a + b`` of the 4x4 tile of image ``s`` and tile
``t = ty*TW + tx`` lies at ``[k, channel, s*TH*TW + t]``. The 16 planes ``[k]`` may lie any
distance apart (``kernels/_winograd.py`` skews them), each C-contiguous. Each loop handles
images ``n0 ...`` of the batch, as many as the tile tensor holds, serially and without the GIL
(the caller splits the batch over threads); the public functions check the sizes, as the Cython
loops of ``kernels/cy/_winograd.pyx`` do, and call them.

Each plane goes through two steps, with the algorithm and layout of the Cython loops
(``kernels/cy/_winograd_tiles.h``):

- a copy between the plane and its polyphase form, arrays indexed by the tile ``t`` alone: the
  zero-padded input plane ``P (2*TH + 2, 2*TW + 2)`` as eight arrays of ``(TH + 1)*TW`` entries,
  ``Q[4*a + 2*b + e, i*TW + j] = P[2*i + a, 2*(j + e) + b]`` (``a, b, e`` in 0, 1), so that
  entry ``(r, c)`` of tile ``t``'s 4x4 window is ``Q[4*(r&1) + 2*(c&1) + (c>>1), t + (r>>1)*TW]``;
  an output plane or its gradient as four arrays of ``T = TH*TW`` entries,
  ``Y[2*i + j, t] = y[2*ty + i, 2*tx + j]``; the input gradient as tile ``t``'s contributions
  ``Z[4*r + c, t]`` to padded position ``(2*ty + r, 2*tx + c)``, summed row by row;
- the transform proper: loops over all the plane's tiles whose every access is
  ``array[offset + t]``, which LLVM vectorises (row by row, over ``TW`` tiles with stride-2
  gathers, as this module did before, it did not).

For Numba, three things differ from the C:

- LLVM does not know that the arrays do not overlap (C has ``restrict``): it vectorises a loop
  only behind run-time checks that no array written overlaps another one accessed, and gives up
  beyond 128 such pairs. The output transform (16 arrays read, 4 written) is one loop, as in the
  C; the three others (16 arrays written or 16 read on each side) are one loop per row of the
  tile, each writing 4 arrays.
- The rows ``[:, channel]`` of a tile tensor's 16 planes are one C-contiguous 1-D array indexed
  with offsets (:func:`_plane_rows`): through a 3-D array of strides unknown at compile time the
  accesses do not vectorise.
- The copies go through a zero-padded scratch row of ``P`` (or of its gradient), so that each
  row is a few whole-row loops without edge cases (``Q``'s columns in the padding get the
  scratch row's zeros). Scratch is allocated once per call; its padding entries (the scratch
  rows', ``Q``'s rows outside the plane, ``G``'s past the plane's edges, a tile row of zeros
  after ``Z``) are zeroed then and never written: every plane writes the same entries.

The public functions check, as the Cython ones do, that the tiles cover the plane; the pads
must be at least 0.
"""

import numpy as np

from ._config import jit
from ._index import _U


def _fits(ok, what):
    """Raise ``ValueError(what)`` unless ``ok``: the size checks of the Cython loops."""
    if not ok:
        raise ValueError(what)


def _tile_images(t, name, channels, rows, tiles):
    """Check that the tile tensor ``t`` is ``(16, rows, S*tiles)`` with contiguous rows (its
    shape's letters ``channels``, ``C`` or ``F``, for the message); return ``S``."""
    ns = t.shape[2] // tiles
    _fits(t.strides[2] == t.itemsize or t.shape[2] < 2, f"{name}'s rows must be contiguous")
    _fits(
        t.shape[0] == 16 and t.shape[1] == rows and t.shape[2] == ns * tiles,
        f"{name} must be (16, {channels}, S*T)",
    )
    return ns


def input_tiles(x, n0, v, ph, pw, th, tw):
    """Fill ``v`` with ``B^T d B`` of every tile ``d`` of images ``n0:n0+S`` of ``x``.

    ``B^T`` has rows ``1 0 -1 0 / 0 1 1 0 / 0 -1 1 0 / 0 1 0 -1``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), C-contiguous float32 or float64
    n0 : int
        First image.
    v : ndarray of shape (16, C, S*TH*TW), dtype of ``x``
        The tile tensor, written; its rows contiguous, its planes any distance apart.
    ph, pw : int
        Padding of ``x``.
    th, tw : int
        Tile rows and columns of a plane: ``(OH + 1) // 2`` and ``(OW + 1) // 2``.
    """
    ns = _tile_images(v, "v", "C", x.shape[1], th * tw)
    _fits(n0 >= 0 and n0 + ns <= x.shape[0], "images n0:n0+S must lie in x")
    _fits(2 * th + 2 >= x.shape[2] + ph and 2 * tw + 2 >= x.shape[3] + pw, "the tiles must cover x")
    _input_loop(x, n0, v, ph, pw, th, tw, ns)


def input_grad_tiles(dv, dx, n0, ph, pw, th, tw):
    """Write into images ``n0:n0+S`` of ``dx`` the sum of ``B e B^T`` over the tiles ``e`` of
    ``dv``: the adjoint of :func:`input_tiles` (entries in the padding dropped).

    Every pixel of those images is written (``dx`` need not be zeroed).

    Parameters
    ----------
    dv : ndarray of shape (16, C, S*TH*TW), dtype of ``dx``
        Its rows contiguous, its planes any distance apart.
    dx : ndarray of shape (N, C, H, W), C-contiguous float32 or float64
        Written in images ``n0:n0+S``.
    n0 : int
    ph, pw : int
    th, tw : int
    """
    ns = _tile_images(dv, "dv", "C", dx.shape[1], th * tw)
    _fits(n0 >= 0 and n0 + ns <= dx.shape[0], "images n0:n0+S must lie in dx")
    _fits(
        2 * th + 2 >= dx.shape[2] + ph and 2 * tw + 2 >= dx.shape[3] + pw,
        "the tiles must cover dx",
    )
    _input_grad_loop(dv, dx, n0, ph, pw, th, tw, ns)


def output_tiles(m, bias, y, n0, th, tw):
    """Write ``A^T m A + bias[f]`` of every tile of ``m`` into images ``n0:n0+S`` of ``y``,
    clipped at its edges.

    ``A^T`` has rows ``1 1 1 0 / 0 1 -1 -1``.

    Parameters
    ----------
    m : ndarray of shape (16, F, S*TH*TW), dtype of ``y``
        Its rows contiguous, its planes any distance apart.
    bias : ndarray of shape (F,), contiguous, dtype of ``y``
    y : ndarray of shape (N, F, OH, OW), C-contiguous float32 or float64
        Written in images ``n0:n0+S``.
    n0 : int
    th, tw : int
    """
    ns = _tile_images(m, "m", "F", y.shape[1], th * tw)
    _fits(bias.shape[0] == y.shape[1], "bias must have F entries")
    _fits(n0 >= 0 and n0 + ns <= y.shape[0], "images n0:n0+S must lie in y")
    _fits(2 * th >= y.shape[2] and 2 * tw >= y.shape[3], "the tiles must cover y")
    _output_loop(m, bias, y, n0, th, tw, ns)


def output_grad_tiles(dy, n0, dm, th, tw):
    """Fill ``dm`` with ``A g A^T`` of every 2x2 tile ``g`` of images ``n0:n0+S`` of ``dy``
    (zero past its edges): the adjoint of :func:`output_tiles` without the bias.

    Parameters
    ----------
    dy : ndarray of shape (N, F, OH, OW), C-contiguous float32 or float64
    n0 : int
    dm : ndarray of shape (16, F, S*TH*TW), dtype of ``dy``
        The tile tensor, written; its rows contiguous, its planes any distance apart.
    th, tw : int
    """
    ns = _tile_images(dm, "dm", "F", dy.shape[1], th * tw)
    _fits(n0 >= 0 and n0 + ns <= dy.shape[0], "images n0:n0+S must lie in dy")
    _fits(2 * th >= dy.shape[2] and 2 * tw >= dy.shape[3], "the tiles must cover dy")
    _output_grad_loop(dy, n0, dm, th, tw, ns)


# The four matrices of F(2x2, 3x3), applied to a tuple of scalars.


@jit()
def _bt(p):
    """``B^T p``: ``B^T`` has rows ``1 0 -1 0 / 0 1 1 0 / 0 -1 1 0 / 0 1 0 -1``."""
    p0, p1, p2, p3 = p
    return p0 - p2, p1 + p2, p2 - p1, p1 - p3


@jit()
def _b(p):
    """``B p``: ``B`` has rows ``1 0 0 0 / 0 1 -1 1 / -1 1 1 0 / 0 0 0 -1``."""
    p0, p1, p2, p3 = p
    return p0, p1 - p2 + p3, p1 + p2 - p0, -p3


@jit()
def _at(p):
    """``A^T p``: ``A^T`` has rows ``1 1 1 0 / 0 1 -1 -1``."""
    p0, p1, p2, p3 = p
    return p0 + p1 + p2, p1 - p2 - p3


@jit()
def _a(p):
    """``A p``: ``A`` has rows ``1 0 / 1 1 / 1 -1 / 0 -1``."""
    p0, p1 = p
    return p0, p0 + p1, p0 - p1, -p1


# Access to a tile tensor's rows and to the polyphase arrays.


@jit(inline=True)
def _plane_rows(t, r):
    """Row ``r`` of the 16 planes of the tile tensor ``t`` as one C-contiguous array.

    Parameters
    ----------
    t : ndarray of shape (16, R, L)
        Its rows contiguous; its planes any distance apart, in either order (a whole number of
        entries, as the Cython loops assume).
    r : int

    Returns
    -------
    f : ndarray of shape (15*|step| + L,)
        A view of the memory from the lowest of the 16 rows to the end of the highest.
    first, step : int
        ``t[k, r, i] = f[first + k*step + i]``.
    """
    step = t.strides[0] // t.itemsize
    low = 15 if step < 0 else 0  # the plane whose row lies lowest in memory
    span = 15 * abs(step) + t.shape[2]  # entries from the lowest row's start to the highest's end
    rows = np.lib.stride_tricks.as_strided(t[low, r], shape=(span,), strides=(t.itemsize,))
    return np.ascontiguousarray(rows), -low * step, step  # contiguous: a view, not a copy


@jit(inline=True)
def _tile_column(f, o, step, t, b):
    """Column ``b`` (entries ``b, 4 + b, 8 + b, 12 + b``) of tile ``t`` in the tile tensor row
    ``f`` whose plane 0 starts at ``o`` (see :func:`_plane_rows`)."""
    i = o + b * step + t
    return f[_U(i)], f[_U(i + 4 * step)], f[_U(i + 8 * step)], f[_U(i + 12 * step)]


@jit(inline=True)
def _put_row(f, o, step, t, a, p):
    """Write the 4-tuple ``p`` into row ``a`` (entries ``4*a ... 4*a + 3``) of tile ``t`` in the
    tile tensor row ``f`` whose plane 0 starts at ``o``."""
    i = o + 4 * a * step + t
    f[_U(i)], f[_U(i + step)], f[_U(i + 2 * step)], f[_U(i + 3 * step)] = p


@jit(inline=True)
def _window_column(q, tw, t, c):
    """Column ``c`` of tile ``t``'s 4x4 input window: entries ``(0..3, c)`` from ``Q``."""
    k, i = 2 * (c & 1) + (c >> 1), _U(t)
    return q[k, i], q[4 + k, i], q[k, i + _U(tw)], q[4 + k, i + _U(tw)]


# The transforms of one plane: each call is one vectorised loop over its tiles. The row (or
# column) picked from a tuple is a constant in every call, so only its terms are computed.


@jit(inline=True)
def _input_row(q, tw, tiles, a, f, o, step):
    """Row ``a`` of ``B^T d B`` for every tile's window ``d`` (in ``Q (8, (TH+1)*TW)``), into
    the tile tensor row ``f`` whose plane 0 starts at ``o`` (see :func:`_plane_rows`)."""
    for t in range(tiles):
        u0 = _bt(_window_column(q, tw, t, 0))[a]  # row a of u = B^T d, column by column
        u1 = _bt(_window_column(q, tw, t, 1))[a]
        u2 = _bt(_window_column(q, tw, t, 2))[a]
        u3 = _bt(_window_column(q, tw, t, 3))[a]
        _put_row(f, o, step, t, a, _bt((u0, u1, u2, u3)))  # (u B)[a] = B^T u[a]


@jit(inline=True)
def _output_transform(f, o, step, tiles, bias, y):
    """``A^T m A + bias`` of every product tile ``m`` of the tile tensor row ``f`` whose plane 0
    starts at ``o`` (see :func:`_plane_rows`), into ``Y (4, T)``."""
    for t in range(tiles):
        c0 = _at(_tile_column(f, o, step, t, 0))  # the columns of A^T m
        c1 = _at(_tile_column(f, o, step, t, 1))
        c2 = _at(_tile_column(f, o, step, t, 2))
        c3 = _at(_tile_column(f, o, step, t, 3))
        y00, y01 = _at((c0[0], c1[0], c2[0], c3[0]))  # its rows times A
        y10, y11 = _at((c0[1], c1[1], c2[1], c3[1]))
        i = _U(t)
        y[0, i], y[1, i], y[2, i], y[3, i] = y00 + bias, y01 + bias, y10 + bias, y11 + bias


@jit(inline=True)
def _output_grad_row(g, tiles, a, f, o, step):
    """Row ``a`` of ``A g A^T`` for every 2x2 gradient tile ``g`` (in ``G (4, T)``), into the
    tile tensor row ``f`` whose plane 0 starts at ``o``."""
    for t in range(tiles):
        i = _U(t)
        r0 = _a((g[0, i], g[2, i]))[a]  # row a of A g, column by column
        r1 = _a((g[1, i], g[3, i]))[a]
        _put_row(f, o, step, t, a, _a((r0, r1)))


@jit(inline=True)
def _input_grad_row(f, o, step, tiles, r, z):
    """Row ``r`` of ``B e B^T`` for every tile ``e`` of the tile tensor row ``f`` whose plane 0
    starts at ``o``, into ``Z[4*r : 4*r + 4] (4, T)``."""
    for t in range(tiles):
        s0 = _b(_tile_column(f, o, step, t, 0))[r]  # row r of s = B e, column by column
        s1 = _b(_tile_column(f, o, step, t, 1))[r]
        s2 = _b(_tile_column(f, o, step, t, 2))[r]
        s3 = _b(_tile_column(f, o, step, t, 3))[r]
        i = _U(t)
        z[4 * r, i], z[4 * r + 1, i], z[4 * r + 2, i], z[4 * r + 3, i] = _b((s0, s1, s2, s3))


# The copies between a plane and its polyphase form, row by row.


@jit(inline=True)
def _pack_input(xp, ph, pw, th, tw, row, q):
    """Write into ``Q`` the entries of the plane ``xp`` (those the tiles cover).

    Parameters
    ----------
    xp : ndarray of shape (H, W)
    ph, pw : int
    th, tw : int
    row : ndarray of shape (2*TW + 2,)
        Scratch for a row of ``P``: its entries outside ``pw : pw + W`` must be zero and stay so.
    q : ndarray of shape (8, (TH + 1)*TW)
        ``Q``, written in the rows of ``P`` that hold the plane; the others must be zero and
        stay so.
    """
    w = min(xp.shape[1], 2 * tw + 2 - pw)
    for yy in range(min(xp.shape[0], 2 * th + 2 - ph)):
        for col in range(w):
            row[_U(pw + col)] = xp[yy, _U(col)]
        r = yy + ph
        k, o = 4 * (r & 1), (r >> 1) * tw  # Q[k + 2*b + e, o + j] = row[2*(j + e) + b]
        for e in range(2):
            for j in range(tw):
                q[k + e, _U(o + j)] = row[_U(2 * (j + e))]
                q[k + 2 + e, _U(o + j)] = row[_U(2 * (j + e) + 1)]


@jit(inline=True)
def _unpack_output(y, th, tw, out):
    """Write the plane ``out (OH, OW)`` from ``Y (4, T)``, clipped at its edges (and to the part
    the tiles cover)."""
    oh, ow = min(out.shape[0], 2 * th), min(out.shape[1], 2 * tw)
    for yy in range(oh):
        k, o = 2 * (yy & 1), (yy >> 1) * tw
        for j in range(ow // 2):
            out[yy, _U(2 * j)] = y[k, _U(o + j)]
            out[yy, _U(2 * j + 1)] = y[k + 1, _U(o + j)]
        if ow & 1:
            out[yy, _U(ow - 1)] = y[k, _U(o + ow // 2)]


@jit(inline=True)
def _pack_output_grad(gp, th, tw, g):
    """Write into ``G (4, T)`` the entries of the gradient plane ``gp (OH, OW)`` (those the
    tiles cover); the others must be zero already and stay so."""
    oh, ow = min(gp.shape[0], 2 * th), min(gp.shape[1], 2 * tw)
    for yy in range(oh):
        k, o = 2 * (yy & 1), (yy >> 1) * tw
        for j in range(ow // 2):
            g[k, _U(o + j)] = gp[yy, _U(2 * j)]
            g[k + 1, _U(o + j)] = gp[yy, _U(2 * j + 1)]
        if ow & 1:
            g[k, _U(o + ow // 2)] = gp[yy, _U(ow - 1)]


@jit(inline=True)
def _unpack_input_grad(z, ph, pw, th, tw, row, dxp):
    """Write the input gradient plane ``dxp (H, W)``: each pixel gets the sum of the
    contributions in ``Z`` of the (up to four) tiles whose windows cover it.

    Parameters
    ----------
    z : ndarray of shape (16, T + TW)
        ``Z``, then ``TW`` zeros (in place of a tile row missing at the plane's top or bottom).
    ph, pw : int
    th, tw : int
    row : ndarray of shape (max(2*TW + 2, pw + W),)
        Scratch for a row of the padded plane's gradient; its entries past ``2*TW + 2`` must
        be zero and stay so.
    dxp : ndarray of shape (H, W)
        Written.
    """
    tiles = th * tw
    for yy in range(dxp.shape[0]):
        pr = yy + ph  # window row pr&1 of tile row pr>>1, window row pr&1 + 2 of the one above
        k, ty = 4 * (pr & 1), pr >> 1
        o = ty * tw if ty < th else tiles
        oa = (ty - 1) * tw if 0 < ty <= th else tiles
        for j in range(tw):  # window columns 0, 1 of tile column j: row entries 2*j, 2*j + 1
            row[_U(2 * j)] = z[k, _U(o + j)] + z[k + 8, _U(oa + j)]
            row[_U(2 * j + 1)] = z[k + 1, _U(o + j)] + z[k + 9, _U(oa + j)]
        row[_U(2 * tw)] = 0
        row[_U(2 * tw + 1)] = 0
        for j in range(tw):  # window columns 2, 3: row entries 2*j + 2, 2*j + 3
            row[_U(2 * j + 2)] += z[k + 2, _U(o + j)] + z[k + 10, _U(oa + j)]
            row[_U(2 * j + 3)] += z[k + 3, _U(o + j)] + z[k + 11, _U(oa + j)]
        for col in range(dxp.shape[1]):
            dxp[yy, _U(col)] = row[_U(pw + col)]


# The loops over a chunk's planes.


@jit()
def _input_loop(x, n0, v, ph, pw, th, tw, ns):
    """:func:`input_tiles` for ``ns`` images, after the checks."""
    tiles = th * tw
    # their padding entries stay zero: every plane writes the same entries
    q = np.zeros((8, (th + 1) * tw), dtype=x.dtype)  # Q
    row = np.zeros(2 * tw + 2, dtype=x.dtype)  # a row of P
    for ci in range(x.shape[1]):
        f, first, step = _plane_rows(v, ci)
        for s in range(ns):
            _pack_input(x[n0 + s, ci], ph, pw, th, tw, row, q)
            o = first + s * tiles
            _input_row(q, tw, tiles, 0, f, o, step)
            _input_row(q, tw, tiles, 1, f, o, step)
            _input_row(q, tw, tiles, 2, f, o, step)
            _input_row(q, tw, tiles, 3, f, o, step)


@jit()
def _input_grad_loop(dv, dx, n0, ph, pw, th, tw, ns):
    """:func:`input_grad_tiles` for ``ns`` images, after the checks."""
    tiles = th * tw
    # their padding entries stay zero: every plane writes the same entries
    z = np.zeros((16, tiles + tw), dtype=dx.dtype)  # Z, then a tile row of zeros
    row = np.zeros(max(2 * tw + 2, pw + dx.shape[3]), dtype=dx.dtype)  # a row of P's gradient
    for ci in range(dx.shape[1]):
        f, first, step = _plane_rows(dv, ci)
        for s in range(ns):
            o = first + s * tiles
            _input_grad_row(f, o, step, tiles, 0, z)
            _input_grad_row(f, o, step, tiles, 1, z)
            _input_grad_row(f, o, step, tiles, 2, z)
            _input_grad_row(f, o, step, tiles, 3, z)
            _unpack_input_grad(z, ph, pw, th, tw, row, dx[n0 + s, ci])


@jit()
def _output_loop(m, bias, y, n0, th, tw, ns):
    """:func:`output_tiles` for ``ns`` images, after the checks."""
    tiles = th * tw
    yq = np.empty((4, tiles), dtype=y.dtype)  # Y: every entry written for every plane
    for fi in range(y.shape[1]):
        f, first, step = _plane_rows(m, fi)
        for s in range(ns):
            o = first + s * tiles
            _output_transform(f, o, step, tiles, bias[fi], yq)
            _unpack_output(yq, th, tw, y[n0 + s, fi])


@jit()
def _output_grad_loop(dy, n0, dm, th, tw, ns):
    """:func:`output_grad_tiles` for ``ns`` images, after the checks."""
    tiles = th * tw
    # the entries past dy's edges stay zero: every plane writes the same entries
    g = np.zeros((4, tiles), dtype=dy.dtype)  # G, Y's layout
    for fi in range(dy.shape[1]):
        f, first, step = _plane_rows(dm, fi)
        for s in range(ns):
            _pack_output_grad(dy[n0 + s, fi], th, tw, g)
            o = first + s * tiles
            _output_grad_row(g, tiles, 0, f, o, step)
            _output_grad_row(g, tiles, 1, f, o, step)
            _output_grad_row(g, tiles, 2, f, o, step)
            _output_grad_row(g, tiles, 3, f, o, step)
