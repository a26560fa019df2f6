"""The 2x2 stride-2 unpadded windows of ``_pool`` (the common case): one pass per direction.

The windows tile the plane without overlap, so each output reads its four pixels in one loop
iteration (no per-offset passes over the output row), and each backward pass writes every
covered pixel once (no zeroing, no adding). Results equal the general loops' bit for bit.
Textually included by ``_pool.pyx``, after ``_util.pxi``.
"""


cdef inline bint _max_row_2x2(
    const floating* r0, const floating* r1, floating* ym, int64_t* am, Py_ssize_t ow,
) noexcept nogil:
    """One output row of 2x2/2 max pooling from pixel rows ``r0``, ``r1``; True if it saw a NaN.

    Per output, the four pixels in row-major order, a strict ``>`` keeping the first maximum: a
    branch-free loop that vectorises (the NaN-aware compare of ``_max_step`` does not). NaN never
    compares greater, so a row containing one must be redone (``_max_row_2x2_nan``).
    """
    cdef Py_ssize_t ox
    cdef floating m, v
    cdef int64_t a
    cdef bint take, nan = False
    for ox in range(ow):
        m = r0[2 * ox]
        a = 0
        nan |= m != m
        v = r0[2 * ox + 1]
        nan |= v != v
        take = v > m
        m = v if take else m
        a = 1 if take else a
        v = r1[2 * ox]
        nan |= v != v
        take = v > m
        m = v if take else m
        a = 2 if take else a
        v = r1[2 * ox + 1]
        nan |= v != v
        take = v > m
        m = v if take else m
        a = 3 if take else a
        ym[ox] = m
        am[ox] = a
    return nan


cdef inline void _max_row_2x2_nan(
    const floating* r0, const floating* r1, floating* ym, int64_t* am, Py_ssize_t ow,
) noexcept nogil:
    """``_max_row_2x2`` where the first NaN of a window wins, as in ``np.argmax``."""
    cdef Py_ssize_t ox
    cdef floating m
    cdef int32_t a
    for ox in range(ow):
        m = r0[2 * ox]
        a = 0
        _max_step(r0[2 * ox + 1], &m, &a, 1)
        _max_step(r1[2 * ox], &m, &a, 2)
        _max_step(r1[2 * ox + 1], &m, &a, 3)
        ym[ox] = m
        am[ox] = a


def _max_forward_2x2(
    const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y, int64_t[:, :, :, ::1] argmax,
    int nt,
):
    """``_max_forward`` for 2x2 windows at stride 2, pad 0; one thread per plane."""
    cdef Py_ssize_t c = x.shape[1], w = x.shape[3]
    cdef Py_ssize_t oh = y.shape[2], ow = y.shape[3]
    cdef Py_ssize_t t, b, ci, oy
    cdef const floating* r0  # pixel row 2*oy
    fits((x.shape[2] >= 2 * oh) & (w >= 2 * ow), "x must cover 2x2 windows of y")
    for t in prange(x.shape[0] * c, nogil=True, schedule="static", num_threads=nt):
        b = t // c
        ci = t % c
        for oy in range(oh):
            r0 = &x[b, ci, 2 * oy, 0]
            if _max_row_2x2(r0, r0 + w, &y[b, ci, oy, 0], &argmax[b, ci, oy, 0], ow):
                _max_row_2x2_nan(r0, r0 + w, &y[b, ci, oy, 0], &argmax[b, ci, oy, 0], ow)


cdef inline void _route(
    const floating* g, const int64_t* am, int32_t k, floating* pix, Py_ssize_t ow,
) noexcept nogil:
    """``pix[2*ox] = g[ox] + 0 if am[ox] == k else 0`` (``+ 0`` turns -0.0 into +0.0 as the
    reference's zeros + dy does). The index is compared as int32 (SSE2 has no int64 compare)
    and ``g`` loaded unconditionally, so the loop vectorises."""
    cdef Py_ssize_t ox
    cdef floating v
    for ox in range(ow):
        v = g[ox] + 0
        pix[2 * ox] = v if <int32_t> am[ox] == k else 0


