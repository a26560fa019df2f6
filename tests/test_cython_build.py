"""The Cython backend as built: awkward inputs, SIMD variants and the debug build.

- read-only and non-contiguous inputs give the reference's results and are left untouched;
- every SIMD variant of the bias+activation loops that this CPU runs matches the reference;
- a ``FASTDL_CYTHON_DEBUG=1`` build (setup.py's own directive logic) raises ``IndexError`` where
  the release build would read or write out of bounds, and does not crash.

Its functions' signatures are checked with every backend's in ``test_kernel_contract.py``.
"""

import ast
import importlib
import os
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

import fastdl
from fastdl import _backend, functional

import naive
from helpers import assert_close

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    "cython" not in fastdl.available_backends(),
    reason=f"cython backend not built: {_backend.why_unavailable('cython')}",
)


def _strided(a):
    """A non-contiguous view with the values of ``a`` (every other element of a wider array)."""
    wide = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)
    wide[..., ::2] = a
    return wide[..., ::2]


def _read_only(a):
    a = a.copy()
    a.setflags(write=False)
    return a


def _cases(rng, dtype):
    """``(kernel, args, kwargs, exact)`` for every kernel; args hold the arrays to vary."""
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    conv = {"stride": (2, 1), "pad": 1}
    dy = rng.standard_normal((2, 4, 4, 7)).astype(dtype)  # conv output shape
    col = rng.standard_normal((2 * 4 * 7, 3 * 3 * 2)).astype(dtype)
    pool = {"kh": 3, "kw": 2, "stride": (2, 1), "pad": 1}
    _, argmax = functional.maxpool2d_forward(x, backend="numpy", **pool)
    pdy = rng.integers(-8, 9, argmax.shape).astype(dtype)  # integer: overlapping sums exact
    act = rng.uniform(-6, 6, (2, 3, 5)).astype(dtype)
    return [
        ("im2col", (x,), {"kh": 3, "kw": 2, **conv}, True),
        ("col2im", (col,), {"x_shape": x.shape, "kh": 3, "kw": 2, **conv}, False),
        ("conv2d_forward", (x, w, b), conv, False),
        ("conv2d_backward", (dy, x, w), conv, False),
        ("maxpool2d_forward", (x,), pool, True),
        ("maxpool2d_backward", (pdy, argmax), {"x_shape": x.shape, **pool}, True),
        ("avgpool2d_forward", (x,), pool, False),
        ("avgpool2d_backward", (pdy,), {"x_shape": x.shape, **pool}, False),
        ("bias_act_forward", (act, b[:3]), {"act": "mish", "axis": 1}, False),
        ("bias_act_backward", (act, act[::-1].copy(), b[:2]), {"act": "gelu", "axis": 0}, False),
    ]


@pytest.mark.parametrize("layout", ["read-only", "non-contiguous"])
def test_awkward_inputs_equal_reference(dtype, rng, layout):
    vary = _read_only if layout == "read-only" else _strided
    for name, args, kwargs, exact in _cases(rng, dtype):
        fn = getattr(functional, name)
        odd = [vary(a) for a in args]
        before = [a.copy() for a in odd]
        got = fn(*odd, **kwargs, backend="cython")
        want = fn(*args, **kwargs, backend="numpy")
        if not isinstance(want, tuple):
            got, want = (got,), (want,)
        for i, (g, r) in enumerate(zip(got, want)):
            assert_close(g, r, exact=exact, err_msg=f"{name} output {i} ({layout})")
        for a, a0 in zip(odd, before):
            np.testing.assert_array_equal(a, a0, err_msg=f"{name} modified an input")


def _simd_variants():
    """The bias+activation loop modules this CPU runs: the baseline up to the one in use."""
    if "cython" not in fastdl.available_backends():
        return []
    bias_act = importlib.import_module("fastdl._kernels.cy._bias_act")
    names = [f"fastdl._kernels.cy.{v}" for v in bias_act._VARIANTS]
    return names[: names.index(bias_act._LOOPS.__name__) + 1]


@pytest.mark.parametrize("variant", _simd_variants())
def test_simd_variants_equal_reference(monkeypatch, dtype, rng, variant):
    bias_act = importlib.import_module("fastdl._kernels.cy._bias_act")
    monkeypatch.setattr(bias_act, "_LOOPS", importlib.import_module(variant))
    f32 = np.finfo(np.float32)
    extremes = [0.0, 1e-3, -1e-3, 3.0, -3.0, 6.0, 88.0, -88.0, 1e4, -1e4, f32.max, f32.min]
    x = np.concatenate([rng.uniform(-12, 12, 244), extremes]).astype(dtype).reshape(4, 64)
    dy = rng.standard_normal(x.shape).astype(dtype)
    b = np.zeros(64, dtype=dtype)
    acts = [(name, {}) for name in _backend.activations()[0]] + [("hswish", {"n": 4.0})]
    for act, params in acts:
        y = bias_act.bias_act_forward(x, b, act, 1, **params)
        dx, db = bias_act.bias_act_backward(dy, x, b, act, 1, **params)
        x64 = x.astype(np.float64)
        want_dx, want_db = naive.bias_act_backward(dy.astype(np.float64), x64, b, act, 1, **params)
        want_y = naive.bias_act_forward(x64, None, act, 1, **params)
        assert_close(y, want_y.astype(dtype), err_msg=f"{act} y")
        assert_close(dx, want_dx.astype(dtype), err_msg=f"{act} dx")
        assert_close(db, want_db.astype(dtype), err_msg=f"{act} db")


