"""Every kernel of every backend equals the plain-loop oracle of ``naive.py``, per dtype.

The oracle runs in float64 on the same inputs and is cast to the input dtype; data movement
(im2col, max pooling and its backward) must match exactly, sums within ``helpers.SUM_TOL``.
"""

import numpy as np
import pytest

from fastdl import functional

import naive
from helpers import assert_close

# x_shape (N, C, H, W), f, kh, kw, stride, pad
CONV_CASES = [
    ((1, 1, 5, 5), 1, 3, 3, 1, 0),
    ((2, 3, 5, 7), 4, 3, 2, 1, 1),
    ((2, 3, 8, 6), 2, 3, 3, 3, 1),  # stride 3 leaves the last row unused
    ((1, 3, 7, 6), 2, 2, 3, 2, 0),
    ((2, 1, 6, 5), 3, 3, 3, (2, 1), (1, 0)),
    ((1, 3, 4, 5), 2, 1, 1, 1, 0),
    ((2, 3, 5, 4), 2, 1, 1, 2, (0, 2)),
    ((1, 2, 4, 3), 2, 6, 3, 1, (1, 0)),  # window == padded input
    ((2, 3, 3, 4), 2, 5, 6, 2, 1),  # window == padded input
]
# x_shape (N, C, H, W), kh, kw, stride, pad; pad <= kernel // 2 (PyTorch's pooling rule)
POOL_CASES = [
    ((1, 1, 4, 4), 2, 2, None, 0),
    ((2, 3, 5, 7), 2, 2, 2, 0),  # 2x2/2 (a fast path) leaving the last row and column
    ((2, 3, 5, 7), 3, 3, 2, 1),
    ((2, 3, 6, 5), 3, 2, 1, (1, 0)),
    ((1, 3, 8, 7), 2, 3, 3, 0),
    ((2, 1, 6, 7), 3, 3, (2, 1), (0, 1)),
    ((1, 3, 5, 4), 1, 1, 2, 0),
    ((1, 2, 3, 5), 2, 2, 1, 1),  # corner windows hold a single real pixel
    ((1, 2, 4, 6), 4, 5, None, (0, 2)),
    ((2, 3, 4, 3), 6, 5, None, 1),  # window == padded input
]
# activation, params: every name with its defaults, then non-default parameters
ACT_CASES = [(name, {}) for name in naive.ACTIVATIONS] + [
    ("leaky_relu", {"alpha": 0.2}),
    ("elu", {"alpha": 0.5}),
    ("hswish", {"n": 4}),
]
# x shape, axis along which b broadcasts
BIAS_CASES = [((5, 4), 1), ((2, 3, 4, 3), 1), ((3, 2, 4), -1), ((2, 3, 2, 4), 2), ((4, 3), 0)]


def conv_id(case):
    x_shape, f, kh, kw, stride, pad = case
    return f"x{x_shape}-f{f}-k{kh}x{kw}-s{stride}-p{pad}".replace(" ", "")


def pool_id(case):
    x_shape, kh, kw, stride, pad = case
    return f"x{x_shape}-k{kh}x{kw}-s{stride}-p{pad}".replace(" ", "")


def act_id(case):
    name, params = case
    return name + "".join(f"-{k}{v}" for k, v in params.items())


def _f64(a):
    return a.astype(np.float64)


