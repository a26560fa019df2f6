"""Activations for ``_bias_act``, Numba: block functions that LLVM vectorises.

Every function here works on one block of pre-activations ``z`` (``m`` entries, at most the
length of the scratch arrays) in the input's dtype ``T``: float32 blocks run 16 lanes wide with
AVX-512. Every constant is cast to ``T`` (``T(0.5)``) so that float32 code stays float32.

``math.exp`` is a scalar libm call that stops vectorisation (this Numba has no SVML), so
:func:`_exp` is written out: Cody-Waite reduction ``v = k*ln2 + r``, a Taylor polynomial for
``e**r`` (degree 7 for float32, 12 for float64: truncation below 5e-9 and 2e-16 relative on
``|r| <= ln2/2``) and ``2**k`` built in the exponent bits of an integer scratch array viewed as
``T``. The forms are the reference's stable ones: no ``exp`` of a large positive number, so every
finite input gives a finite output and derivative.
"""

import math

import numpy as np

from ._config import jit

LOG2E = 1.4426950408889634
GELU_C = 0.7978845608028654  # sqrt(2 / pi)
GELU_A = 0.044715
GELU_CLIP = 10.0  # as the reference: tanh of the GELU polynomial is +-1 beyond it
EXP_CLIP = 20.0  # tanhexp, mish: tanh(e**z), tanh(softplus(z)) are 1 beyond (the reference)


@jit(reassociate=False)
def _exp(v, kind, out, bits, m):
    """``out[:m] = exp(a)``, 0 where ``exp(a)`` would be subnormal, for ``a`` given by ``kind``.

    kind 0: ``a = min(v, 0)``; 1: ``min(v, 20)``; -1: ``-|v|``; -2: ``-2|v|``. ``bits`` is an
    integer scratch array of ``v``'s item size; ``out`` must not be ``v`` (LLVM's overlap check
    would send the loops to their scalar copy).
    """
    T, INT = out.dtype.type, bits.dtype.type
    single = out.itemsize == 4
    lo = T(-87.0) if single else T(-708.0)  # every kind gives a <= 20: no upper clamp
    # ln 2 = ln2_hi + ln2_lo with ln2_hi short enough that k*ln2_hi is exact
    ln2_hi = T(0.693359375) if single else T(6.93147180369123816490e-01)
    ln2_lo = T(-2.12194440e-4) if single else T(1.90821492927058770002e-10)
    # 2**k has the bits (k + bias) * 2**shift: computed in floating point, exact, then converted
    bias, shift = (T(127), T(2.0**23)) if single else (T(1023), T(2.0**52))
    clip = T(EXP_CLIP) if kind == 1 else T(0)
    scale = bits.view(out.dtype)
    for j in range(m):
        x = v[j]
        a = min(x, clip) if kind >= 0 else (-abs(x) if kind == -1 else T(-2) * abs(x))
        ac = max(a, lo)
        k = np.floor(ac * T(LOG2E) + T(0.5))
        bits[j] = INT((k + bias) * shift) if a >= lo else INT(0)
        out[j] = ac - k * ln2_hi - k * ln2_lo
    if single:  # Cephes expf: e**r = 1 + r + r**2 * p(r)
        for j in range(m):
            r = out[j]
            p = T(1.9875691500e-4) * r + T(1.3981999507e-3)
            p = ((p * r + T(8.3334519073e-3)) * r + T(4.1665795894e-2)) * r + T(1.6666665459e-1)
            p = p * r + T(5.0000001201e-1)
            out[j] = (p * r * r + r + T(1)) * scale[j]
    else:  # Taylor, degree 12
        for j in range(m):
            r = out[j]
            p = T(1 / 479001600) * r + T(1 / 39916800)
            p = ((p * r + T(1 / 3628800)) * r + T(1 / 362880)) * r + T(1 / 40320)
            p = ((p * r + T(1 / 5040)) * r + T(1 / 720)) * r + T(1 / 120)
            p = (((p * r + T(1 / 24)) * r + T(1 / 6)) * r + T(0.5)) * r + T(1)
            out[j] = (p * r + T(1)) * scale[j]


