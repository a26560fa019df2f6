"""The compiled backends' convolution algorithms (im2col, Winograd F(2x2, 3x3)) and their rule.

Each algorithm runs here whatever the rule would pick (``use_algorithm``), against the NumPy
reference over a grid of shapes, pads, dtypes and bias/no bias, plus float64 gradient checks,
read-only and non-contiguous inputs, and the float32 error bound of Winograd stated in
``docs/kernels.md``.
"""

import importlib

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastdl
from fastdl import functional
from fastdl._kernels import _conv_rule, _threads, _winograd

from helpers import assert_close, numerical_grad

COMPILED = ["numba", "cython"]
# (N, C, H, W), F, pad: tiny planes, odd and even sizes, planes smaller than a tile, big pads
GRID = [
    ((1, 1, 3, 3), 1, 0),
    ((2, 3, 5, 7), 4, 1),
    ((3, 2, 6, 6), 5, 0),
    ((2, 4, 8, 9), 3, 2),
    ((2, 3, 4, 4), 2, 3),
    ((1, 2, 1, 1), 3, 1),
    ((2, 2, 2, 5), 2, (1, 2)),
    ((5, 16, 14, 14), 32, 1),
    ((3, 17, 9, 11), 19, 1),
]
IDS = [f"x{x}-f{f}-p{p}" for x, f, p in GRID]
# Winograd's float32 error, relative to the largest entry of the result (docs/kernels.md)
WINOGRAD_SCALED_ATOL = {np.dtype(np.float32): 16 * 2.0**-23, np.dtype(np.float64): 1e-12}


def _assert_close(got, ref, algorithm, err_msg):
    """``assert_close`` (SUM_TOL); Winograd gets an absolute error scaled to ``max |ref|``."""
    if algorithm == "im2col" or ref.size == 0:
        assert_close(got, ref, err_msg=err_msg)
        return
    assert got.dtype == ref.dtype and got.shape == ref.shape, err_msg
    atol = WINOGRAD_SCALED_ATOL[ref.dtype] * max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(got, ref, rtol=2e-5, atol=atol, err_msg=err_msg)


@pytest.fixture(params=COMPILED)
def compiled(request):
    """A compiled backend (skipped where it is not installed)."""
    if request.param not in fastdl.available_backends():
        pytest.skip(f"backend {request.param!r} not available")
    return request.param


@pytest.fixture(params=["im2col", "winograd"])
def algorithm(request):
    return request.param


def _problem(rng, x_shape, f, pad, dtype):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((f, x_shape[1], 3, 3)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    y = functional.conv2d_forward(x, w, b, 1, pad, backend="numpy")
    dy = rng.standard_normal(y.shape).astype(dtype)
    return x, w, b, dy


@pytest.mark.parametrize(("x_shape", "f", "pad"), GRID, ids=IDS)
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "nobias"])
def test_each_algorithm_matches_the_reference(
    compiled, algorithm, dtype, x_shape, f, pad, with_bias
):
    rng = np.random.default_rng(sum(x_shape) + f)
    x, w, b, dy = _problem(rng, x_shape, f, pad, dtype)
    b = b if with_bias else None
    with _conv_rule.use_algorithm(algorithm):
        y = functional.conv2d_forward(x, w, b, 1, pad, backend=compiled)
        grads = functional.conv2d_backward(dy, x, w, 1, pad, backend=compiled)
        no_dx = functional.conv2d_backward(dy, x, w, 1, pad, need_dx=False, backend=compiled)
    _assert_close(y, functional.conv2d_forward(x, w, b, 1, pad, backend="numpy"), algorithm, "y")
    want = functional.conv2d_backward(dy, x, w, 1, pad, backend="numpy")
    for name, got, ref in zip(("dx", "dw", "db"), grads, want):
        _assert_close(got, ref, algorithm, name)
    assert no_dx[0] is None
    _assert_close(no_dx[1], want[1], algorithm, "dw without dx")
    _assert_close(no_dx[2], want[2], algorithm, "db without dx")


def test_winograd_on_read_only_and_non_contiguous_inputs_leaves_them_unchanged(compiled, dtype):
    rng = np.random.default_rng(7)
    x, w, b, dy = _problem(rng, (3, 16, 10, 12), 16, 1, dtype)
    wide = np.repeat(x, 2, axis=3)  # x is wide[..., ::2], not contiguous
    xs, ws, dys = wide[..., ::2], np.asfortranarray(w), dy.copy()
    for a in (wide, ws, b, dys):
        a.setflags(write=False)
    kept = [a.copy() for a in (wide, ws, b, dys)]
    with _conv_rule.use_algorithm("winograd"):
        y = functional.conv2d_forward(xs, ws, b, 1, 1, backend=compiled)
        grads = functional.conv2d_backward(dys, xs, ws, 1, 1, backend=compiled)
    _assert_close(y, functional.conv2d_forward(x, w, b, 1, 1, backend="numpy"), "winograd", "y")
    for got, ref in zip(grads, functional.conv2d_backward(dy, x, w, 1, 1, backend="numpy")):
        _assert_close(got, ref, "winograd", "grads")
    for a, k in zip((wide, ws, b, dys), kept):
        np.testing.assert_array_equal(a, k)


