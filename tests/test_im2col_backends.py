"""im2col / col2im of every backend equal the NumPy reference exactly: values, dtype and shape.

im2col is data movement; col2im sums, but every backend adds the terms of a pixel in the
reference's order, so its result is bit-identical too (checked on the bit patterns).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastdl import functional
from fastdl._kernels._common import out_size
from fastdl._kernels.ref import _im2col as ref

from helpers import assert_close

STRIDES = [1, 2, 3, (2, 1)]
PADS = [0, 1, 2, (1, 0)]
# x_shape (N, C, H, W), kh, kw, stride, pad
CASES = [((2, 3, 7, 6), 3, 2, stride, pad) for stride in STRIDES for pad in PADS] + [
    ((1, 1, 5, 4), 2, 3, 1, 1),  # N=1, C=1
    ((1, 3, 6, 9), 4, 2, (1, 3), (2, 0)),
    ((2, 3, 5, 5), 1, 1, 1, 0),  # 1x1 kernel
    ((2, 1, 5, 6), 1, 1, 2, 2),  # 1x1 kernel: some windows see only padding
    ((2, 3, 4, 5), 6, 7, 1, 1),  # window == padded input: OH = OW = 1
    ((1, 1, 3, 3), 3, 3, 2, 0),  # window == input
    ((3, 2, 9, 8), 5, 5, 3, 2),
]
IDS = [f"x{s}-k{kh}x{kw}-s{st}-p{p}".replace(" ", "") for s, kh, kw, st, p in CASES]


def _bits(a):
    """The bit patterns of a float array (tells -0.0 from 0.0)."""
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def _col_shape(x_shape, kh, kw, stride, pad):
    n, c, h, w = x_shape
    oh, ow = out_size(h, w, kh, kw, stride, pad)
    return n * oh * ow, c * kh * kw


def _check_both(backend, x, kh, kw, stride, pad, rng):
    """im2col of ``x`` and col2im of a random ``col`` equal the reference exactly."""
    expected = ref.im2col(x, kh, kw, stride, pad)
    actual = functional.im2col(x, kh, kw, stride, pad, backend=backend)
    assert_close(actual, expected, exact=True, err_msg=f"im2col {backend}")

    col = rng.standard_normal(expected.shape).astype(x.dtype)
    expected = ref.col2im(col, x.shape, kh, kw, stride, pad)
    actual = functional.col2im(col, x.shape, kh, kw, stride, pad, backend=backend)
    assert_close(actual, expected, exact=True, err_msg=f"col2im {backend}")
    np.testing.assert_array_equal(_bits(actual), _bits(expected), err_msg=f"col2im {backend}")


@pytest.mark.parametrize(("x_shape", "kh", "kw", "stride", "pad"), CASES, ids=IDS)
def test_equals_reference(backend, dtype, rng, x_shape, kh, kw, stride, pad):
    x = rng.standard_normal(x_shape).astype(dtype)
    _check_both(backend, x, kh, kw, stride, pad, rng)


@st.composite
def _problems(draw):
    """A valid (x_shape, kh, kw, stride, pad, dtype): the window fits the padded input."""
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    h = draw(st.integers(max(1, kh - 2 * ph), 9))
    w = draw(st.integers(max(1, kw - 2 * pw), 9))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return (n, c, h, w), kh, kw, stride, (ph, pw), dtype


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(problem=_problems(), seed=st.integers(0, 2**32 - 1))
def test_equals_reference_hypothesis(backend, problem, seed):
    x_shape, kh, kw, stride, pad, dtype = problem
    rng = np.random.default_rng(seed)
    _check_both(backend, rng.standard_normal(x_shape).astype(dtype), kh, kw, stride, pad, rng)


def _layouts(rng, dtype):
    """Non-contiguous (N, C, H, W) views: a transpose, slices with a step, Fortran order."""
    yield "transposed", rng.standard_normal((2, 3, 6, 7)).astype(dtype).transpose(0, 1, 3, 2)
    yield "step slices", rng.standard_normal((4, 3, 14, 9)).astype(dtype)[::2, :, ::2, 1:]
    yield "fortran", np.asfortranarray(rng.standard_normal((2, 3, 7, 5)).astype(dtype))
    yield "channels last", rng.standard_normal((2, 7, 6, 3)).astype(dtype).transpose(0, 3, 1, 2)


def test_non_contiguous_inputs_not_mutated(backend, dtype, rng):
    for name, x in _layouts(rng, dtype):
        assert not x.flags.c_contiguous, name
        x_before = x.copy()
        expected = ref.im2col(np.ascontiguousarray(x), 3, 2, (2, 1), 1)
        actual = functional.im2col(x, 3, 2, (2, 1), 1, backend=backend)
        assert_close(actual, expected, exact=True, err_msg=name)
        np.testing.assert_array_equal(x, x_before, err_msg=name)

        col = np.asfortranarray(rng.standard_normal(expected.shape).astype(dtype))
        col_before = col.copy()
        expected = ref.col2im(np.ascontiguousarray(col), x.shape, 3, 2, (2, 1), 1)
        actual = functional.col2im(col, x.shape, 3, 2, (2, 1), 1, backend=backend)
        assert_close(actual, expected, exact=True, err_msg=name)
        np.testing.assert_array_equal(col, col_before, err_msg=name)


def test_read_only_inputs(backend, dtype, rng):
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    x.setflags(write=False)
    col = rng.standard_normal(_col_shape(x.shape, 3, 3, 2, 1)).astype(dtype)
    col.setflags(write=False)
    x_before, col_before = x.copy(), col.copy()

    actual = functional.im2col(x, 3, 3, 2, 1, backend=backend)
    assert_close(actual, ref.im2col(x, 3, 3, 2, 1), exact=True)
    assert actual.flags.writeable
    actual = functional.col2im(col, x.shape, 3, 3, 2, 1, backend=backend)
    assert_close(actual, ref.col2im(col, x.shape, 3, 3, 2, 1), exact=True)
    assert actual.flags.writeable
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(col, col_before)


def test_col2im_special_values(backend, dtype, rng):
    """inf, nan and signed zeros sum exactly as in the reference (no fast-math surprises)."""
    x_shape, kh, kw, stride, pad = (1, 2, 5, 5), 3, 3, 1, 1
    col = rng.standard_normal(_col_shape(x_shape, kh, kw, stride, pad)).astype(dtype)
    col[::7, ::3] = -0.0
    # rows (oh, ow) with OW = 5, columns (c, i, j); entry -> pixel (oh + i - 1, ow + j - 1)
    col[12, 4], col[13, 3] = np.inf, -np.inf  # both at pixel (2, 2) of channel 0: nan
    col[12, 13], col[18, 4], col[6, 0] = -np.inf, np.inf, np.nan
    with np.errstate(invalid="ignore"):  # inf - inf
        expected = ref.col2im(col, x_shape, kh, kw, stride, pad)
        actual = functional.col2im(col, x_shape, kh, kw, stride, pad, backend=backend)
    assert np.isnan(expected).any() and np.isinf(expected).any()
    np.testing.assert_array_equal(_bits(actual), _bits(expected))