DEBUG_CHECKS = """
import numpy as np
from pkg.cy import _pool

x, dx = np.zeros((1, 2, 4, 4)), np.zeros((1, 2, 4, 4))
y, argmax = np.zeros((1, 2, 2, 2)), np.zeros((1, 2, 2, 2), np.int64)
scratch, shares = np.zeros((2, 2), np.int32), np.zeros((2, 6))  # (N*C, OW), (N*C, OW + W)
pool = (2, 2, 2, 2, 0, 0, 1)  # kh, kw, sh, sw, ph, pw, threads
cases = {  # name: (call, the error a debug build raises)
    "argmax smaller than y": (
        lambda: _pool._max_forward(x, y, np.zeros((1, 2, 1, 2), np.int64), scratch, *pool),
        IndexError,
    ),
    "scratch has too few rows": (
        lambda: _pool._max_forward(x, y, argmax, scratch[:1].copy(), *pool), IndexError
    ),
    "argmax value out of range": (
        lambda: _pool._max_backward(y, argmax + 4, dx, *pool), IndexError
    ),
    "dy has fewer channels": (
        lambda: _pool._avg_backward(np.zeros((1, 1, 2, 2)), dx, shares, *pool), IndexError
    ),
    "scratch rows too short": (
        lambda: _pool._avg_backward(y, dx, shares[:, :5].copy(), *pool), ValueError
    ),
    "2x2 windows larger than x": (
        lambda: _pool._max_forward_2x2(np.zeros((1, 2, 3, 4)), y, argmax, 1), ValueError
    ),
    "2x2 argmax has fewer channels": (
        lambda: _pool._max_backward_2x2(y, np.zeros((1, 1, 2, 2), np.int64), dx, 1), IndexError
    ),
}
for name, (call, error) in cases.items():
    try:
        call()
    except error:
        print("raised:", name)
    else:
        print("no error:", name)
"""


def _directives_from_setup_py(env):
    """setup.py's DEBUG and DIRECTIVES assignments evaluated under ``env`` (nothing else run)."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    keep = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign) and {t.id for t in node.targets} & {"DEBUG", "DIRECTIVES"}
    ]
    namespace = {"os": types.SimpleNamespace(environ=env)}
    exec(compile(ast.Module(keep, []), "setup.py", "exec"), namespace)  # noqa: S102
    return namespace["DIRECTIVES"]


def test_debug_build_raises_instead_of_crashing(tmp_path):
    """Compile ``_pool.pyx`` with FASTDL_CYTHON_DEBUG=1 directives: bad buffers and indices raise
    IndexError (bounds checks) or ValueError (the loops' own size checks) instead of crashing."""
    pytest.importorskip("Cython")
    pytest.importorskip("setuptools")
    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler on PATH")
    source = ROOT / "kernels" / "cy"
    if not (source / "_pool.pyx").exists() or not (ROOT / "setup.py").exists():
        pytest.skip("the source tree (setup.py, kernels/cy/*.pyx) is not next to the tests")
    directives = _directives_from_setup_py({"FASTDL_CYTHON_DEBUG": "1"})
    assert directives["boundscheck"] and directives["wraparound"], directives
    assert not _directives_from_setup_py({})["boundscheck"], "release build must not check"
    pkg = tmp_path / "pkg"
    (pkg / "cy").mkdir(parents=True)
    (pkg / "__init__.py").touch()
    (pkg / "cy" / "__init__.py").touch()
    for name in ("_common.py", "_threads.py"):
        shutil.copy(ROOT / "kernels" / name, pkg / name)
    for name in ("_pool.pyx", "_util.pxi", "_pool_2x2.pxi"):
        shutil.copy(source / name, pkg / "cy" / name)
    build = textwrap.dedent(f"""
        from Cython.Build import cythonize
        from setuptools import Extension, setup
        ext = Extension("pkg.cy._pool", ["pkg/cy/_pool.pyx"])
        setup(
            script_args=["build_ext", "--inplace", "-q"],
            ext_modules=cythonize([ext], compiler_directives={directives!r}, quiet=True),
        )
    """)
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "timeout": 300}
    built = subprocess.run([sys.executable, "-c", build], **run)
    assert built.returncode == 0, built.stderr[-3000:]
    checked = subprocess.run([sys.executable, "-c", DEBUG_CHECKS], **run)
    assert checked.returncode == 0, f"the debug build crashed:\n{checked.stderr[-3000:]}"
    lines = checked.stdout.splitlines()
    assert len(lines) == 7 and all(line.startswith("raised:") for line in lines), lines
