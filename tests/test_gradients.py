"""Every backward kernel against float64 central differences of its forward.

Each check differentiates ``L = sum(forward(...) * G)`` for a random ``G`` with
``helpers.numerical_grad`` and compares with the backward kernel fed ``dy = G``. Activations are
also pinned at their branch points (PyTorch's conventions) and over extreme finite inputs.
"""

import numpy as np
import pytest
from test_kernels_ref import ACT_CASES, BIAS_CASES, CONV_CASES, POOL_CASES, act_id, conv_id, pool_id

from fastdl import functional

import naive
from helpers import SUM_TOL, assert_close, numerical_grad

# Central differences with eps=1e-6 carry ~1e-16 * |L| / 1e-6 of rounding error.
GRAD_TOL = {"rtol": 1e-6, "atol": 1e-6}
GRAD_POOL_CASES = POOL_CASES[1:3] + POOL_CASES[4:5] + POOL_CASES[6:]
BRANCH_POINTS = (0.0, 6.0, -3.0, 3.0, -2.0, 2.0)  # relu..elu at 0, relu6 at 6, hswish at +-n/2


def _along(b, axis, ndim):
    """``b`` of shape (D,) reshaped to broadcast along ``axis`` of an ``ndim``-d array."""
    shape = [1] * ndim
    shape[axis] = -1
    return b.reshape(shape)  # (1, .., D, .., 1)


def _check(analytic, numeric, name):
    np.testing.assert_allclose(analytic, numeric, err_msg=name, **GRAD_TOL)


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_col2im_is_adjoint_of_im2col(backend, dtype, rng, case):
    """<im2col(x), c> == <x, col2im(c)>."""
    x_shape, _, kh, kw, stride, pad = case
    x = rng.standard_normal(x_shape).astype(dtype)
    col = functional.im2col(x, kh, kw, stride, pad, backend=backend)
    c = rng.standard_normal(col.shape).astype(dtype)
    back = functional.col2im(c, x_shape, kh, kw, stride, pad, backend=backend)
    lhs = np.vdot(col.astype(np.float64), c.astype(np.float64))
    rhs = np.vdot(x.astype(np.float64), back.astype(np.float64))
    np.testing.assert_allclose(lhs, rhs, **SUM_TOL[np.dtype(dtype)])


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_im2col_col2im_gradients(backend, rng, case):
    """d<im2col(x), G>/dx == col2im(G) and d<col2im(c), H>/dc == im2col(H)."""
    x_shape, _, kh, kw, stride, pad = case
    x = rng.standard_normal(x_shape)
    g = rng.standard_normal(functional.im2col(x, kh, kw, stride, pad, backend=backend).shape)
    c = rng.standard_normal(g.shape)
    h = rng.standard_normal(x_shape)

    def loss_x():
        return np.sum(functional.im2col(x, kh, kw, stride, pad, backend=backend) * g)

    def loss_c():
        return np.sum(functional.col2im(c, x_shape, kh, kw, stride, pad, backend=backend) * h)

    dx = functional.col2im(g, x_shape, kh, kw, stride, pad, backend=backend)
    _check(dx, numerical_grad(loss_x, x), "col2im(G)")
    dc = functional.im2col(h, kh, kw, stride, pad, backend=backend)
    _check(dc, numerical_grad(loss_c, c), "im2col(H)")


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_conv2d_backward_gradients(backend, rng, case):
    x_shape, f, kh, kw, stride, pad = case
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((f, x_shape[1], kh, kw))
    b = rng.standard_normal(f)
    g = rng.standard_normal((x_shape[0], f, *naive.out_size(*x_shape[2:], kh, kw, stride, pad)))

    def loss():
        return np.sum(functional.conv2d_forward(x, w, b, stride, pad, backend=backend) * g)

    dx, dw, db = functional.conv2d_backward(g, x, w, stride, pad, backend=backend)
    _check(dx, numerical_grad(loss, x), "dx")
    _check(dw, numerical_grad(loss, w), "dw")
    _check(db, numerical_grad(loss, b), "db")


@pytest.mark.parametrize("case", GRAD_POOL_CASES, ids=pool_id)
def test_maxpool2d_backward_gradients(backend, rng, case):
    """Distinct values 1 apart: no eps-sized perturbation changes which element is the max."""
    x_shape, kh, kw, stride, pad = case
    x = rng.permutation(np.prod(x_shape)).reshape(x_shape).astype(np.float64)  # (N, C, H, W)
    y, argmax = functional.maxpool2d_forward(x, kh, kw, stride, pad, backend=backend)
    g = rng.standard_normal(y.shape)

    def loss():
        return np.sum(functional.maxpool2d_forward(x, kh, kw, stride, pad, backend=backend)[0] * g)

    dx = functional.maxpool2d_backward(g, argmax, x_shape, kh, kw, stride, pad, backend=backend)
    _check(dx, numerical_grad(loss, x), "dx")


