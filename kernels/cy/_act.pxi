"""Activation loops of ``_bias_act``, ``include``-d by it and by its SIMD variants.

Each activation is a tag type of the fused type ``Act``, so Cython compiles one loop per activation
and dtype: the activation is chosen once per call, outside the element loops, and the element
loops are branch-free selects that the C compiler vectorises. The forms are the reference's stable
ones (``kernels/ref/_bias_act.py``): no ``exp`` of a large positive number, products ordered so
that no intermediate overflows, branch-point derivatives as in PyTorch. The elementary functions are
in ``_fmath.pxi``.
"""

from cython cimport floating
from cython.parallel cimport prange

include "_fmath.pxi"
include "_util.pxi"

# activation names in the order of the branches of _forward_code and _backward_code
_NAMES = (
    "identity", "relu", "leaky_relu", "relu6", "elu", "sigmoid", "tanh", "softplus", "swish",
    "hswish", "mish", "tanhexp", "gelu",
)

# ----------------------------------------------------------------------------------------------
# activations: one tag type each; ``p`` is alpha (leaky_relu, elu) or n (hswish)

cdef struct _Identity:
    char tag
cdef struct _Relu:
    char tag
cdef struct _LeakyRelu:
    char tag
cdef struct _Relu6:
    char tag
cdef struct _Elu:
    char tag
cdef struct _Sigmoid:
    char tag
cdef struct _Tanh:
    char tag
cdef struct _Softplus:
    char tag
cdef struct _Swish:
    char tag
cdef struct _Hswish:
    char tag
cdef struct _Mish:
    char tag
cdef struct _Tanhexp:
    char tag
cdef struct _Gelu:
    char tag

ctypedef fused Act:
    _Identity
    _Relu
    _LeakyRelu
    _Relu6
    _Elu
    _Sigmoid
    _Tanh
    _Softplus
    _Swish
    _Hswish
    _Mish
    _Tanhexp
    _Gelu


cdef inline floating _tanhexp_e(floating z) noexcept nogil:
    """e**min(z, 20): tanh(e**z) is exactly 1 from z = 4 on, and e**20 is finite."""
    cdef floating clip = 20
    return _exp(z if z < clip else clip)


cdef inline (floating, floating) _gelu_zu(floating z) noexcept nogil:
    """``(zc, u)``: z clipped to [-10, 10] (tanh(u) is exactly +-1 beyond) and the tanh argument
    u = sqrt(2 / pi) * (zc + 0.044715 * zc**3)."""
    cdef floating clip = 10, c = 0.7978845608028654, k = 0.044715
    cdef floating zc = -clip if z < -clip else (clip if z > clip else z)
    return zc, c * (zc + k * zc * zc * zc)


cdef inline (floating, floating) _mish_t(floating z) noexcept nogil:
    """``(t, 1 - t**2)`` with t = tanh(softplus(z)) = num / den, from e = exp(-|z|)."""
    cdef floating one = 1, two = 2
    cdef floating e = _exp(-_abs(z))
    cdef floating num = one + two * e if z >= 0 else e * (e + two)
    cdef floating gap = two * e * e if z >= 0 else two  # den - num
    cdef floating den = num + gap
    return num / den, gap * (den + num) / (den * den)


cdef inline floating _act(Act* a, floating z, floating p) noexcept nogil:
    """``act(z)``."""
    cdef floating zero = 0, one = 1, half = 0.5, six = 6, h, zc
    if Act is _Identity:
        return z
    elif Act is _Relu:
        return zero if z <= 0 else z
    elif Act is _LeakyRelu:
        return z if z > 0 else p * z
    elif Act is _Relu6:
        zc = zero if z <= 0 else z
        return six if zc >= 6 else zc
    elif Act is _Elu:
        return z if z > 0 else p * _expm1(zero if z > 0 else z)
    elif Act is _Sigmoid:
        return _sigmoid2(z)[0]
    elif Act is _Tanh:
        return _tanh2(z)[0]
    elif Act is _Softplus:
        return (z if z > 0 else zero) + _log1p(_exp(-_abs(z)))
    elif Act is _Swish:
        return z * _sigmoid2(z)[0]
    elif Act is _Hswish:
        h = half * p
        zc = -h if z < -h else (h if z > h else z)
        return z if z > h else zc * (zc + h) / p
    elif Act is _Mish:
        return z * _mish_t(z)[0]
    elif Act is _Tanhexp:
        return z * _tanh2_nonneg(_tanhexp_e(z))[0]
    else:  # _Gelu
        return half * z * (one + _tanh2(_gelu_zu(z)[1])[0])