@jit(reassociate=False)
def _tanh(v, out, bits, m):
    """``out[:m] = tanh(v[:m])``: float32 by :func:`_tanh_single`, float64 from
    ``q = exp(-2|v|)``, a series near 0."""
    T = v.dtype.type
    if out.itemsize == 4:
        _tanh_single(v, out, m)
        return
    _exp(v, -2, out, bits, m)
    for j in range(m):
        a = abs(v[j])
        a2 = a * a
        s = T(17 / 315) - a2 * T(62 / 2835)
        small = a * (T(1) - a2 * (T(1 / 3) - a2 * (T(2 / 15) - a2 * s)))
        q = out[j]
        t = small if a < T(0.01) else (T(1) - q) / (T(1) + q)
        out[j] = -t if v[j] < 0 else t


@jit(reassociate=False)
def _expm1_nonpos(z, out, bits, m):
    """``out[:m] = exp(a) - 1`` for ``a = min(z[:m], 0)``, without the cancellation of
    ``exp(a) - 1`` near 0: float32 uses there (``a > -0.5``) the Taylor series to ``a**8``
    (truncation below 2e-8 relative), float64 libm's ``expm1`` (a scalar call)."""
    T = z.dtype.type
    if out.itemsize == 8:
        for j in range(m):
            out[j] = math.expm1(min(z[j], T(0)))
        return
    _exp(z, 0, out, bits, m)
    for j in range(m):
        a = min(z[j], T(0))
        p = (T(1 / 40320) * a + T(1 / 5040)) * a + T(1 / 720)
        p = ((p * a + T(1 / 120)) * a + T(1 / 24)) * a + T(1 / 6)
        p = ((p * a + T(0.5)) * a + T(1)) * a
        out[j] = p if a > T(-0.5) else out[j] - T(1)


@jit(reassociate=False, inline=True)
def _tanh_nonneg_single(a):
    """float32 tanh(a) for ``a >= 0`` without ``exp``: ``a * P(a**2) / Q(a**2)``, a capped at 9.1
    (tanh rounds to 1 beyond), degrees 5 / 3 fitted by ``tools/fit_float32.py`` (at most 6 ulp,
    0.8 on average); half the work of the ``exp`` form."""
    T = np.float32
    a = min(a, T(9.1))
    s = a * a
    p = T(1.779790924728272e-11) * s + T(-1.259902054095248e-08)
    p = (p * s + T(9.206294989679783e-06)) * s + T(0.0029140314275951642)
    p = (p * s + T(0.1291295926637495)) * s + T(0.9999999349780463)
    q = T(0.00022717159746726685) * s + T(0.023735588443062127)
    q = (q * s + T(0.46246238248430926)) * s + T(1)
    return min(a * p / q, T(1))


@jit(reassociate=False)
def _tanh_single(v, out, m):
    """float32 ``out[:m] = tanh(v[:m])`` by :func:`_tanh_nonneg_single` of ``|v|``."""
    for j in range(m):
        t = _tanh_nonneg_single(abs(v[j]))
        out[j] = -t if v[j] < 0 else t


@jit(reassociate=False)
def _log1p_unit(u, out, m):
    """``out[:m] = log(1 + u[:m])`` for ``0 <= u <= 1``: ``2*atanh(s)``, ``s = u/(2+u) <= 1/3``.

    ``atanh(s)/s`` in ``s**2 <= 1/9`` is, for float32, a degree-4 polynomial fitted by
    ``tools/fit_float32.py`` (relative error 4e-9, at most 3 ulp; written out so that the element
    loop vectorises) and, for float64, its series cut after 17 terms (below 2e-18).
    """
    T = u.dtype.type
    if out.itemsize == 4:
        for j in range(m):
            s = u[j] / (T(2) + u[j])
            s2 = s * s
            p = T(0.1408913930407127) * s2 + T(0.13980268951428634)
            p = (p * s2 + T(0.20012461142973584)) * s2 + T(0.3333315705678349)
            out[j] = T(2) * s * (p * s2 + T(1.0000000039911963))
    else:
        for j in range(m):
            s = u[j] / (T(2) + u[j])
            s2 = s * s
            p = T(1 / 35)
            for k in range(16, -1, -1):
                p = p * s2 + T(1 / (2 * k + 1))
            out[j] = T(2) * s * p