@pytest.mark.parametrize("case", GRAD_POOL_CASES, ids=pool_id)
def test_avgpool2d_backward_gradients(backend, rng, case):
    x_shape, kh, kw, stride, pad = case
    x = rng.standard_normal(x_shape)
    g = rng.standard_normal(
        functional.avgpool2d_forward(x, kh, kw, stride, pad, backend=backend).shape
    )

    def loss():
        return np.sum(functional.avgpool2d_forward(x, kh, kw, stride, pad, backend=backend) * g)

    dx = functional.avgpool2d_backward(g, x_shape, kh, kw, stride, pad, backend=backend)
    _check(dx, numerical_grad(loss, x), "dx")


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("shape, axis", BIAS_CASES)
@pytest.mark.parametrize("act_case", ACT_CASES, ids=act_id)
def test_bias_act_backward_gradients(backend, rng, act_case, shape, axis, with_bias):
    """x + b kept at least 1e-2 (>> eps) away from every branch point."""
    act, params = act_case
    z = rng.uniform(-5, 8, shape)
    for point in BRANCH_POINTS:
        z[np.abs(z - point) < 1e-2] += 2e-2
    b = rng.uniform(-1, 1, shape[axis]) if with_bias else None
    x = z if b is None else z - _along(b, axis, z.ndim)
    g = rng.standard_normal(shape)

    def loss():
        return np.sum(functional.bias_act_forward(x, b, act, axis, backend=backend, **params) * g)

    dx, db = functional.bias_act_backward(g, x, b, act, axis, backend=backend, **params)
    _check(dx, numerical_grad(loss, x), "dx")
    if b is None:
        assert db is None
    else:
        _check(db, numerical_grad(loss, b), "db")


# activation, params, z, act(z), act'(z): PyTorch's value of the derivative at each branch point
BRANCH_CASES = [
    ("relu", {}, 0.0, 0.0, 0.0),
    ("leaky_relu", {}, 0.0, 0.0, 0.01),
    ("leaky_relu", {"alpha": 0.2}, 0.0, 0.0, 0.2),
    ("relu6", {}, 0.0, 0.0, 0.0),
    ("relu6", {}, 6.0, 6.0, 0.0),
    ("elu", {}, 0.0, 0.0, 1.0),
    ("elu", {"alpha": 0.5}, 0.0, 0.0, 0.5),
    ("hswish", {}, -3.0, 0.0, 0.0),  # torch >= 2.7; torch <= 2.6 gave -0.5 and 1.5
    ("hswish", {}, 3.0, 3.0, 1.0),
    ("hswish", {"n": 4}, -2.0, 0.0, 0.0),
    ("hswish", {"n": 4}, 2.0, 2.0, 1.0),
]


@pytest.mark.parametrize("act, params, z, y_want, grad_want", BRANCH_CASES, ids=str)
def test_branch_points_follow_pytorch(backend, dtype, act, params, z, y_want, grad_want):
    """act(x + b) and its derivative exactly at the branch point, with x + b exact."""
    fn, grad = naive.ACTIVATIONS[act]
    assert (fn(z, **params), grad(z, **params)) == (y_want, grad_want), "naive oracle"
    x = np.full((2, 3), z - 0.5, dtype=dtype)
    b = np.full(3, 0.5, dtype=dtype)
    y = functional.bias_act_forward(x, b, act, backend=backend, **params)
    dx, db = functional.bias_act_backward(np.ones_like(x), x, b, act, backend=backend, **params)
    assert_close(y, np.full((2, 3), y_want, dtype=dtype), err_msg="y")
    assert_close(dx, np.full((2, 3), grad_want, dtype=dtype), err_msg="dx")
    assert_close(db, np.full(3, 2 * grad_want, dtype=dtype), err_msg="db")


F32 = np.finfo(np.float32)
EXTREMES = [
    0.0,
    1e4,
    -1e4,
    88.0,
    -88.0,
    700.0,
    -700.0,
    1e20,
    -1e20,
    F32.max,
    F32.min,
    F32.tiny,
    -F32.tiny,
]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("with_bias", [True, False], ids=["zero_bias", "no_bias"])
@pytest.mark.parametrize("act_case", ACT_CASES, ids=act_id)
def test_activations_finite_on_extreme_inputs(backend, dtype, act_case, with_bias):
    """No overflow, NaN or warning for huge |x|, and the values still match the oracle.

    Underflow is allowed (e^-1e4 is 0), as in NumPy's default error state.
    """
    act, params = act_case
    x = np.array(EXTREMES, dtype=dtype).reshape(1, -1)  # (1, len(EXTREMES))
    b = np.zeros(x.shape[1], dtype=dtype) if with_bias else None
    dy = np.ones_like(x)
    with np.errstate(all="raise", under="ignore"):
        y = functional.bias_act_forward(x, b, act, backend=backend, **params)
        dx, db = functional.bias_act_backward(dy, x, b, act, backend=backend, **params)
    x64 = x.astype(np.float64)
    assert np.isfinite(y).all() and np.isfinite(dx).all(), f"y={y}, dx={dx}"
    assert_close(y, naive.bias_act_forward(x64, None, act, **params).astype(dtype), err_msg="y")
    dx_want, _ = naive.bias_act_backward(dy.astype(np.float64), x64, None, act, **params)
    assert_close(dx, dx_want.astype(dtype), err_msg="dx")
    if with_bias:
        assert_close(db, dx_want[0].astype(dtype), err_msg="db")