def _pool_out_shape(x_shape, kh, kw, stride, pad):
    stride = (kh, kw) if stride is None else stride
    return (*x_shape[:2], *naive.out_size(*x_shape[2:], kh, kw, stride, pad))


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_im2col(backend, dtype, rng, case):
    x_shape, _, kh, kw, stride, pad = case
    x = rng.standard_normal(x_shape).astype(dtype)
    col = functional.im2col(x, kh, kw, stride, pad, backend=backend)
    assert_close(col, naive.im2col(_f64(x), kh, kw, stride, pad).astype(dtype), exact=True)


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_col2im(backend, dtype, rng, case):
    x_shape, _, kh, kw, stride, pad = case
    n, c, h, w = x_shape
    oh, ow = naive.out_size(h, w, kh, kw, stride, pad)
    col = rng.standard_normal((n * oh * ow, c * kh * kw)).astype(dtype)
    x = functional.col2im(col, x_shape, kh, kw, stride, pad, backend=backend)
    assert_close(x, naive.col2im(_f64(col), x_shape, kh, kw, stride, pad).astype(dtype))


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_conv2d_forward(backend, dtype, rng, case, with_bias):
    x_shape, f, kh, kw, stride, pad = case
    x = rng.uniform(-1, 1, x_shape).astype(dtype)
    w = rng.uniform(-1, 1, (f, x_shape[1], kh, kw)).astype(dtype)
    b = rng.uniform(-1, 1, f).astype(dtype) if with_bias else None
    y = functional.conv2d_forward(x, w, b, stride, pad, backend=backend)
    b64 = None if b is None else _f64(b)
    assert_close(y, naive.conv2d_forward(_f64(x), _f64(w), b64, stride, pad).astype(dtype))


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_conv2d_backward(backend, dtype, rng, case):
    x_shape, f, kh, kw, stride, pad = case
    x = rng.uniform(-1, 1, x_shape).astype(dtype)
    w = rng.uniform(-1, 1, (f, x_shape[1], kh, kw)).astype(dtype)
    dy = rng.uniform(-1, 1, (x_shape[0], f, *naive.out_size(*x_shape[2:], kh, kw, stride, pad)))
    dy = dy.astype(dtype)
    grads = functional.conv2d_backward(dy, x, w, stride, pad, backend=backend)
    expected = naive.conv2d_backward(_f64(dy), _f64(x), _f64(w), stride, pad)
    assert len(grads) == 3
    for name, got, want in zip(("dx", "dw", "db"), grads, expected):
        assert_close(got, want.astype(dtype), err_msg=name)


def _pool_input(rng, x_shape, kind, dtype):
    """Pool test input: distinct values, ties (integers in -1..1) or all negative."""
    if kind == "distinct":
        x = rng.standard_normal(x_shape)
    elif kind == "ties":
        x = rng.integers(-1, 2, x_shape)
    else:
        x = -rng.uniform(1, 2, x_shape)
    return x.astype(dtype)


@pytest.mark.parametrize("kind", ["distinct", "ties", "negative"])
@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_maxpool2d_forward(backend, dtype, rng, case, kind):
    x_shape, kh, kw, stride, pad = case
    x = _pool_input(rng, x_shape, kind, dtype)
    y, argmax = functional.maxpool2d_forward(x, kh, kw, stride, pad, backend=backend)
    y_want, argmax_want = naive.maxpool2d_forward(_f64(x), kh, kw, stride, pad)
    assert_close(y, y_want.astype(dtype), exact=True, err_msg="y")
    assert_close(argmax, argmax_want, exact=True, err_msg="argmax")


def test_maxpool2d_forward_first_max_wins(backend, dtype):
    """A later equal maximum never replaces the first; a constant window routes to index 0."""
    x = np.array([[[[1, 1, 0, 2, 3, 3], [2, 0, 2, 2, 3, 3]]]], dtype=dtype)  # (1, 1, 2, 6)
    y, argmax = functional.maxpool2d_forward(x, 2, 2, backend=backend)
    np.testing.assert_array_equal(y, np.array([[[[2, 2, 3]]]], dtype=dtype))
    np.testing.assert_array_equal(argmax, np.array([[[[2, 1, 0]]]]))


def test_maxpool2d_forward_padding_never_wins(backend, dtype):
    """All-negative input: a zero from the padding must not be the maximum."""
    x = np.full((1, 1, 3, 3), -5.0, dtype=dtype)
    y, argmax = functional.maxpool2d_forward(x, 3, 3, 2, 1, backend=backend)
    np.testing.assert_array_equal(y, np.full((1, 1, 2, 2), -5.0, dtype=dtype))
    np.testing.assert_array_equal(argmax, np.array([[[[4, 3], [1, 0]]]]))