cdef inline floating _grad(Act* a, floating z, floating p) noexcept nogil:
    """``act'(z)``, with PyTorch's values at the branch points."""
    cdef floating zero = 0, one = 1, two = 2, three = 3, half = 0.5, c = 0.7978845608028654
    cdef floating k = 0.044715, h, zc, u, e, t, s2, s, sm
    if Act is _Identity:
        return one
    elif Act is _Relu:
        return one if z > 0 else zero
    elif Act is _LeakyRelu:
        return one if z > 0 else p
    elif Act is _Relu6:
        return one if (z > 0) & (z < 6) else zero
    elif Act is _Elu:
        return one if z > 0 else p * _exp(zero if z > 0 else z)
    elif Act is _Sigmoid:  # sigmoid(z) * sigmoid(-z) = e / (1 + e)**2, e = exp(-|z|)
        e = _exp(-_abs(z))
        s = one / (one + e)
        return e * s * s
    elif Act is _Tanh:
        return _tanh2(z)[1]
    elif Act is _Softplus:
        return _sigmoid2(z)[0]
    elif Act is _Swish:
        s, sm = _sigmoid2(z)
        return s * (one + z * sm)
    elif Act is _Hswish:
        h = half * p
        zc = -h if z < -h else (h if z > h else z)
        return zero if z <= -h else ((two * zc + h) / p if z < h else one)
    elif Act is _Mish:
        t, s2 = _mish_t(z)
        return t + z * s2 * _sigmoid2(z)[0]
    elif Act is _Tanhexp:
        e = _tanhexp_e(z)
        t, s2 = _tanh2_nonneg(e)
        return t + z * (e * s2)  # z * e could overflow where s2 is already 0
    else:  # _Gelu
        zc, u = _gelu_zu(z)
        t, s2 = _tanh2(u)
        return half * (one + t) + half * zc * s2 * c * (one + three * k * zc * zc)


# ----------------------------------------------------------------------------------------------
# element loops over one row (bias vector) or one segment (scalar bias)

cdef inline void _fwd_row(
    Act* a, const floating* x, const floating* b, floating* y, Py_ssize_t m, floating p
) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(m):
        y[i] = _act(a, x[i] + b[i], p)


cdef inline void _fwd_seg(
    Act* a, const floating* x, floating b, floating* y, Py_ssize_t m, floating p
) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(m):
        y[i] = _act(a, x[i] + b, p)


cdef inline void _bwd_row(
    Act* a, const floating* dy, const floating* x, const floating* b, floating* dx,
    floating* db, Py_ssize_t m, floating p,
) noexcept nogil:
    """dx = dy * act'(x + b) for one row, added into the row ``db`` of partial sums."""
    cdef Py_ssize_t i
    cdef floating d
    for i in range(m):
        d = dy[i] * _grad(a, x[i] + b[i], p)
        dx[i] = d
        db[i] += d


cdef inline floating _bwd_seg(
    Act* a, const floating* dy, const floating* x, floating b, floating* dx, Py_ssize_t m,
    floating p, bint want_sum,
) noexcept nogil:
    """dx = dy * act'(x + b) for one segment; returns the sum of dx (8 running sums) or 0.

    The sums are taken in the same pass as dx, eight lanes at a time (a second pass over dx
    doubled the time of a relu backward).
    """
    cdef Py_ssize_t i, k, m8 = m - m % 8
    cdef floating acc[8]
    cdef floating d, s = 0
    if not want_sum:
        for i in range(m):
            dx[i] = dy[i] * _grad(a, x[i] + b, p)
        return s
    for k in range(8):
        acc[k] = 0
    for i in range(0, m8, 8):
        for k in range(8):
            d = dy[i + k] * _grad(a, x[i + k] + b, p)
            dx[i + k] = d
            acc[k] = acc[k] + d
    for i in range(m8, m):
        d = dy[i] * _grad(a, x[i] + b, p)
        dx[i] = d
        s = s + d
    for k in range(8):
        s = s + acc[k]
    return s


# ----------------------------------------------------------------------------------------------
# parallel drivers (one specialisation per activation and dtype) and the dispatch on the code

cdef int _forward(
    Act* a, const floating[:, ::1] x, const floating[::1] b, floating[:, ::1] y, bint rows,
    floating p, int nt,
) except -1 nogil:
    cdef Py_ssize_t r, m = x.shape[1], nb = b.shape[0]
    if rows:
        for r in prange(x.shape[0], schedule="static", num_threads=nt):
            _fwd_row(a, &x[r, 0], &b[0], &y[r, 0], m, p)
    else:
        for r in prange(x.shape[0], schedule="static", num_threads=nt):
            _fwd_seg(a, &x[r, 0], b[r % nb], &y[r, 0], m, p)
    return 0


