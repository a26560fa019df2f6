"""Differential fuzzing: every kernel family of every backend against the NumPy reference.

Each backend runs in a freshly spawned Python (this file run as a script) with a bounded wait,
so a crash (SIGSEGV, an allocator abort, a sanitizer report) or a hang fails the test instead
of killing pytest. The worker draws, per family, geometry (kernel sizes 1-7, strides 1-4,
pads up to 4, inputs narrower than the pad, N = 0), dtype, one of six memory layouts per
array (C order, Fortran order, strided, reversed, read-only, broadcast) and special values
(inf and NaN in pooling, |x| up to 1e30 in the activations), then checks

- the backend against the reference: data movement exactly, sums within a rounding bound
  ``n * eps * sum|terms|`` (the terms' absolute values go through the reference too);
- no input modified, no NaN from finite input;
- PyTorch float64 when it is installed, where fastdl's documented choices allow (a max-pool
  window holding NaN: fastdl's argmax is the first NaN, PyTorch's the last; a window of -inf
  beside padding: fastdl's argmax points into the padding).

``FASTDL_FUZZ_CASES`` sets the cases per family per backend (default 40, a few seconds;
``.ci/run`` runs 2,000; 10,000+ for a long run). ``FASTDL_FUZZ_SEED`` changes the draw.
Run one worker by hand with ``python tests/test_fuzz.py BACKEND CASES SEED``.

The whole class of the Cython convolution's heap corruption (issue 16: stride 1, W or H below
its pad) is enumerated in-process below, for every backend.
"""

import functools
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from fastdl import _backend
from fastdl import functional as F
from fastdl._kernels._common import ACTIVATIONS

from helpers import assert_close

CASES = int(os.environ.get("FASTDL_FUZZ_CASES", "40"))
SEED = int(os.environ.get("FASTDL_FUZZ_SEED", "0"))
FAMILIES = ("im2col", "conv", "maxpool", "avgpool", "bias_act")
LAYOUTS = ("C", "fortran", "strided", "reversed", "read-only", "broadcast")


# ----------------------------------------------------------------------------- the worker


def _layout(rng, a):
    """``(value, view)``: ``view`` holds ``value`` in a drawn memory layout."""
    kind = LAYOUTS[rng.integers(len(LAYOUTS))]
    if kind == "fortran":
        return a, np.asfortranarray(a)
    if kind == "strided":
        wide = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)
        wide[..., ::2] = a
        return a, wide[..., ::2]  # every other element of the last axis
    if kind == "reversed":
        return a, np.flip(np.flip(a).copy())  # negative strides on every axis
    if kind == "read-only":
        a = a.copy()
        a.setflags(write=False)
        return a, a
    if kind == "broadcast" and a.ndim and a.shape[0] > 1:
        view = np.broadcast_to(a[:1], a.shape)  # stride 0 on axis 0, read-only
        return view.copy(), view
    return a, a


class _Case:
    """One drawn problem: the backend's calls, checked against the reference as it goes."""

    def __init__(self, backend, dtype):
        self.backend, self.dtype = backend, np.dtype(dtype)
        self.eps = float(np.finfo(dtype).eps)

    def call(self, name, *args, **kwargs):
        """``functional.<name>`` on the backend; inputs must come back unmodified."""
        before = [a.copy() for a in args if isinstance(a, np.ndarray)]
        out = getattr(F, name)(*args, backend=self.backend, **kwargs)
        for a, b in zip([a for a in args if isinstance(a, np.ndarray)], before):
            if not np.array_equal(a, b, equal_nan=True):
                raise AssertionError(f"{name} modified an input")
        return out

    def same(self, what, got, want):
        assert_close(got, want, exact=True, err_msg=what)

    def near(self, what, got, want, bound):
        """``|got - want| <= bound`` where finite; inf and NaN at the same places."""
        got, want = np.asarray(got), np.asarray(want)
        if got.dtype != want.dtype or got.shape != want.shape:
            raise AssertionError(f"{what}: {got.dtype}{got.shape} != {want.dtype}{want.shape}")
        finite = np.isfinite(want)
        np.testing.assert_array_equal(np.where(finite, 0, got), np.where(finite, 0, want), what)
        err = np.abs(got.astype(np.float64) - want)[finite]
        allowed = (np.broadcast_to(bound, want.shape)[finite] + np.finfo(want.dtype).tiny) * 1.0
        if np.any(~(err <= allowed)):
            k = int(np.argmax(err - allowed))
            raise AssertionError(f"{what}: error {err[k]:.3g} > bound {allowed[k]:.3g}")

    def no_new_nan(self, what, out, *inputs):
        if all(np.isfinite(a).all() for a in inputs) and np.isnan(out).any():
            raise AssertionError(f"{what}: NaN from finite input")


