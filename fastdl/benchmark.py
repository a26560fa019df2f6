"""Side-by-side kernel timings across backends (``fastdl bench`` and the end of ``fastdl demo``).

Each case builds its inputs once, runs the NumPy reference once for the expected result, then
for every available backend that implements the kernel: one first call (which includes Numba's
compilation or cache load), a check against the reference, and ``repeat`` timed calls whose
median is reported. The pytest-benchmark files in ``bench/`` are the thorough version.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _backend, functional

CONV_SHAPES = [
    ((100, 1, 28, 28), (30, 1, 5, 5), 0),
    ((100, 16, 28, 28), (16, 16, 3, 3), 1),
    ((64, 3, 32, 32), (32, 3, 3, 3), 1),
    ((64, 64, 16, 16), (128, 64, 3, 3), 1),
    ((32, 64, 27, 27), (192, 64, 5, 5), 2),
]
POOL_SHAPES = [((100, 30, 24, 24), 2, 2), ((32, 192, 27, 27), 3, 2)]
ACT_SHAPE = (256, 4096)


def _cases(rng, dtype, quick):
    """Yield ``(kernel, label, args)`` for every benchmark case."""
    conv = CONV_SHAPES[:1] + CONV_SHAPES[3:4] if quick else CONV_SHAPES
    for x_shape, w_shape, pad in conv:
        x = rng.standard_normal(x_shape).astype(dtype)
        w = rng.standard_normal(w_shape).astype(dtype)
        b = rng.standard_normal(w_shape[0]).astype(dtype)
        kh, kw = w_shape[2:]
        label = f"x{x_shape} w{w_shape} p{pad}"
        y = functional.conv2d_forward(x, w, b, 1, pad, backend="numpy")
        col = functional.im2col(x, kh, kw, 1, pad, backend="numpy")
        yield "im2col", label, (x, kh, kw, 1, pad)
        yield "col2im", label, (col, x_shape, kh, kw, 1, pad)
        yield "conv2d_forward", label, (x, w, b, 1, pad)
        yield "conv2d_backward", label, (np.ones_like(y), x, w, 1, pad)
    for x_shape, k, stride in POOL_SHAPES[:1] if quick else POOL_SHAPES:
        x = rng.standard_normal(x_shape).astype(dtype)
        label = f"x{x_shape} {k}x{k}/{stride}"
        y, argmax = functional.maxpool2d_forward(x, k, k, stride, backend="numpy")
        yield "maxpool2d_forward", label, (x, k, k, stride)
        yield "maxpool2d_backward", label, (np.ones_like(y), argmax, x_shape, k, k, stride)
        yield "avgpool2d_forward", label, (x, k, k, stride)
        yield "avgpool2d_backward", label, (np.ones_like(y), x_shape, k, k, stride)
    x = rng.standard_normal(ACT_SHAPE).astype(dtype)
    b = rng.standard_normal(ACT_SHAPE[1]).astype(dtype)
    for act in ("relu",) if quick else ("relu", "sigmoid", "gelu", "mish"):
        yield "bias_act_forward", f"x{ACT_SHAPE} {act}", (x, b, act)
        yield "bias_act_backward", f"x{ACT_SHAPE} {act}", (np.ones_like(x), x, b, act)


def _median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _agree(got, expected):
    got = got if isinstance(got, tuple) else (got,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    return all(
        (g is None and e is None) or np.allclose(g, e, rtol=1e-4, atol=1e-4)
        for g, e in zip(got, expected)
    )


def compare_backends(
    kernels: Collection[str] | None = None,
    *,
    quick: bool = False,
    repeat: int = 5,
    dtype: npt.DTypeLike = np.float32,
    seed: int | None = 0,
) -> list[dict[str, Any]]:
    """Time kernels on every available backend, checking each result against the reference.

    Parameters
    ----------
    kernels : collection of str, optional
        Kernel names to run (default: all).
    quick : bool
        A few representative shapes only.
    repeat : int
        Timed calls per case (the median is reported).

    Returns
    -------
    rows : list of dict
        Keys: kernel, shape, backend, first_s, median_s, speedup (reference median / median).

    Raises
    ------
    AssertionError
        If a backend's result disagrees with the reference.
    """
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for kernel, label, args in _cases(rng, dtype, quick):
        if kernels is not None and kernel not in kernels:
            continue
        call = getattr(functional, kernel)
        expected = call(*args, backend="numpy")
        ref_median = None
        for backend in _backend.available_backends():
            if not _backend.implements(backend, kernel):
                continue
            start = time.perf_counter()
            got = call(*args, backend=backend)
            first = time.perf_counter() - start
            if not _agree(got, expected):
                raise AssertionError(f"{backend} {kernel} {label} disagrees with the reference")
            median = _median_time(lambda b=backend, f=call, a=args: f(*a, backend=b), repeat)
            ref_median = median if backend == "numpy" else ref_median
            rows.append(
                {
                    "kernel": kernel,
                    "shape": label,
                    "backend": backend,
                    "first_s": first,
                    "median_s": median,
                    "speedup": ref_median / median,
                }
            )
    return rows


def format_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows of :func:`compare_backends` as an aligned text table."""
    header = (
        f"{'kernel':<19} {'shape':<38} {'backend':<8} {'1st call':>10} {'median':>10} {'x ref':>7}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['kernel']:<19} {r['shape']:<38} {r['backend']:<8} "
            f"{r['first_s'] * 1e3:>8.1f}ms {r['median_s'] * 1e3:>8.2f}ms {r['speedup']:>6.1f}x"
        )
    return "\n".join(lines)