cdef int _backward(
    Act* a, const floating[:, ::1] dy, const floating[:, ::1] x, const floating[::1] b,
    floating[:, ::1] dx, floating[:, ::1] part, bint rows, floating p, int nt,
) except -1 nogil:
    """``part``: (blocks, m) partial db rows, or (rows of x, 1) segment sums, or (0, 1)."""
    cdef Py_ssize_t q, r, nr = x.shape[0], m = x.shape[1], nb = b.shape[0], nq = part.shape[0]
    cdef floating s
    if rows:  # block q of rows adds into part[q]
        for q in prange(nq, schedule="static", num_threads=nt):
            for r in range(q * nr // nq, (q + 1) * nr // nq):
                _bwd_row(a, &dy[r, 0], &x[r, 0], &b[0], &dx[r, 0], &part[q, 0], m, p)
    else:
        for r in prange(nr, schedule="static", num_threads=nt):
            s = _bwd_seg(a, &dy[r, 0], &x[r, 0], b[r % nb], &dx[r, 0], m, p, nq > 0)
            if nq > 0:
                part[r, 0] = s
    return 0


def _forward_code(
    int code, const floating[:, ::1] x, const floating[::1] b, floating[:, ::1] y, bint rows,
    double p, int nt,
):
    """Run the forward loop of activation ``code`` (an index into ``_NAMES``) on ``nt`` threads."""
    cdef floating q = p
    fits(y.shape[0] == x.shape[0] and y.shape[1] == x.shape[1], "y must have the shape of x")
    fits(b.shape[0] >= (x.shape[1] if rows else 1), "b is too short")
    with nogil:
        if code == 0:
            _forward(<_Identity*>NULL, x, b, y, rows, q, nt)
        elif code == 1:
            _forward(<_Relu*>NULL, x, b, y, rows, q, nt)
        elif code == 2:
            _forward(<_LeakyRelu*>NULL, x, b, y, rows, q, nt)
        elif code == 3:
            _forward(<_Relu6*>NULL, x, b, y, rows, q, nt)
        elif code == 4:
            _forward(<_Elu*>NULL, x, b, y, rows, q, nt)
        elif code == 5:
            _forward(<_Sigmoid*>NULL, x, b, y, rows, q, nt)
        elif code == 6:
            _forward(<_Tanh*>NULL, x, b, y, rows, q, nt)
        elif code == 7:
            _forward(<_Softplus*>NULL, x, b, y, rows, q, nt)
        elif code == 8:
            _forward(<_Swish*>NULL, x, b, y, rows, q, nt)
        elif code == 9:
            _forward(<_Hswish*>NULL, x, b, y, rows, q, nt)
        elif code == 10:
            _forward(<_Mish*>NULL, x, b, y, rows, q, nt)
        elif code == 11:
            _forward(<_Tanhexp*>NULL, x, b, y, rows, q, nt)
        else:
            _forward(<_Gelu*>NULL, x, b, y, rows, q, nt)


def _backward_code(
    int code, const floating[:, ::1] dy, const floating[:, ::1] x, const floating[::1] b,
    floating[:, ::1] dx, floating[:, ::1] part, bint rows, double p, int nt,
):
    """Run the backward loop of activation ``code`` (an index into ``_NAMES``) on ``nt`` threads."""
    cdef floating q = p
    fits(dy.shape[0] == x.shape[0] and dy.shape[1] == x.shape[1], "dy must have the shape of x")
    fits(dx.shape[0] == x.shape[0] and dx.shape[1] == x.shape[1], "dx must have the shape of x")
    fits(b.shape[0] >= (x.shape[1] if rows else 1), "b is too short")
    fits(part.shape[1] >= (x.shape[1] if rows else 1), "part is too narrow")
    with nogil:
        if code == 0:
            _backward(<_Identity*>NULL, dy, x, b, dx, part, rows, q, nt)
        elif code == 1:
            _backward(<_Relu*>NULL, dy, x, b, dx, part, rows, q, nt)
        elif code == 2:
            _backward(<_LeakyRelu*>NULL, dy, x, b, dx, part, rows, q, nt)
        elif code == 3:
            _backward(<_Relu6*>NULL, dy, x, b, dx, part, rows, q, nt)
        elif code == 4:
            _backward(<_Elu*>NULL, dy, x, b, dx, part, rows, q, nt)
        elif code == 5:
            _backward(<_Sigmoid*>NULL, dy, x, b, dx, part, rows, q, nt)
        elif code == 6:
            _backward(<_Tanh*>NULL, dy, x, b, dx, part, rows, q, nt)
        elif code == 7:
            _backward(<_Softplus*>NULL, dy, x, b, dx, part, rows, q, nt)
        elif code == 8:
            _backward(<_Swish*>NULL, dy, x, b, dx, part, rows, q, nt)
        elif code == 9:
            _backward(<_Hswish*>NULL, dy, x, b, dx, part, rows, q, nt)
        elif code == 10:
            _backward(<_Mish*>NULL, dy, x, b, dx, part, rows, q, nt)
        elif code == 11:
            _backward(<_Tanhexp*>NULL, dy, x, b, dx, part, rows, q, nt)
        else:
            _backward(<_Gelu*>NULL, dy, x, b, dx, part, rows, q, nt)
