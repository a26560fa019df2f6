"""Elementary functions for the activation loops (``include``-d by ``_act.pxi``).

float32: inline ``exp``, ``expm1``, ``log1p`` and ``tanh`` built from the Cephes single-precision
polynomials (about 1 ulp); unlike calls into libm they vectorise. float64: libm. Selects are
written as conditional expressions on values computed unconditionally, so that they compile to
branch-free vector blends.
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
    """e**x for x <= 88.3 (e**88.3 above), 0 below -87.3 (where it is subnormal), NaN for NaN."""
    cdef float lo = -87.3, hi = 88.3, one = 1, zero = 0, big = 12582912.0  # 1.5 * 2**23
    cdef float xc = lo if x < lo else x  # NaN stays NaN
    xc = hi if xc > hi else xc
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
    """log(1 + u) for 0 <= u <= 1: 1 + u = 2**e * (1 + f) with the reduction done exactly."""
    cdef float one = 1, half = 0.5, zero = 0
    cdef bint big = u > <float>0.41421356  # 1 + u > sqrt(2)
    cdef float f = half * (u - one) if big else u  # (1 + u) / 2 - 1, or u
    cdef float e = one if big else zero
    cdef float z = f * f
    cdef float y = <float>7.0376836292e-2
    y = y * f - <float>1.1514610310e-1
    y = y * f + <float>1.1676998740e-1
    y = y * f - <float>1.2420140846e-1
    y = y * f + <float>1.4249322787e-1
    y = y * f - <float>1.6668057665e-1
    y = y * f + <float>2.0000714765e-1
    y = y * f - <float>2.4999993993e-1
    y = y * f + <float>3.3333331174e-1
    y = y * f * z + e * <float>-2.12194440e-4 - half * z
    return f + y + e * <float>0.693359375


cdef inline (float, float) _tanh2f(float u) noexcept nogil:
    """``(tanh(u), 1 - tanh(u)**2)`` from e = exp(-2|u|), a polynomial for |u| < 0.625."""
    cdef float one = 1, two = 2, four = 4
    cdef float a = fabsf(u)
    cdef float e = _expf(-two * a)
    cdef float r = one / (one + e)
    cdef float z = a * a
    cdef float q = <float>-5.70498872745e-3
    q = q * z + <float>2.06390887954e-2
    q = q * z - <float>5.37397155531e-2
    q = q * z + <float>1.33314422036e-1
    q = q * z - <float>3.33332819422e-1
    cdef float t = a + a * z * q if a < <float>0.625 else (one - e) * r
    return (t if u >= 0 else -t), four * e * r * r


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


cdef inline (floating, floating) _sigmoid2(floating z) noexcept nogil:
    """``(sigmoid(z), sigmoid(-z))`` from e = exp(-|z|): no overflow, no cancellation."""
    cdef floating one = 1
    cdef floating e = _exp(-_abs(z))
    cdef floating r = one / (one + e)
    return (r, e * r) if z >= 0 else (e * r, r)