def _geometry(rng, pool):
    """``(x_shape, kh, kw, stride, pad)``: the window fits the padded input."""
    kh, kw = (int(k) for k in rng.integers(1, 8, 2))
    if pool:
        ph, pw = int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1))
    else:
        ph, pw = (int(p) for p in rng.integers(0, 5, 2))
    small = rng.random() < 0.3  # inputs down to 1 pixel, narrower than the pad
    h = int(rng.integers(max(1, kh - 2 * ph), 4 if small and kh <= 2 * ph + 3 else kh + 9))
    w = int(rng.integers(max(1, kw - 2 * pw), 4 if small and kw <= 2 * pw + 3 else kw + 9))
    n = 0 if rng.random() < 0.03 else int(rng.integers(1, 4))
    stride = tuple(int(s) for s in rng.integers(1, 5, 2)) if rng.random() < 0.6 else (1, 1)
    if pool and rng.random() < 0.3:
        stride = None
    return (n, int(rng.integers(1, 5)), h, w), kh, kw, stride, (ph, pw)


def _specials(rng, x, p=0.1):
    """``x`` with a fraction ``p`` of its entries set to inf, -inf or NaN (when drawn)."""
    if rng.random() < 0.5:
        return x
    mask = rng.random(x.shape) < p
    x[mask] = rng.choice(np.array([np.inf, -np.inf, np.nan], x.dtype), mask.sum())
    return x


def _fuzz_im2col(c, rng, ref, torch):
    x_shape, kh, kw, stride, pad = _geometry(rng, pool=False)
    x = rng.standard_normal(x_shape).astype(c.dtype)
    x, view = _layout(rng, x)
    col = c.call("im2col", view, kh, kw, stride, pad)
    c.same("col", col, ref.im2col(x, kh, kw, stride, pad))
    dcol = rng.standard_normal(col.shape).astype(c.dtype)
    dcol, view = _layout(rng, dcol)
    dx = c.call("col2im", view, x_shape, kh, kw, stride, pad)
    c.same("col2im", dx, ref.col2im(dcol, x_shape, kh, kw, stride, pad))
    if torch is not None and x.size:
        tcol = torch.nn.functional.unfold(torch.tensor(x), (kh, kw), padding=pad, stride=stride)
        want = tcol.permute(0, 2, 1).reshape(col.shape).numpy()  # (N*OH*OW, C*KH*KW)
        c.same("col vs torch", col, want.astype(c.dtype))


def _fuzz_conv(c, rng, ref, torch):
    x_shape, kh, kw, stride, pad = _geometry(rng, pool=False)
    f = int(rng.integers(1, 6))
    x = rng.uniform(-1, 1, x_shape).astype(c.dtype)
    w = rng.uniform(-1, 1, (f, x_shape[1], kh, kw)).astype(c.dtype)
    b = rng.uniform(-1, 1, f).astype(c.dtype) if rng.random() < 0.7 else None
    (x, xv), (w, wv) = _layout(rng, x), _layout(rng, w)
    b, bv = (None, None) if b is None else _layout(rng, b)
    y = c.call("conv2d_forward", xv, wv, bv, stride, pad)
    abs_b = None if b is None else np.abs(b)
    k = x_shape[1] * kh * kw + 1
    bound = k * c.eps * ref.conv2d_forward(np.abs(x), np.abs(w), abs_b, stride, pad)
    want = ref.conv2d_forward(x, w, b, stride, pad)
    c.near("y", y, want, bound)
    dy = rng.uniform(-1, 1, y.shape).astype(c.dtype)
    dy, dyv = _layout(rng, dy)
    grads = c.call("conv2d_backward", dyv, xv, wv, stride, pad)
    wants = ref.conv2d_backward(dy, x, w, stride, pad)
    terms = max(f * kh * kw, x_shape[0] * y.shape[2] * y.shape[3]) + 1
    bounds = [
        terms * c.eps * g
        for g in ref.conv2d_backward(np.abs(dy), np.abs(x), np.abs(w), stride, pad)
    ]
    for name, got, want_g, bound_g in zip(("dx", "dw", "db"), grads, wants, bounds):
        c.near(name, got, want_g, bound_g)
    if torch is not None and x.size:
        tx, tw = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w))
        tb = None if b is None else torch.tensor(b, dtype=torch.float64, requires_grad=True)
        ty = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=pad)
        ty.backward(torch.tensor(dy, dtype=torch.float64))
        c.near("y vs torch", y.astype(np.float64), ty.detach().numpy(), 2 * bound)
        torch_grads = (tx.grad, tw.grad, None if tb is None else tb.grad)
        for name, got, t, bound_g in zip(("dx", "dw", "db"), grads, torch_grads, bounds):
            if t is not None:
                c.near(f"{name} vs torch", got.astype(np.float64), t.numpy(), 2 * bound_g)


