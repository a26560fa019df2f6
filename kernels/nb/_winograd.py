"""Winograd F(2x2, 3x3) tile transforms, Numba: the compiled loops of ``kernels/_winograd.py``.

A 4x4 input tile ``d`` at rows ``2*ty - ph ...``, columns ``2*tx - pw ...`` of a plane (zero
outside it) becomes ``B^T d B``; a 4x4 product tile ``m`` becomes the 2x2 output tile
``A^T m A`` (clipped at the plane's edge). The backward loops are their adjoints. Tile tensors
are ``(16, channels, S*TH*TW)``: entry ``k = 4*a + b`` of the 4x4 tile of image ``s`` and tile
``t = ty*TW + tx`` lies at ``[k, channel, s*TH*TW + t]``. The 16 planes ``[k]`` may lie any
distance apart (``kernels/_winograd.py`` skews them), each C-contiguous, so a tile tensor is a
strided (``'A'`` layout) array to Numba, indexed as ``v[k, channel, i]``. Each loop handles
images ``n0 ...`` of the batch, as many as the tile tensor holds, serially and without the GIL
(the caller splits the batch over threads); the public functions check the sizes, as the Cython
loops of ``kernels/cy/_winograd.pyx`` do, and call them.

The loops go through a plane one row of tiles at a time, as whole rows: the input plane is first
copied into a zero-padded scratch plane ``P (2*TH + 2, 2*TW + 2)`` (tile ``(ty, tx)`` reads
``P[2*ty : 2*ty + 4, 2*tx : 2*tx + 4]``), the row transform combines four rows of ``P``
elementwise, and the column transform writes each of the 16 planes' ``TW`` entries of the tile
row contiguously.
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
    _output_grad_loop(dy, n0, dm, th, tw, ns)


@jit()
def _input_loop(x, n0, v, ph, pw, th, tw, ns):
    """:func:`input_tiles` for ``ns`` images, after the checks."""
    c, h, w = x.shape[1], x.shape[2], x.shape[3]
    tiles, rows, cols = th * tw, 2 * th + 2, 2 * tw + 2
    p = np.empty((rows, cols), dtype=x.dtype)  # the zero-padded plane
    t = np.empty((4, cols), dtype=x.dtype)  # B^T of the tile row's four rows of P
    lo = min(pw, cols)  # columns lo:hi of P hold x's columns lo-pw:hi-pw, the rest 0
    hi = max(lo, min(cols, w + pw))
    for s in range(ns):
        for ci in range(c):
            for r in range(rows):
                yy = r - ph
                if yy < 0 or yy >= h or hi == lo:
                    for q in range(cols):
                        p[r, _U(q)] = 0
                    continue
                for q in range(lo):
                    p[r, _U(q)] = 0
                for q in range(lo, hi):
                    p[r, _U(q)] = x[n0 + s, ci, yy, _U(q - pw)]
                for q in range(hi, cols):
                    p[r, _U(q)] = 0
            for ty in range(th):
                r0 = 2 * ty
                for q in range(cols):
                    p0, p1 = p[r0, _U(q)], p[r0 + 1, _U(q)]
                    p2, p3 = p[r0 + 2, _U(q)], p[r0 + 3, _U(q)]
                    t[0, _U(q)] = p0 - p2
                    t[1, _U(q)] = p1 + p2
                    t[2, _U(q)] = p2 - p1
                    t[3, _U(q)] = p1 - p3
                base = s * tiles + ty * tw
                for a in range(4):  # entries 4a .. 4a+3: the same combination along columns
                    k = 4 * a
                    for tx in range(tw):
                        t0, t1 = t[a, _U(2 * tx)], t[a, _U(2 * tx + 1)]
                        t2, t3 = t[a, _U(2 * tx + 2)], t[a, _U(2 * tx + 3)]
                        i = _U(base + tx)
                        v[k, ci, i] = t0 - t2
                        v[k + 1, ci, i] = t1 + t2
                        v[k + 2, ci, i] = t2 - t1
                        v[k + 3, ci, i] = t1 - t3


@jit()
def _input_grad_loop(dv, dx, n0, ph, pw, th, tw, ns):
    """:func:`input_grad_tiles` for ``ns`` images, after the checks."""
    c, h, w = dx.shape[1], dx.shape[2], dx.shape[3]
    tiles, rows, cols = th * tw, 2 * th + 2, 2 * tw + 2
    p = np.empty((rows, cols), dtype=dx.dtype)  # the padded plane's gradient
    t = np.empty((4, 4, tw), dtype=dx.dtype)  # B e of the tile row, entry (i, b)
    for s in range(ns):
        for ci in range(c):
            for r in range(rows):
                for q in range(cols):
                    p[r, _U(q)] = 0
            for ty in range(th):
                base = s * tiles + ty * tw
                for b in range(4):  # t[:, b] = B e[:, b] (B = the transpose of B^T)
                    for tx in range(tw):
                        i = _U(base + tx)
                        e0, e1 = dv[b, ci, i], dv[4 + b, ci, i]
                        e2, e3 = dv[8 + b, ci, i], dv[12 + b, ci, i]
                        t[0, b, _U(tx)] = e0
                        t[1, b, _U(tx)] = e1 - e2 + e3
                        t[2, b, _U(tx)] = e1 + e2 - e0
                        t[3, b, _U(tx)] = -e3
                for i in range(4):  # row 2ty + i of P gets t[i] B^T, tiles overlapping by 2
                    r = 2 * ty + i
                    for tx in range(tw):
                        t0, t1 = t[i, 0, _U(tx)], t[i, 1, _U(tx)]
                        t2, t3 = t[i, 2, _U(tx)], t[i, 3, _U(tx)]
                        p[r, _U(2 * tx)] += t0
                        p[r, _U(2 * tx + 1)] += t1 - t2 + t3
                    for tx in range(tw):
                        t0, t1 = t[i, 0, _U(tx)], t[i, 1, _U(tx)]
                        t2, t3 = t[i, 2, _U(tx)], t[i, 3, _U(tx)]
                        p[r, _U(2 * tx + 2)] += t1 + t2 - t0
                        p[r, _U(2 * tx + 3)] -= t3
            for yy in range(h):
                for q in range(w):
                    dx[n0 + s, ci, yy, _U(q)] = p[yy + ph, _U(q + pw)]


@jit()
def _output_loop(m, bias, y, n0, th, tw, ns):
    """:func:`output_tiles` for ``ns`` images, after the checks."""
    f, oh, ow = y.shape[1], y.shape[2], y.shape[3]
    tiles = th * tw
    r = np.empty((2, 4, tw), dtype=y.dtype)  # A^T m of the tile row, entry (i, b)
    out = np.empty((2, 2 * tw), dtype=y.dtype)  # the tile row's two output rows, unclipped
    for s in range(ns):
        for fi in range(f):
            bf = bias[fi]
            for ty in range(th):
                base = s * tiles + ty * tw
                for b in range(4):  # r[:, b] = A^T m[:, b]
                    for tx in range(tw):
                        i = _U(base + tx)
                        e0, e1 = m[b, fi, i], m[4 + b, fi, i]
                        e2, e3 = m[8 + b, fi, i], m[12 + b, fi, i]
                        r[0, b, _U(tx)] = e0 + e1 + e2
                        r[1, b, _U(tx)] = e1 - e2 - e3
                for i in range(2):  # output row 2ty + i = r[i] A + bias
                    for tx in range(tw):
                        r0, r1 = r[i, 0, _U(tx)], r[i, 1, _U(tx)]
                        r2, r3 = r[i, 2, _U(tx)], r[i, 3, _U(tx)]
                        out[i, _U(2 * tx)] = r0 + r1 + r2 + bf
                        out[i, _U(2 * tx + 1)] = r1 - r2 - r3 + bf
                for i in range(min(2, oh - 2 * ty)):
                    for q in range(ow):
                        y[n0 + s, fi, 2 * ty + i, _U(q)] = out[i, _U(q)]


@jit()
def _output_grad_loop(dy, n0, dm, th, tw, ns):
    """:func:`output_grad_tiles` for ``ns`` images, after the checks."""
    f, oh, ow = dy.shape[1], dy.shape[2], dy.shape[3]
    tiles = th * tw
    g = np.zeros((2, 2 * tw), dtype=dy.dtype)  # the tile row's rows of dy; columns past OW stay 0
    r = np.empty((4, 2 * tw), dtype=dy.dtype)  # A g
    for s in range(ns):
        for fi in range(f):
            for ty in range(th):
                for a in range(2):
                    if 2 * ty + a < oh:
                        for q in range(ow):
                            g[a, _U(q)] = dy[n0 + s, fi, 2 * ty + a, _U(q)]
                    else:
                        for q in range(ow):
                            g[a, _U(q)] = 0
                for q in range(2 * tw):  # A has rows 1 0 / 1 1 / 1 -1 / 0 -1
                    g0, g1 = g[0, _U(q)], g[1, _U(q)]
                    r[0, _U(q)] = g0
                    r[1, _U(q)] = g0 + g1
                    r[2, _U(q)] = g0 - g1
                    r[3, _U(q)] = -g1
                base = s * tiles + ty * tw
                for a in range(4):  # entries 4a .. 4a+3 = r[a] A^T
                    k = 4 * a
                    for tx in range(tw):
                        r0, r1 = r[a, _U(2 * tx)], r[a, _U(2 * tx + 1)]
                        i = _U(base + tx)
                        dm[k, fi, i] = r0
                        dm[k + 1, fi, i] = r0 + r1
                        dm[k + 2, fi, i] = r0 - r1
                        dm[k + 3, fi, i] = -r1