@jit(reassociate=False)
def _sigmoid(z, out, bits, m):
    """``out[:m] = sigmoid(z[:m])`` from ``e = exp(-|z|)``: ``1/(1+e)`` or ``e/(1+e)``."""
    T = z.dtype.type
    _exp(z, -1, out, bits, m)
    for j in range(m):
        e = out[j]
        r = T(1) / (T(1) + e)
        out[j] = r if z[j] >= 0 else e * r


@jit(reassociate=False)
def _gelu_t(z, v, out, bits, m):
    """``out[:m] = tanh(c*(zc + a*zc**3))``, ``zc = clip(z, -10, 10)``; ``v`` is scratch."""
    T = z.dtype.type
    for j in range(m):
        zc = min(max(z[j], T(-GELU_CLIP)), T(GELU_CLIP))
        v[j] = T(GELU_C) * (zc + T(GELU_A) * zc * zc * zc)
    _tanh(v, out, bits, m)


@jit(reassociate=False)
def _mish_t(z, out, bits, m):
    """``out[:m] = tanh(softplus(z))`` as ``n / (n + 2)`` with ``n = u*(u + 2)``, ``u = e**z``."""
    T = z.dtype.type
    _exp(z, 1, out, bits, m)  # u = e**min(z, 20)
    for j in range(m):
        u = out[j]
        n = u * (u + T(2))
        out[j] = n / (n + T(2))


@jit(reassociate=False)
def forward(code, p, z, y, s1, s2, bits, m):
    """``y[:m] = act(z[:m])`` for activation number ``code`` (the order of ``ACTIVATIONS``).

    ``p`` is alpha (leaky_relu, elu) or n (hswish); ``s1``, ``s2`` (dtype of ``z``) and
    ``bits`` (integer of the same size) are scratch; ``y`` (same dtype) serves as scratch too.
    One branch per block, each branch a few vector loops.
    """
    T = z.dtype.type
    q, zero, one, half = T(p), T(0), T(1), T(p / 2)
    if code == 0:  # identity
        for j in range(m):
            y[j] = z[j]
    elif code == 1:  # relu
        for j in range(m):
            y[j] = max(z[j], zero)
    elif code == 2:  # leaky_relu
        for j in range(m):
            y[j] = z[j] if z[j] > 0 else q * z[j]
    elif code == 3:  # relu6
        for j in range(m):
            y[j] = min(max(z[j], zero), T(6))
    elif code == 4:  # elu
        _expm1_nonpos(z, y, bits, m)
        for j in range(m):
            y[j] = z[j] if z[j] > 0 else q * y[j]
    elif code == 5:  # sigmoid
        _sigmoid(z, y, bits, m)
    elif code == 6:  # tanh
        _tanh(z, y, bits, m)
    elif code == 7:  # softplus
        _exp(z, -1, s1, bits, m)
        _log1p_unit(s1, s2, m)
        for j in range(m):
            y[j] = max(z[j], zero) + s2[j]
    elif code == 8:  # swish: z * sigmoid(z), in the loop that finishes the sigmoid
        _exp(z, -1, y, bits, m)
        for j in range(m):
            e = y[j]
            r = one / (one + e)
            y[j] = z[j] * (r if z[j] >= 0 else e * r)
    elif code == 9:  # hswish, on z clipped to [-n/2, n/2]: no overflow for huge |z|
        for j in range(m):
            zc = min(max(z[j], -half), half)
            y[j] = z[j] if z[j] > half else zc * (zc + half) / q
    elif code == 10:  # mish
        _mish_t(z, y, bits, m)
        for j in range(m):
            y[j] = z[j] * y[j]
    elif code == 11:  # tanhexp
        _exp(z, 1, s1, bits, m)
        if z.itemsize == 4:  # one loop for tanh and the product
            for j in range(m):
                y[j] = z[j] * _tanh_nonneg_single(s1[j])
        else:
            _tanh(s1, s2, bits, m)
            for j in range(m):
                y[j] = z[j] * s2[j]
    else:  # gelu
        _gelu_t(z, s2, s1, bits, m)
        for j in range(m):
            y[j] = T(0.5) * z[j] * (one + s1[j])