def _fuzz_maxpool(c, rng, ref, torch):
    x_shape, kh, kw, stride, pad = _geometry(rng, pool=True)
    x = _specials(rng, rng.standard_normal(x_shape).astype(c.dtype))
    x, xv = _layout(rng, x)
    y, argmax = c.call("maxpool2d_forward", xv, kh, kw, stride, pad)
    y_ref, argmax_ref = ref.maxpool2d_forward(x, kh, kw, stride, pad)
    c.same("y", y, y_ref)
    c.same("argmax", argmax, argmax_ref)
    dy = rng.integers(-8, 9, y.shape).astype(c.dtype)  # integer sums are exact in any order
    (dy, dyv), (am, av) = _layout(rng, dy), _layout(rng, argmax)
    dx = c.call("maxpool2d_backward", dyv, av, x_shape, kh, kw, stride, pad)
    c.same("dx", dx, ref.maxpool2d_backward(dy, am, x_shape, kh, kw, stride, pad))
    if torch is not None and x.size:
        s = (kh, kw) if stride is None else stride
        tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        ty, tidx = torch.nn.functional.max_pool2d(tx, (kh, kw), s, pad, return_indices=True)
        c.same("y vs torch", y, ty.detach().numpy().astype(c.dtype))
        oy, ox = np.indices(y.shape[2:])
        rows = oy * s[0] - pad[0] + argmax // kw
        cols = ox * s[1] - pad[1] + argmax % kw
        plain = np.isfinite(y) | (y == np.inf)  # documented: NaN and -inf windows differ
        c.same("argmax vs torch", (rows * x_shape[3] + cols)[plain], tidx.numpy()[plain])
        if np.array_equal(am, argmax) and not (np.isnan(x).any() or np.isneginf(x).any()):
            ty.backward(torch.tensor(dy, dtype=torch.float64))
            c.same("dx vs torch", dx, tx.grad.numpy().astype(c.dtype))


def _fuzz_avgpool(c, rng, ref, torch):
    x_shape, kh, kw, stride, pad = _geometry(rng, pool=True)
    x = _specials(rng, rng.standard_normal(x_shape).astype(c.dtype))
    x, xv = _layout(rng, x)
    y = c.call("avgpool2d_forward", xv, kh, kw, stride, pad)
    bound = (kh * kw + 1) * c.eps * ref.avgpool2d_forward(np.abs(x), kh, kw, stride, pad)
    c.near("y", y, ref.avgpool2d_forward(x, kh, kw, stride, pad), bound)
    dy = rng.standard_normal(y.shape).astype(c.dtype)
    dy, dyv = _layout(rng, dy)
    dx = c.call("avgpool2d_backward", dyv, x_shape, kh, kw, stride, pad)
    dx_bound = (
        (kh * kw + 1) * c.eps * ref.avgpool2d_backward(np.abs(dy), x_shape, kh, kw, stride, pad)
    )
    c.near("dx", dx, ref.avgpool2d_backward(dy, x_shape, kh, kw, stride, pad), dx_bound)
    if torch is not None and x.size:
        s = (kh, kw) if stride is None else stride
        tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        ty = torch.nn.functional.avg_pool2d(tx, (kh, kw), s, pad)
        ty.backward(torch.tensor(dy, dtype=torch.float64))
        c.near("y vs torch", y.astype(np.float64), ty.detach().numpy(), 2 * bound)
        c.near("dx vs torch", dx.astype(np.float64), tx.grad.numpy(), 2 * dx_bound)


