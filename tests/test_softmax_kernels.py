"""The fused softmax + cross-entropy kernels (``_softmax``): reference and backends against a
float64 plain-loop oracle, extreme logits, awkward layouts and the wrappers' validation."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastdl import functional
from fastdl._kernels.ref import _softmax as ref
from fastdl._validate import labels_in_range

from helpers import SUM_TOL, assert_close

F32_MAX = float(np.finfo(np.float32).max)


def naive_forward(y, t):
    """Plain loops in float64: ``(loss (N,), probs (N, K))``."""
    y = y.astype(np.float64)
    n, k = y.shape
    loss, probs = np.zeros(n), np.zeros((n, k))
    for i in range(n):
        top = max(y[i])
        total = sum(math.exp(y[i, j] - top) for j in range(k))
        for j in range(k):
            probs[i, j] = math.exp(y[i, j] - top) / total
        loss[i] = top - y[i, t[i]] + math.log(total)
    return loss, probs


def naive_backward(probs, t, scale):
    dy = probs.astype(np.float64)
    for i in range(len(t)):
        for j in range(probs.shape[1]):
            dy[i, j] = (dy[i, j] - (j == t[i])) * scale
    return dy


def _problem(rng, n, k, dtype, spread=4.0):
    y = (spread * rng.standard_normal((n, k))).astype(dtype)
    return y, rng.integers(0, k, n)


def assert_loss_close(loss, want, dtype):
    """float64 losses, accurate to the logits' dtype (the reference sums ``exp`` in it)."""
    assert loss.dtype == want.dtype == np.float64
    np.testing.assert_allclose(loss, want, **SUM_TOL[np.dtype(dtype)])


def test_reference_equals_naive_loops(rng):
    y, t = _problem(rng, 7, 5, np.float64)
    loss, probs = ref.softmax_xent_forward(y, t)
    want_loss, want_probs = naive_forward(y, t)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-13)
    np.testing.assert_allclose(probs, want_probs, rtol=1e-13, atol=1e-300)
    dy = ref.softmax_xent_backward(probs, t, 0.25)
    np.testing.assert_allclose(dy, naive_backward(probs, t, 0.25), rtol=1e-15, atol=1e-300)


def test_backend_equals_reference(backend, dtype, rng):
    y, t = _problem(rng, 50, 10, dtype)
    y0 = y.copy()
    loss, probs = functional.softmax_xent_forward(y, t, backend=backend)
    want_loss, want_probs = ref.softmax_xent_forward(y, t)
    assert_loss_close(loss, want_loss, dtype)
    assert_close(probs, want_probs)
    dy = functional.softmax_xent_backward(probs, t, 1 / 50, backend=backend)
    assert_close(dy, ref.softmax_xent_backward(want_probs, t, 1 / 50))
    np.testing.assert_array_equal(y, y0)


def test_float32_close_to_float64_oracle(backend, rng):
    y, t = _problem(rng, 20, 7, np.float32)
    loss, probs = functional.softmax_xent_forward(y, t, backend=backend)
    want_loss, want_probs = naive_forward(y, t)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(probs, want_probs, rtol=1e-5, atol=1e-7)
    dy = functional.softmax_xent_backward(probs, t, 0.5, backend=backend)
    np.testing.assert_allclose(dy, naive_backward(want_probs, t, 0.5), rtol=1e-5, atol=1e-7)


EXTREME_ROWS = [
    ([F32_MAX, -F32_MAX, 0.0], 1),  # a loss of 2 * F32_MAX: beyond float32, fine in float64
    ([-F32_MAX, F32_MAX, 1.0], 0),
    ([3e38, 3e38, 3e38], 2),  # equal logits: log(3)
    ([-3e38, -3e38, -3e38], 0),
    ([0.0, 0.0, 0.0], 1),
    ([88.0, -88.0, 0.0], 1),
]