def test_maxpool2d_all_minus_inf_windows_route_nothing_into_the_padding(backend, dtype):
    """A window of -inf reports index 0; at a padded corner that is padding, whose gradient is
    dropped (not wrapped around onto another pixel), as in the reference."""
    x = np.full((1, 2, 4, 5), -np.inf, dtype=dtype)  # (N, C, H, W)
    x[0, 1, 2, 3] = 1.0
    y, argmax = functional.maxpool2d_forward(x, 3, 3, 2, 1, backend=backend)
    np.testing.assert_array_equal(argmax[0, 0], np.zeros((2, 3), dtype=np.int64))
    dy = np.arange(1, y.size + 1, dtype=dtype).reshape(y.shape)  # (N, C, OH, OW)
    dx = functional.maxpool2d_backward(dy, argmax, x.shape, 3, 3, 2, 1, backend=backend)
    want = functional.maxpool2d_backward(dy, argmax, x.shape, 3, 3, 2, 1, backend="numpy")
    np.testing.assert_array_equal(dx, want)
    assert dx[0, 0, 1:, 1:].sum() == dy[0, 0, 1:, 1:].sum()  # windows (1, 1), (1, 2): real pixels
    assert dx[0, 0, 0].sum() == dx[0, 0, :, 0].sum() == 0  # the others: padding, dropped


@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_maxpool2d_backward(backend, dtype, rng, case):
    """Integer-valued ``dy`` keeps the overlapping sums exact, so routing is compared exactly."""
    x_shape, kh, kw, stride, pad = case
    _, argmax = naive.maxpool2d_forward(rng.standard_normal(x_shape), kh, kw, stride, pad)
    dy = rng.integers(-8, 9, argmax.shape).astype(dtype)
    dx = functional.maxpool2d_backward(dy, argmax, x_shape, kh, kw, stride, pad, backend=backend)
    want = naive.maxpool2d_backward(_f64(dy), argmax, x_shape, kh, kw, stride, pad)
    assert_close(dx, want.astype(dtype), exact=True)


@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_avgpool2d_forward(backend, dtype, rng, case):
    x_shape, kh, kw, stride, pad = case
    x = rng.standard_normal(x_shape).astype(dtype)
    y = functional.avgpool2d_forward(x, kh, kw, stride, pad, backend=backend)
    assert_close(y, naive.avgpool2d_forward(_f64(x), kh, kw, stride, pad).astype(dtype))


@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_avgpool2d_backward(backend, dtype, rng, case):
    x_shape, kh, kw, stride, pad = case
    dy = rng.standard_normal(_pool_out_shape(x_shape, kh, kw, stride, pad)).astype(dtype)
    dx = functional.avgpool2d_backward(dy, x_shape, kh, kw, stride, pad, backend=backend)
    want = naive.avgpool2d_backward(_f64(dy), x_shape, kh, kw, stride, pad)
    assert_close(dx, want.astype(dtype))


def _bias_act_inputs(rng, shape, axis, with_bias, dtype):
    """x in [-8, 8] (both sides of every branch point), b (shape[axis],) in [-1, 1] or None."""
    x = rng.uniform(-8, 8, shape).astype(dtype)
    b = rng.uniform(-1, 1, shape[axis]).astype(dtype) if with_bias else None
    return x, b


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("shape, axis", BIAS_CASES)
@pytest.mark.parametrize("act_case", ACT_CASES, ids=act_id)
def test_bias_act_forward(backend, dtype, rng, act_case, shape, axis, with_bias):
    act, params = act_case
    x, b = _bias_act_inputs(rng, shape, axis, with_bias, dtype)
    y = functional.bias_act_forward(x, b, act, axis, backend=backend, **params)
    b64 = None if b is None else _f64(b)
    assert_close(y, naive.bias_act_forward(_f64(x), b64, act, axis, **params).astype(dtype))


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("shape, axis", BIAS_CASES)
@pytest.mark.parametrize("act_case", ACT_CASES, ids=act_id)
def test_bias_act_backward(backend, dtype, rng, act_case, shape, axis, with_bias):
    act, params = act_case
    x, b = _bias_act_inputs(rng, shape, axis, with_bias, dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    dx, db = functional.bias_act_backward(dy, x, b, act, axis, backend=backend, **params)
    b64 = None if b is None else _f64(b)
    dx_want, db_want = naive.bias_act_backward(_f64(dy), _f64(x), b64, act, axis, **params)
    assert_close(dx, dx_want.astype(dtype), err_msg="dx")
    if b is None:
        assert db is None
    else:
        assert_close(db, db_want.astype(dtype), err_msg="db")