def _max_backward_2x2(
    const floating[:, :, :, ::1] dy, const int64_t[:, :, :, ::1] argmax,
    floating[:, :, :, ::1] dx, int nt,
):
    """Write ``dy`` or 0 to every pixel of 2x2/2 windows of ``dx``; one thread per plane.

    Windows do not overlap: each pixel gets its value once, with no zeroing or adding. One pass
    per window offset; four offsets in one loop would not vectorise (gcc threads the jumps).
    """
    cdef Py_ssize_t c = dx.shape[1], w = dx.shape[3]
    cdef Py_ssize_t oh = dy.shape[2], ow = dy.shape[3]
    cdef Py_ssize_t t, b, ci, oy
    cdef floating* r0  # pixel row 2*oy
    cdef const floating* g
    cdef const int64_t* am
    fits((dx.shape[2] >= 2 * oh) & (w >= 2 * ow), "dx must cover 2x2 windows of dy")
    fits(argmax.shape[3] == ow, "argmax rows must be as long as dy's")
    for t in prange(dx.shape[0] * c, nogil=True, schedule="static", num_threads=nt):
        b = t // c
        ci = t % c
        for oy in range(oh):
            r0 = &dx[b, ci, 2 * oy, 0]
            g = &dy[b, ci, oy, 0]
            am = &argmax[b, ci, oy, 0]
            _route(g, am, 0, r0, ow)
            _route(g, am, 1, r0 + 1, ow)
            _route(g, am, 2, r0 + w, ow)
            _route(g, am, 3, r0 + w + 1, ow)


def _avg_forward_2x2(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y, int nt):
    """``_avg_forward`` for 2x2 windows at stride 2, pad 0: the same sums in the same order."""
    cdef Py_ssize_t c = x.shape[1], w = x.shape[3]
    cdef Py_ssize_t oh = y.shape[2], ow = y.shape[3]
    cdef Py_ssize_t t, b, ci, oy
    fits((x.shape[2] >= 2 * oh) & (w >= 2 * ow), "x must cover 2x2 windows of y")
    for t in prange(x.shape[0] * c, nogil=True, schedule="static", num_threads=nt):
        b = t // c
        ci = t % c
        for oy in range(oh):
            _avg_row_2x2(&x[b, ci, 2 * oy, 0], w, &y[b, ci, oy, 0], ow)


cdef inline void _avg_row_2x2(
    const floating* r0, Py_ssize_t w, floating* ym, Py_ssize_t ow
) noexcept nogil:
    """``ym[ox]`` = the mean of the window at ``r0[2*ox]``, summed from 0 in row-major order."""
    cdef Py_ssize_t ox
    cdef floating total
    for ox in range(ow):
        total = 0
        total = total + r0[2 * ox] + r0[2 * ox + 1]
        total = total + r0[w + 2 * ox] + r0[w + 2 * ox + 1]
        ym[ox] = total / 4


def _avg_backward_2x2(const floating[:, :, :, ::1] dy, floating[:, :, :, ::1] dx, int nt):
    """Write each pixel of the 2x2/2 windows of ``dx`` its share ``dy / 4`` once."""
    cdef Py_ssize_t c = dx.shape[1], w = dx.shape[3]
    cdef Py_ssize_t oh = dy.shape[2], ow = dy.shape[3]
    cdef Py_ssize_t t, b, ci, oy
    cdef floating* r0  # pixel row 2*oy
    fits((dx.shape[2] >= 2 * oh) & (w >= 2 * ow), "dx must cover 2x2 windows of dy")
    for t in prange(dx.shape[0] * c, nogil=True, schedule="static", num_threads=nt):
        b = t // c
        ci = t % c
        for oy in range(oh):
            r0 = &dx[b, ci, 2 * oy, 0]
            _spread_2x2(&dy[b, ci, oy, 0], r0, ow)
            _spread_2x2(&dy[b, ci, oy, 0], r0 + w, ow)


cdef inline void _spread_2x2(const floating* g, floating* pix, Py_ssize_t ow) noexcept nogil:
    """``pix[2*ox] = pix[2*ox + 1] = g[ox] / 4 + 0`` (``+ 0``: -0.0 -> +0.0, as zeros + share)."""
    cdef Py_ssize_t ox
    cdef floating share
    for ox in range(ow):
        share = g[ox] / 4 + 0
        pix[2 * ox] = share
        pix[2 * ox + 1] = share