def _torch_act(torch, name, params):
    tf = torch.nn.functional
    table = {
        "identity": lambda t: t,
        "relu": tf.relu,
        "leaky_relu": lambda t: tf.leaky_relu(t, params.get("alpha", 0.01)),
        "relu6": tf.relu6,
        "elu": lambda t: tf.elu(t, params.get("alpha", 1.0)),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "softplus": lambda t: tf.softplus(t, threshold=1e300),  # exact, no linear cut-off
        "swish": tf.silu,
        "hswish": tf.hardswish if params.get("n", 6.0) == 6.0 else None,
        "mish": tf.mish,
        "tanhexp": lambda t: t * torch.tanh(torch.exp(t)),
        "gelu": lambda t: tf.gelu(t, approximate="tanh"),
    }
    return table[name]


def _fuzz_bias_act(c, rng, ref, torch):
    shape = tuple(int(s) for s in rng.integers(1, 7, rng.integers(1, 5)))
    if rng.random() < 0.2:
        shape = (int(rng.integers(0, 3)), int(rng.integers(1, 3)), int(rng.integers(500, 1100)))
    axis = int(rng.integers(-len(shape), len(shape)))
    name = sorted(ACTIVATIONS)[rng.integers(len(ACTIVATIONS))]
    params = {}
    if name in ("leaky_relu", "elu") and rng.random() < 0.5:
        params["alpha"] = float(rng.uniform(0.01, 2.0))
    if name == "hswish" and rng.random() < 0.5:
        params["n"] = float(rng.uniform(1.0, 8.0))
    scale = 10.0 ** rng.choice([0, 1, 2, 4, 10, 30])
    x = (scale * rng.uniform(-1, 1, shape)).astype(c.dtype)
    b = rng.uniform(-1, 1, shape[axis]).astype(c.dtype) if rng.random() < 0.7 else None
    (x, xv), (b, bv) = _layout(rng, x), (None, None) if b is None else _layout(rng, b)
    y = c.call("bias_act_forward", xv, bv, name, axis, **params)
    tol = 128 * c.eps  # the activations' accuracy (README: within 70 eps of float64)
    y_ref = ref.bias_act_forward(x, b, name, axis, **params)
    c.near("y", y, y_ref, tol * np.maximum(np.abs(y_ref), 1))
    c.no_new_nan("y", y, x)
    dy = rng.standard_normal(shape).astype(c.dtype)
    dy, dyv = _layout(rng, dy)
    dx, db = c.call("bias_act_backward", dyv, xv, bv, name, axis, **params)
    dx_ref, db_ref = ref.bias_act_backward(dy, x, b, name, axis, **params)
    dx_bound = tol * np.maximum(np.abs(dx_ref), np.abs(dy))
    c.near("dx", dx, dx_ref, dx_bound)
    c.no_new_nan("dx", dx, x, dy)
    if b is not None:
        others = tuple(a for a in range(len(shape)) if a != axis % len(shape))
        terms = x.size // max(shape[axis], 1) + 1
        db_bound = dx_bound.sum(axis=others) + terms * c.eps * np.abs(dx_ref).sum(axis=others)
        c.near("db", db, db_ref, db_bound)
    fn = _torch_act(torch, name, params) if torch is not None else None
    if fn is not None and x.size:
        z = x.astype(np.float64) + (0 if b is None else np.expand_dims(b, others))
        tz = torch.tensor(z, requires_grad=True)
        ty = fn(tz)
        ty.backward(torch.tensor(dy, dtype=torch.float64))
        for what, got, t in (("y", y, ty.detach().numpy()), ("dx", dx, tz.grad.numpy())):
            ok = np.isfinite(t)  # torch's own overflow (inf * 0 in its autograd) is not ours
            t_scale = np.where(ok, np.maximum(np.abs(t), np.abs(dy) if what == "dx" else 1), 0)
            got, t = np.where(ok, got.astype(np.float64), 0.0), np.where(ok, t, 0.0)
            c.near(f"{what} vs torch", got, t, tol * t_scale)


FUZZERS = {
    "im2col": _fuzz_im2col,
    "conv": _fuzz_conv,
    "maxpool": _fuzz_maxpool,
    "avgpool": _fuzz_avgpool,
    "bias_act": _fuzz_bias_act,
}