@pytest.mark.parametrize(("x_shape", "f", "pad"), [((2, 2, 5, 4), 3, 1), ((1, 3, 3, 6), 2, 2)])
def test_winograd_gradients_match_central_differences(compiled, x_shape, f, pad):
    rng = np.random.default_rng(3)
    x, w, b, dy = _problem(rng, x_shape, f, pad, np.float64)

    def loss():
        return float((functional.conv2d_forward(x, w, b, 1, pad, backend=compiled) * dy).sum())

    with _conv_rule.use_algorithm("winograd"):
        dx, dw, db = functional.conv2d_backward(dy, x, w, 1, pad, backend=compiled)
        for name, got, arg in (("dx", dx, x), ("dw", dw, w), ("db", db, b)):
            want = numerical_grad(loss, arg)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=name)


def test_winograd_float32_error_is_within_the_stated_bound(compiled):
    """|y32 - y64| <= 16 eps (|x| conv |w|) elementwise, the bound in docs/kernels.md."""
    rng = np.random.default_rng(11)
    x, w, b, dy = _problem(rng, (4, 32, 14, 14), 32, 1, np.float64)
    scale = functional.conv2d_forward(np.abs(x), np.abs(w), None, 1, 1, backend="numpy")
    exact = functional.conv2d_forward(x, w, b, 1, 1, backend="numpy")
    with _conv_rule.use_algorithm("winograd"):
        y32 = functional.conv2d_forward(
            x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), 1, 1, backend=compiled
        )
    ratio = np.abs(y32 - exact) / (np.finfo(np.float32).eps * (scale + np.abs(b)[:, None, None]))
    assert ratio.max() <= 16, ratio.max()


def test_the_rule_picks_winograd_for_wide_3x3_stride_1_layers_only():
    choose = _conv_rule.choose
    assert choose((100, 16, 28, 28), (16, 16, 3, 3), 1) == "winograd"
    assert choose((8, 64, 7, 7), (64, 64, 3, 3), (1, 1)) == "winograd"
    assert choose((100, 15, 28, 28), (16, 15, 3, 3), 1) == "im2col"  # too few input channels
    assert choose((100, 16, 28, 28), (15, 16, 3, 3), 1) == "im2col"  # too few filters
    assert choose((100, 1, 28, 28), (16, 1, 3, 3), 1) == "im2col"
    assert choose((100, 64, 28, 28), (64, 64, 5, 5), 1) == "im2col"  # not 3x3
    assert choose((100, 64, 28, 28), (64, 64, 3, 3), 2) == "im2col"  # stride 2
    assert choose((100, 64, 28, 28), (64, 64, 3, 3), (1, 2)) == "im2col"


def test_forcing_an_algorithm_overrides_the_rule_and_is_checked():
    with _conv_rule.use_algorithm("im2col"):
        assert _conv_rule.choose((100, 64, 8, 8), (64, 64, 3, 3), 1) == "im2col"
    with _conv_rule.use_algorithm("winograd"):
        assert _conv_rule.choose((1, 1, 5, 5), (1, 1, 3, 3), 1) == "winograd"
        with pytest.raises(ValueError, match=r"3x3 filters at stride 1.*\(4, 2, 5, 5\).*stride 1"):
            _conv_rule.choose((1, 2, 9, 9), (4, 2, 5, 5), 1)
    assert _conv_rule.choose((1, 1, 5, 5), (1, 1, 3, 3), 1) == "im2col"  # restored on exit
    with pytest.raises(ValueError, match="one of .*'fft'"):
        with _conv_rule.use_algorithm("fft"):
            pass


def test_forced_winograd_on_a_5x5_layer_raises_before_computing(compiled):
    x = np.ones((1, 2, 9, 9), np.float32)
    with _conv_rule.use_algorithm("winograd"), pytest.raises(ValueError, match="3x3 filters"):
        w = np.ones((4, 2, 5, 5), np.float32)
        functional.conv2d_forward(x, w, None, 1, 0, backend=compiled)


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_winograd_split_over_any_thread_count_matches_and_repeats_bit_for_bit(
    compiled, threads, monkeypatch
):
    """Images split unevenly over threads, chunks of one image (a tiny ``CHUNK_BYTES``): the
    threads' partial ``dU`` are summed in thread order, so a fixed count repeats its bits."""
    monkeypatch.setattr(_threads, "num_threads", lambda: threads)
    monkeypatch.setattr(_winograd, "CHUNK_BYTES", 1)
    rng = np.random.default_rng(threads)
    x, w, b, dy = _problem(rng, (7, 16, 6, 5), 16, 1, np.float64)
    with _conv_rule.use_algorithm("winograd"):
        runs = [
            (
                functional.conv2d_forward(x, w, b, 1, 1, backend=compiled),
                *functional.conv2d_backward(dy, x, w, 1, 1, backend=compiled),
            )
            for _ in range(2)
        ]
    want = (
        functional.conv2d_forward(x, w, b, 1, 1, backend="numpy"),
        *functional.conv2d_backward(dy, x, w, 1, 1, backend="numpy"),
    )
    for name, first, again, ref in zip(("y", "dx", "dw", "db"), *runs, want):
        _assert_close(first, ref, "winograd", name)
        np.testing.assert_array_equal(first, again, err_msg=name)