def test_extreme_logits_give_finite_exact_losses(backend, dtype):
    y = np.array([row for row, _ in EXTREME_ROWS], dtype)
    t = np.array([label for _, label in EXTREME_ROWS])
    loss, probs = functional.softmax_xent_forward(y, t, backend=backend)
    want_loss, want_probs = naive_forward(y, t)
    assert np.isfinite(loss).all() and np.isfinite(probs).all()
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6)
    np.testing.assert_allclose(probs, want_probs.astype(dtype), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(loss[2:5], math.log(3), rtol=1e-6)
    dy = functional.softmax_xent_backward(probs, t, 1.0, backend=backend)
    assert np.isfinite(dy).all()


SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(
    n=st.integers(1, 12),
    k=st.integers(1, 12),
    dtype=st.sampled_from([np.float32, np.float64]),
    layout=st.sampled_from(["contiguous", "strided", "fortran", "read-only"]),
    label_dtype=st.sampled_from([np.int64, np.int32, np.uint8]),
)
def test_any_layout_and_label_dtype(backend, n, k, dtype, layout, label_dtype):
    rng = np.random.default_rng([n, k])
    y, t = _problem(rng, n, k, dtype)
    want_loss, want_probs = ref.softmax_xent_forward(y, t)
    want_dy = ref.softmax_xent_backward(want_probs, t, 0.3)
    t = t.astype(label_dtype)
    if layout == "strided":
        wide = np.zeros((n, 2 * k), dtype)
        wide[:, ::2] = y
        y = wide[:, ::2]
        t = np.repeat(t, 2)[::2]
    elif layout == "fortran":
        y = np.asfortranarray(y)
    elif layout == "read-only":
        y.setflags(write=False)
        t.setflags(write=False)
    y0, t0 = y.copy(), t.copy()
    loss, probs = functional.softmax_xent_forward(y, t, backend=backend)
    assert_loss_close(loss, want_loss, dtype)
    assert_close(probs, want_probs)
    assert_close(functional.softmax_xent_backward(probs, t, 0.3, backend=backend), want_dy)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(t, t0)


def test_empty_batch(backend):
    loss, probs = functional.softmax_xent_forward(
        np.zeros((0, 4), np.float32), np.zeros(0, np.int32), backend=backend
    )
    assert loss.shape == (0,) and probs.shape == (0, 4) and probs.dtype == np.float32
    dy = functional.softmax_xent_backward(probs, np.zeros(0, np.int64), 1.0, backend=backend)
    assert dy.shape == (0, 4) and dy.dtype == np.float32


@pytest.mark.parametrize(
    ("y", "t", "error", "match"),
    [
        (np.zeros((2, 3)), [0, 3], ValueError, r"t\[1\] = 3 is not a class index in \[0, 3\)"),
        (np.zeros((2, 3)), [-1, 0], ValueError, r"t\[0\] = -1 is not a class index"),
        (np.zeros((2, 3)), [0.0, 1.0], TypeError, "t must be an integer array"),
        (np.zeros((2, 3)), [0, 1, 2], ValueError, r"t must have shape \(2,\)"),
        (np.zeros((2, 0)), [0, 0], ValueError, "y must have at least one class"),
        (np.zeros(3), [0, 0, 0], ValueError, "y must be 2-D"),
        (np.zeros((2, 3), np.int32), [0, 0], TypeError, "y must be a float32 or float64"),
    ],
)
def test_bad_input_raises(y, t, error, match):
    with pytest.raises(error, match=match):
        functional.softmax_xent_forward(y, np.asarray(t))


def test_backward_checks_scale_and_labels():
    probs = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="scale must be a finite number, got inf"):
        functional.softmax_xent_backward(probs, [0, 1], float("inf"))
    with pytest.raises(ValueError, match=r"t\[1\] = 7 is not a class index"):
        functional.softmax_xent_backward(probs, [0, 7], 1.0)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64])
def test_label_range_check_with_one_reduction(dtype):
    """``labels_in_range`` (an unsigned view, one ``max``) against the plain comparison."""
    info = np.iinfo(dtype)
    for k in (1, 5, 127, 128, 129, 200, 300, 70000):
        for value in {info.min, -1, 0, k - 1, k, 10**6, info.max}:
            if info.min <= value <= info.max:
                t = np.array([0, value], dtype)
                assert labels_in_range(t, k) == (0 <= value < k), (k, value)