def _worker(backend, cases, seed):
    """Run ``cases`` problems per family on ``backend``; print a JSON report on stdout."""
    ref = types.SimpleNamespace(
        **{name: functools.partial(getattr(F, name), backend="numpy") for name in F.__all__}
    )
    try:
        import torch
    except ImportError:
        torch = None
    report = {"torch": torch is not None}
    for family in FAMILIES:
        failures = []
        for i in range(cases):
            rng = np.random.default_rng([seed, FAMILIES.index(family), i])
            dtype = (np.float32, np.float64)[i % 2]
            print(
                f"{family} case {i} seed [{seed}, {FAMILIES.index(family)}, {i}]",
                file=sys.stderr,
                flush=True,
            )
            try:
                with np.errstate(all="ignore"):
                    FUZZERS[family](_Case(backend, dtype), rng, ref, torch)
            except AssertionError as exc:
                failures.append(f"case {i} ({np.dtype(dtype)}): {str(exc)[:300]}")
        report[family] = failures
    print(json.dumps(report))


# ----------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("backend_name", _backend.BACKENDS)
def test_fuzz_backend_in_subprocess(backend_name):
    if backend_name not in _backend.available_backends():
        pytest.skip(f"backend {backend_name!r} not available")
    if backend_name == "numpy" and importlib.util.find_spec("torch") is None:
        pytest.skip("the numpy backend is the reference: fuzzing it needs PyTorch as the oracle")
    cmd = [sys.executable, __file__, backend_name, str(CASES), str(SEED)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300 + 0.2 * CASES)
    except subprocess.TimeoutExpired as exc:
        last = (exc.stderr or b"")[-300:]
        pytest.fail(
            f"{backend_name}: fuzz worker hung (killed after {exc.timeout} s); last: {last}"
        )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        cases = [ln for ln in lines if " case " in ln]
        tail = "\n".join(ln for ln in lines[-30:] if " case " not in ln)
        pytest.fail(
            f"{backend_name}: fuzz worker died (exit {done.returncode}) during "
            f"{cases[-1] if cases else '?'}\n{tail}"
        )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    failures = {fam: report[fam] for fam in FAMILIES if report[fam]}
    assert not failures, f"{backend_name} (torch checked: {report['torch']}): {failures}"


@functools.cache
def _tiny_pad_cases(dtype):
    """Every stride-1 conv with kernel sizes 1-7, pads 0-3 (every "same" pad of these kernels),
    H and W from 1 to 3, and W or H smaller than its pad: inputs and the reference's results."""
    from fastdl._kernels.ref import _conv as ref

    rng = np.random.default_rng(16)
    cases = []
    for kh, kw, ph, pw, h, w in itertools.product(
        range(1, 8), range(1, 8), range(4), range(4), range(1, 4), range(1, 4)
    ):
        if (w < pw or h < ph) and kh <= h + 2 * ph and kw <= w + 2 * pw:
            x = rng.uniform(-1, 1, (2, 2, h, w)).astype(dtype)
            wt = rng.uniform(-1, 1, (2, 2, kh, kw)).astype(dtype)
            b = rng.uniform(-1, 1, 2).astype(dtype)
            y = ref.conv2d_forward(x, wt, b, 1, (ph, pw))
            dy = rng.uniform(-1, 1, y.shape).astype(dtype)
            grads = ref.conv2d_backward(dy, x, wt, 1, (ph, pw))
            cases.append(((kh, kw, ph, pw, h, w), x, wt, b, dy, y, grads))
    return cases


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_conv_stride1_inputs_smaller_than_pad(backend, dtype):
    """Issue 16: the Cython im2col chunk copied a negative length here (heap corruption)."""
    for (kh, kw, ph, pw, h, w), x, wt, b, dy, y, grads in _tiny_pad_cases(dtype):
        where = f"k={kh}x{kw} pad=({ph}, {pw}) H={h} W={w}"
        got = F.conv2d_forward(x, wt, b, 1, (ph, pw), backend=backend)
        assert_close(got, y, err_msg=where)
        got = F.conv2d_backward(dy, x, wt, 1, (ph, pw), backend=backend)
        for name, g, want in zip(("dx", "dw", "db"), got, grads):
            assert_close(g, want, err_msg=f"{name} {where}")


def test_conv_issue_16_reproducer(backend):
    x, w = np.ones((1, 1, 1, 1)), np.ones((1, 1, 1, 5))
    y = F.conv2d_forward(x, w, None, 1, (0, 2), backend=backend)
    np.testing.assert_array_equal(y, [[[[1.0]]]])
    _, dw, db = F.conv2d_backward(np.ones_like(y), x, w, 1, (0, 2), backend=backend)
    np.testing.assert_array_equal(dw, [[[[0.0, 0.0, 1.0, 0.0, 0.0]]]])
    np.testing.assert_array_equal(db, [1.0])


if __name__ == "__main__":
    _worker(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
