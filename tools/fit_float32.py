"""Fit the float32 ``tanh`` and ``log1p`` approximations of the compiled activation loops.

Run ``python tools/fit_float32.py``: prints the coefficients used in ``kernels/cy/_fmath.pxi``
and ``kernels/nb/_acts.py`` and their errors (exact arithmetic, and float32 Horner evaluation
against float64 NumPy rounded to float32, in ulp). Deterministic; NumPy only.

- tanh(a) = a * P(s) / Q(s), s = a**2, 0 <= a <= 9.1 (tanh rounds to 1 in float32 beyond):
  P of degree 5, Q of degree 3 with Q(0) = 1.
- log(1 + u) = 2 * atanh(v) = 2 * v * R(v**2), v = u / (2 + u) in [0, 1/3] for u in [0, 1]:
  R of degree 4.

Both are near-minimax in relative error: weighted least squares (Chebyshev basis on a scaled
variable, for conditioning) with Lawson's reweighting towards the largest errors; the rational
fit is linearised as ``P - f*Q`` and divided by the previous ``Q`` (Loeb's iteration).
"""

import numpy as np
from numpy.polynomial import chebyshev as cheb
from numpy.polynomial import polynomial as poly

TANH_CAP = 9.1


def _to_monomials(coef, scale):
    """Chebyshev coefficients in ``y = 2*x - 1`` -> monomial coefficients in ``x * scale``."""
    in_y = cheb.cheb2poly(coef)
    in_x = np.zeros(1)
    for k, ck in enumerate(in_y):
        in_x = poly.polyadd(in_x, ck * poly.polypow([-1.0, 2.0], k))
    return in_x / scale ** np.arange(len(in_x))


def fit_tanh(n_p=6, n_q=4, iterations=200):
    """``(p, q, max_rel_err)``: monomial coefficients in s = a**2, lowest first, q[0] = 1."""
    x = np.concatenate([np.linspace(0, 1, 60001)[1:], np.geomspace(1e-14, 1e-4, 400)])
    a = np.sqrt(x) * TANH_CAP
    f = np.tanh(a) / a  # the rational approximates tanh(a)/a
    bp = cheb.chebvander(2 * x - 1, n_p - 1)
    bq = cheb.chebvander(2 * x - 1, n_q - 1)
    weight, q_prev, best = np.ones_like(x), np.ones_like(x), None
    for it in range(iterations):
        design = np.hstack([bp, -f[:, None] * bq[:, 1:]])
        row_scale = np.sqrt(weight) / (f * q_prev)
        c, *_ = np.linalg.lstsq(design * row_scale[:, None], f * row_scale, rcond=None)
        cp, cq = c[:n_p], np.concatenate([[1.0], c[n_p:]])
        q_prev = bq @ cq
        err = (bp @ cp) / q_prev / f - 1
        if best is None or np.abs(err).max() < best[0]:
            best = (np.abs(err).max(), cp, cq)
        if it > 5:
            weight = weight * np.abs(err)
            weight /= weight.sum()
    e, cp, cq = best
    p, q = _to_monomials(cp, TANH_CAP**2), _to_monomials(cq, TANH_CAP**2)
    return p / q[0], q / q[0], e


def fit_log1p(degree=4, iterations=50):
    """``(r, max_rel_err)``: monomial coefficients of R in t = v**2, lowest first."""
    top = 1 / 9
    x = np.linspace(0, 1, 20001)
    v = np.sqrt(x * top)
    f = np.ones_like(v)
    f[1:] = np.arctanh(v[1:]) / v[1:]
    weight = np.ones_like(x)
    for _ in range(iterations):
        c = cheb.chebfit(2 * x - 1, f, degree, w=np.sqrt(weight))
        err = cheb.chebval(2 * x - 1, c) / f - 1
        weight = weight * np.abs(err) + 1e-300
        weight /= weight.sum()
    return _to_monomials(c, top), np.abs(err).max()


def _horner32(coef, s):
    acc = np.full_like(s, np.float32(coef[-1]))
    for c in coef[-2::-1]:
        acc = acc * s + np.float32(c)
    return acc


def tanh32(p, q, a):
    """The float32 evaluation of the kernels (``a >= 0``)."""
    a = np.minimum(a.astype(np.float32), np.float32(TANH_CAP))
    s = a * a
    return np.minimum(a * _horner32(p, s) / _horner32(q, s), np.float32(1))


def log1p32(r, u):
    u = u.astype(np.float32)
    v = u / (np.float32(2) + u)
    return np.float32(2) * v * _horner32(r, v * v)


def ulps(got, want):
    """Distance in float32 ulps (both non-negative)."""
    return np.abs(got.view(np.int32).astype(np.int64) - want.view(np.int32).astype(np.int64))


def _exact32(fn, x):
    """``fn`` of the float32 values of ``x``, in float64, rounded to float32."""
    return fn(x.astype(np.float32).astype(np.float64)).astype(np.float32)


def main():
    p, q, e_tanh = fit_tanh()
    r, e_log = fit_log1p()
    a = np.concatenate([np.linspace(0, 12, 3_000_001), np.geomspace(1e-30, 1, 100_000)])
    d_tanh = ulps(tanh32(p, q, a), _exact32(np.tanh, a))
    u = np.concatenate([np.linspace(0, 1, 1_000_001), np.geomspace(1e-30, 1e-3, 10_000)])
    d_log = ulps(log1p32(r, u), _exact32(np.log1p, u))
    print(f"tanh: P {p.tolist()}\n      Q {q.tolist()}")
    print(f"      rel err {e_tanh:.2e}; float32 ulp: max {d_tanh.max()}, mean {d_tanh.mean():.2f}")
    print(f"log1p: R {r.tolist()}")
    print(f"      rel err {e_log:.2e}; float32 ulp: max {d_log.max()}, mean {d_log.mean():.2f}")


if __name__ == "__main__":
    main()