@jit(reassociate=False)
def derivative(code, p, z, s1, s2, bits, m):
    """``s1[:m] = act'(z[:m])``, at the branch points as the reference.

    Arguments as :func:`forward`. It takes no input array (``dy`` is applied by the caller), so
    read-only inputs never make Numba compile this big function again.
    """
    T = z.dtype.type
    q, zero, one, half = T(p), T(0), T(1), T(p / 2)
    if code == 0:  # identity
        for j in range(m):
            s1[j] = one
    elif code == 1:  # relu
        for j in range(m):
            s1[j] = one if z[j] > 0 else zero
    elif code == 2:  # leaky_relu
        for j in range(m):
            s1[j] = one if z[j] > 0 else q
    elif code == 3:  # relu6
        for j in range(m):
            s1[j] = one if zero < z[j] < T(6) else zero
    elif code == 4:  # elu
        _exp(z, 0, s1, bits, m)
        for j in range(m):
            s1[j] = one if z[j] > 0 else q * s1[j]
    elif code == 5:  # sigmoid
        _sigmoid(z, s1, bits, m)
        for j in range(m):
            s1[j] = s1[j] * (one - s1[j])
    elif code == 6:  # tanh
        _tanh(z, s1, bits, m)
        for j in range(m):
            s1[j] = one - s1[j] * s1[j]
    elif code == 7:  # softplus
        _sigmoid(z, s1, bits, m)
    elif code == 8:  # swish
        _sigmoid(z, s1, bits, m)
        for j in range(m):
            s1[j] = s1[j] * (one + z[j] * (one - s1[j]))
    elif code == 9:  # hswish
        for j in range(m):
            zc = min(max(z[j], -half), half)
            d = (T(2) * zc + half) / q if z[j] < half else one
            s1[j] = zero if z[j] <= -half else d
    elif code == 10:  # mish, from u = e**min(z, 20) alone: one exp, one division
        _exp(z, 1, s2, bits, m)
        for j in range(m):
            u = s2[j]
            n = u * (u + T(2))
            r = one / ((n + T(2)) * (one + u))
            t = n * (one + u) * r  # tanh(softplus(z)) = n / (n + 2)
            sig = u * (n + T(2)) * r  # sigmoid(z) = u / (1 + u); its error past z = 20 is
            s1[j] = t + z[j] * (one - t * t) * sig  # multiplied by 1 - t*t, exactly 0 there
    elif code == 11:  # tanhexp: e**z in s1, tanh(e**z) in s2; the bracket is 0 once tanh is 1
        _exp(z, 1, s1, bits, m)
        if z.itemsize == 4:  # one loop for tanh and the derivative
            for j in range(m):
                t = _tanh_nonneg_single(s1[j])
                s1[j] = t + z[j] * (s1[j] * (one - t * t))
        else:
            _tanh(s1, s2, bits, m)
            for j in range(m):
                s1[j] = s2[j] + z[j] * (s1[j] * (one - s2[j] * s2[j]))
    else:  # gelu
        _gelu_t(z, s2, s1, bits, m)
        for j in range(m):
            zc = min(max(z[j], T(-GELU_CLIP)), T(GELU_CLIP))
            t = s1[j]
            slope = T(GELU_C) * (one + T(3 * GELU_A) * zc * zc)
            s1[j] = T(0.5) * (one + t) + T(0.5) * zc * (one - t * t) * slope
