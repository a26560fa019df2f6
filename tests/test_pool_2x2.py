"""The 2x2 stride-2 unpadded pooling fast paths equal the reference bit for bit.

The compiled backends treat this case (the textbook's pooling layer) with separate loops: a
vectorised strict ``>`` whose rows are redone when they hold a NaN, and backward passes that
write every covered pixel once instead of adding into zeros. So the checks here cover what those
shortcuts could get wrong: NaN anywhere in a window (the first NaN wins, as ``np.argmax``), inf,
ties, signed zeros (``0 + (-0.0)`` is ``+0.0`` in the reference), and planes whose last row or
column no window covers (their gradient must be 0, not left uninitialised).
"""

import numpy as np
import pytest

from fastdl import functional

SHAPES = [(2, 3, 4, 6), (1, 2, 5, 7), (3, 1, 2, 3), (1, 1, 7, 2)]  # (N, C, H, W): even and odd


def _special_input(rng, x_shape, dtype):
    """Small integers (many ties) with NaN, +-inf and -0.0 sprinkled in."""
    x = rng.integers(-2, 3, x_shape).astype(dtype)
    specials = np.array([np.nan, np.inf, -np.inf, -0.0], dtype=dtype)
    where = rng.random(x_shape) < 0.15
    x[where] = rng.choice(specials, where.sum())
    return x


def _assert_same_bits(actual, expected, what):
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, what
    np.testing.assert_array_equal(actual, expected, err_msg=what)  # NaN equals NaN here
    np.testing.assert_array_equal(np.signbit(actual), np.signbit(expected), err_msg=what)


@pytest.mark.parametrize("x_shape", SHAPES, ids=str)
@pytest.mark.parametrize("seed", range(4))
def test_maxpool_2x2(backend, dtype, x_shape, seed):
    rng = np.random.default_rng(seed)
    x = _special_input(rng, x_shape, dtype)
    y, argmax = functional.maxpool2d_forward(x, 2, 2, 2, 0, backend=backend)
    y_ref, argmax_ref = functional.maxpool2d_forward(x, 2, 2, 2, 0, backend="numpy")
    _assert_same_bits(y, y_ref, "y")
    np.testing.assert_array_equal(argmax, argmax_ref, err_msg="argmax")
    dy = _special_input(rng, y.shape, dtype)
    dx = functional.maxpool2d_backward(dy, argmax_ref, x_shape, 2, 2, 2, 0, backend=backend)
    want = functional.maxpool2d_backward(dy, argmax_ref, x_shape, 2, 2, 2, 0, backend="numpy")
    _assert_same_bits(dx, want, "dx")


def test_maxpool_2x2_nan_at_every_window_offset(backend, dtype):
    """One NaN per window, at each of the four offsets, next to larger numbers and a later NaN."""
    x = np.arange(4 * 2 * 8, dtype=dtype).reshape(1, 4, 2, 8)  # (N, C, H, W)
    for k in range(4):
        x[0, k, k // 2, k % 2 :: 2] = np.nan  # offset k of every window of channel k
    x[0, 1, 1, 1::2] = np.nan  # a second NaN after the first
    y, argmax = functional.maxpool2d_forward(x, 2, 2, backend=backend)
    assert np.isnan(y).all()
    np.testing.assert_array_equal(argmax[0, :, 0], np.repeat(np.arange(4), 4).reshape(4, 4))


@pytest.mark.parametrize("x_shape", SHAPES, ids=str)
def test_avgpool_2x2(backend, dtype, x_shape):
    rng = np.random.default_rng(0)
    x = _special_input(rng, x_shape, dtype)
    y = functional.avgpool2d_forward(x, 2, 2, 2, 0, backend=backend)
    with np.errstate(invalid="ignore"):  # inf - inf in the reference's sums
        y_ref = functional.avgpool2d_forward(x, 2, 2, 2, 0, backend="numpy")
    _assert_same_bits(y, y_ref, "y")
    dy = _special_input(rng, y.shape, dtype)
    dx = functional.avgpool2d_backward(dy, x_shape, 2, 2, 2, 0, backend=backend)
    want = functional.avgpool2d_backward(dy, x_shape, 2, 2, 2, 0, backend="numpy")
    _assert_same_bits(dx, want, "dx")


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_2x2_backward_zeroes_uncovered_pixels(backend, kind):
    """Odd H and W: the last row and column get exactly 0 even when memory held garbage."""
    x_shape = (2, 3, 7, 9)
    dy = np.ones((2, 3, 3, 4))  # (N, C, OH, OW)
    for _ in range(3):
        garbage = np.full(x_shape, np.nan)  # freed memory full of NaN, likely reused for dx
        del garbage
        if kind == "max":
            argmax = np.zeros(dy.shape, dtype=np.int64)
            dx = functional.maxpool2d_backward(dy, argmax, x_shape, 2, 2, backend=backend)
        else:
            dx = functional.avgpool2d_backward(dy, x_shape, 2, 2, backend=backend)
        assert not np.isnan(dx).any()
        assert (dx[:, :, 6] == 0).all() and (dx[:, :, :, 8] == 0).all()