@pytest.mark.parametrize(
    ("c", "f", "k", "expected"), [(16, 16, 3, 1), (8, 16, 3, 0), (16, 16, 5, 0)]
)
def test_the_backends_follow_the_rule(compiled, c, f, k, expected, monkeypatch):
    """``auto`` sends a wide 3x3 layer to Winograd and the others to im2col, both passes."""
    calls = []
    for name in ("forward", "backward"):
        real = getattr(_winograd, name)
        monkeypatch.setattr(
            _winograd, name, lambda *a, real=real, name=name: calls.append(name) or real(*a)
        )
    x, w, b, dy = _problem(np.random.default_rng(0), (2, c, 6, 6), f, 1, np.float32)
    w = np.zeros((f, c, k, k), np.float32)
    y = functional.conv2d_forward(x, w, b, 1, 1, backend=compiled)
    functional.conv2d_backward(np.ones_like(y), x, w, 1, 1, backend=compiled)
    assert calls == ["forward", "backward"] * expected


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 5),
    f=st.integers(1, 5),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    pad=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    dtype=st.sampled_from([np.float32, np.float64]),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_winograd_on_drawn_problems(n, c, f, h, w, pad, dtype, with_bias, seed):
    """Forced Winograd on every compiled backend: drawn sizes (planes smaller than a tile
    included), pads 0-3 per side, a Fortran-ordered filter and a strided input."""
    assume(h + 2 * pad[0] >= 3 and w + 2 * pad[1] >= 3)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, c, h, w)).astype(dtype)
    wt = rng.uniform(-1, 1, (f, c, 3, 3)).astype(dtype)
    b = rng.uniform(-1, 1, f).astype(dtype) if with_bias else None
    wide = np.repeat(x, 2, axis=3)  # x is wide[..., ::2]
    y_ref = functional.conv2d_forward(x, wt, b, 1, pad, backend="numpy")
    dy = rng.uniform(-1, 1, y_ref.shape).astype(dtype)
    want = functional.conv2d_backward(dy, x, wt, 1, pad, backend="numpy")
    for backend in [name for name in COMPILED if name in fastdl.available_backends()]:
        with _conv_rule.use_algorithm("winograd"):
            y = functional.conv2d_forward(
                wide[..., ::2], np.asfortranarray(wt), b, 1, pad, backend=backend
            )
            grads = functional.conv2d_backward(dy, wide[..., ::2], wt, 1, pad, backend=backend)
        _assert_close(y, y_ref, "winograd", f"{backend} y")
        for name, got, ref in zip(("dx", "dw", "db"), grads, want):
            _assert_close(got, ref, "winograd", f"{backend} {name}")


@pytest.mark.parametrize("backend", ["cy", "nb"])
def test_tile_loops_reject_tile_tensors_and_grids_that_do_not_fit(backend):
    loops = importlib.import_module(f"fastdl._kernels.{backend}._winograd")
    x = np.ones((2, 3, 6, 6))  # pad 1: OH = OW = 6, TH = TW = 3
    v = np.zeros((16, 3, 2 * 9))  # (16, C, S*T)
    y = np.zeros((2, 3, 6, 6))
    bias = np.zeros(3)
    with pytest.raises(ValueError, match=r"v must be \(16, C, S\*T\)"):
        loops.input_tiles(x, 0, np.zeros((36, 3, 18)), 1, 1, 3, 3)
    with pytest.raises(ValueError, match="images n0:n0\\+S must lie in x"):
        loops.input_tiles(x, 1, v, 1, 1, 3, 3)
    with pytest.raises(ValueError, match="the tiles must cover x"):
        loops.input_tiles(x, 0, np.zeros((16, 3, 2 * 6)), 1, 1, 2, 3)
    with pytest.raises(ValueError, match="the tiles must cover dx"):
        loops.input_grad_tiles(np.zeros((16, 3, 2 * 6)), x.copy(), 0, 1, 1, 3, 2)
    with pytest.raises(ValueError, match="the tiles must cover y"):
        loops.output_tiles(np.zeros((16, 3, 2 * 6)), bias, y, 0, 2, 3)
    with pytest.raises(ValueError, match="the tiles must cover dy"):
        loops.output_grad_tiles(y, 0, np.zeros((16, 3, 2 * 6)), 3, 2)
    with pytest.raises(ValueError, match="bias must have F entries"):
        loops.output_tiles(v, np.zeros(2), y, 0, 3, 3)
