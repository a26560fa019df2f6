"""Elementary functions for the activation loops (``include``-d by ``_act.pxi``).

float32: inline ``exp`` and ``expm1`` built from the Cephes single-precision polynomials
(about 1 ulp), ``log1p`` and a rational ``tanh`` fitted here (at most 3 and 6 ulp); unlike calls
into libm they vectorise. float64: libm. Selects are written as conditional expressions on
values computed unconditionally, so that they compile to branch-free vector blends.
"""

from cython cimport floating
from libc.math cimport exp, expm1, fabs, fabsf, log1p, tanh


cdef extern from *:
    """
    #include <stdint.h>
    /* t = 1.5 * 2**23 + n for an integer -126 <= n <= 127 (the rounding trick of _expf): 2**n */
    static inline float fastdl_pow2_of_rounded(float t) {
        union { float f; uint32_t u; } v;
        v.f = t;
        v.u = (v.u - 0x4B400000u + 127u) << 23;
        return v.f;
    }
    """
    float _pow2_of_rounded "fastdl_pow2_of_rounded"(float t) noexcept nogil


cdef inline float _expf(float x) noexcept nogil:
    """e**x for x <= 88 (every caller passes x <= 20; no upper clamp, which slowed the tanhexp
    loop: bench/README.md), 0 below -87.3 (where it is subnormal), NaN for NaN."""
    cdef float lo = -87.3, one = 1, zero = 0, big = 12582912.0  # 1.5 * 2**23
    cdef float xc = lo if x < lo else x  # NaN stays NaN
    cdef float t = xc * <float>1.44269504088896341 + big  # big + round(x / ln 2)
    cdef float n = t - big
    cdef float r = xc - n * <float>0.693359375 - n * <float>-2.12194440e-4
    cdef float q = <float>1.9875691500e-4
    q = q * r + <float>1.3981999507e-3
    q = q * r + <float>8.3334519073e-3
    q = q * r + <float>4.1665795894e-2
    q = q * r + <float>1.6666665459e-1
    q = q * r + <float>5.0000001201e-1
    q = (q * r * r + r + one) * _pow2_of_rounded(t)
    return zero if x < lo else q


cdef inline float _expm1f(float x) noexcept nogil:
    """e**x - 1 for x <= 0; the Taylor series to x**8 near 0, where e**x - 1 cancels."""
    cdef float one = 1
    cdef float t = <float>(1.0 / 40320)
    t = t * x + <float>(1.0 / 5040)
    t = t * x + <float>(1.0 / 720)
    t = t * x + <float>(1.0 / 120)
    t = t * x + <float>(1.0 / 24)
    t = t * x + <float>(1.0 / 6)
    t = t * x + <float>0.5
    t = (t * x + one) * x
    return t if x > <float>-0.5 else _expf(x) - one


cdef inline float _log1pf(float u) noexcept nogil:
    """log(1 + u) for 0 <= u <= 1: 2 * atanh(s) with s = u / (2 + u) <= 1/3.

    atanh(s) / s is a polynomial of degree 4 in s**2 <= 1/9, fitted for this module
    (``tools/fit_float32.py``: relative error 4e-9; at most 3 ulp in float32). One division, no
    range reduction, no select: the softplus loop runs twice as fast as with Cephes' ``log1pf``.
    """
    cdef float two = 2
    cdef float s = u / (two + u)
    cdef float t = s * s
    cdef float r = <float>0.1408913930407127
    r = r * t + <float>0.13980268951428634
    r = r * t + <float>0.20012461142973584
    r = r * t + <float>0.3333315705678349
    r = r * t + <float>1.0000000039911963
    return two * s * r


cdef inline float _tanh_nonneg_f(float a) noexcept nogil:
    """tanh(a) for a >= 0: a rational function, no ``exp`` (half the instructions).

    tanh(a) = a * P(a**2) / Q(a**2) for a <= 9.1 (tanh rounds to 1 in float32 beyond), with
    degrees 5 / 3 in a**2 fitted for this module (``tools/fit_float32.py``: max relative error
    6.5e-8 in exact arithmetic, at most 6 ulp in float32, 0.8 ulp on average).
    """
    cdef float one = 1, cap = 9.1
    a = a if a < cap else cap
    cdef float s = a * a
    cdef float p = <float>1.779790924728272e-11
    p = p * s + <float>-1.259902054095248e-08
    p = p * s + <float>9.206294989679783e-06
    p = p * s + <float>0.0029140314275951642
    p = p * s + <float>0.1291295926637495
    p = p * s + <float>0.9999999349780463
    cdef float q = <float>0.00022717159746726685
    q = q * s + <float>0.023735588443062127
    q = q * s + <float>0.46246238248430926
    q = q * s + one
    cdef float t = a * p / q
    return t if t < one else one


cdef inline (float, float) _tanh2f(float u) noexcept nogil:
    """``(tanh(u), 1 - tanh(u)**2)``, the second as ``(1 - t) * (1 + t)``: accurate to ~1e-7
    absolute, like the reference's ``1 - tanh**2`` (not relatively where t rounds close to 1)."""
    cdef float one = 1
    cdef float t = _tanh_nonneg_f(fabsf(u))
    return (t if u >= 0 else -t), (one - t) * (one + t)


# dtype dispatch: the polynomials above for float32, libm for float64

cdef inline floating _abs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return _expf(x)
    else:
        return exp(x)


cdef inline floating _expm1(floating x) noexcept nogil:
    if floating is float:
        return _expm1f(x)
    else:
        return expm1(x)


cdef inline floating _log1p(floating u) noexcept nogil:
    if floating is float:
        return _log1pf(u)
    else:
        return log1p(u)


cdef inline (floating, floating) _tanh2(floating u) noexcept nogil:
    cdef floating t
    if floating is float:
        return _tanh2f(u)
    else:
        t = tanh(u)
        return t, 1 - t * t


cdef inline (floating, floating) _tanh2_nonneg(floating u) noexcept nogil:
    """``_tanh2`` for ``u >= 0`` (no sign handling)."""
    cdef floating one = 1, t
    if floating is float:
        t = _tanh_nonneg_f(u)
        return t, (one - t) * (one + t)
    else:
        t = tanh(u)
        return t, 1 - t * t


cdef inline (floating, floating) _sigmoid2(floating z) noexcept nogil:
    """``(sigmoid(z), sigmoid(-z))`` from e = exp(-|z|): no overflow, no cancellation."""
    cdef floating one = 1
    cdef floating e = _exp(-_abs(z))
    cdef floating r = one / (one + e)
    return (r, e * r) if z >= 0 else (e * r, r)
