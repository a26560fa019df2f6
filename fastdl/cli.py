"""Command line: ``fastdl demo`` (also ``python -m fastdl demo``).

``demo`` compares the available backends on im2col/col2im at the shapes of a small MNIST CNN
and of a mid-size conv layer: it checks every backend's result against the NumPy reference,
then prints the first-call time (includes JIT compilation or loading a cache) and the median
time of repeated calls, with the speed-up over the reference.
"""

import argparse
import sys
import time

import numpy as np

from . import _backend, functional

# (label, x shape, kh, kw, stride, pad)
DEMO_SHAPES = [
    ("MNIST conv1 5x5", (100, 1, 28, 28), 5, 5, 1, 0),
    ("conv 3x3, 64 ch", (64, 64, 16, 16), 3, 3, 1, 1),
]


def _median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def compare_backends(shapes=DEMO_SHAPES, dtype=np.float32, repeat=7, seed=0):
    """Time im2col and col2im on every available backend.

    Returns
    -------
    rows : list of dict
        Keys: kernel, shape, backend, first_s, median_s, speedup (reference median / median).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for label, x_shape, kh, kw, stride, pad in shapes:
        x = rng.standard_normal(x_shape).astype(dtype)
        col = functional.im2col(x, kh, kw, stride, pad, backend="numpy")
        calls = {
            "im2col": lambda b, x=x, kh=kh, kw=kw, s=stride, p=pad: functional.im2col(
                x, kh, kw, s, p, backend=b
            ),
            "col2im": lambda b, c=col, xs=x_shape, kh=kh, kw=kw, s=stride, p=pad: functional.col2im(
                c, xs, kh, kw, s, p, backend=b
            ),
        }
        for kernel, call in calls.items():
            expected = call("numpy")
            ref_median = None
            for backend in _backend.available_backends():
                start = time.perf_counter()
                got = call(backend)
                first = time.perf_counter() - start
                if not np.allclose(got, expected, rtol=1e-5, atol=1e-5):
                    raise AssertionError(f"{backend} {kernel} disagrees with the reference")
                median = _median_time(lambda b=backend, f=call: f(b), repeat)
                ref_median = median if backend == "numpy" else ref_median
                rows.append(
                    {
                        "kernel": kernel,
                        "shape": f"{label} x{x_shape}",
                        "backend": backend,
                        "first_s": first,
                        "median_s": median,
                        "speedup": ref_median / median,
                    }
                )
    return rows


def _print_table(rows, out):
    header = (
        f"{'kernel':<8} {'shape':<38} {'backend':<8} {'1st call':>10} {'median':>10} {'x ref':>7}"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in rows:
        print(
            f"{r['kernel']:<8} {r['shape']:<38} {r['backend']:<8} "
            f"{r['first_s'] * 1e3:>8.1f}ms {r['median_s'] * 1e3:>8.2f}ms {r['speedup']:>6.1f}x",
            file=out,
        )


def _demo(args):
    print(f"fastdl backends available: {', '.join(_backend.available_backends())}")
    for name in _backend.BACKENDS:
        reason = _backend.why_unavailable(name)
        if reason:
            print(f"  {name}: unavailable ({reason})")
    print(f"im2col/col2im, float32, median of {args.repeat} calls (results checked against numpy):")
    _print_table(compare_backends(repeat=args.repeat), sys.stdout)
    return 0


def main(argv=None):
    """Entry point of the ``fastdl`` console script."""
    parser = argparse.ArgumentParser(prog="fastdl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="compare the backends on im2col/col2im")
    demo.add_argument("--repeat", type=int, default=7, help="timed calls per case (default 7)")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    if getattr(args, "repeat", 1) < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    return args.run(args)
