"""Every kernel of every backend against the NumPy reference on hypothesis-drawn problems.

Shapes, strides, pads, dtypes, activations and bias axes are drawn; inputs also arrive
non-contiguous (transposed, strided) or read-only through ``fastdl.functional`` and must come
back unmodified. Data movement (im2col, col2im, max pooling and its argmax) must equal the
reference exactly; sums (conv, average pooling, bias + activation) within ``helpers.SUM_TOL``.
Max pooling backward is compared exactly on integer-valued ``dy``, whose sums are exact in any
order.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastdl import functional
from fastdl._kernels._common import ACTIVATIONS
from fastdl._kernels.ref import _bias_act as ref_act
from fastdl._kernels.ref import _conv as ref_conv
from fastdl._kernels.ref import _im2col as ref_im2col
from fastdl._kernels.ref import _pool as ref_pool

from helpers import assert_close

SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
DTYPES = st.sampled_from([np.float32, np.float64])


def _layout(draw, a):
    """``a`` as drawn: C-contiguous, transposed twice (non-contiguous), strided, or read-only."""
    kind = draw(st.sampled_from(["contiguous", "transposed", "strided", "read-only"]))
    if kind == "transposed":
        a = np.asfortranarray(a)  # same values, Fortran order: not C-contiguous for ndim > 1
    elif kind == "strided":
        wide = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)
        wide[..., ::2] = a
        a = wide[..., ::2]  # every other column: a strided view
    elif kind == "read-only":
        a = a.copy()
        a.setflags(write=False)
    return a


def _call(backend, name, *args, **kwargs):
    """Call ``functional.<name>`` and check that no array argument was modified."""
    before = [a.copy() for a in args if isinstance(a, np.ndarray)]
    out = getattr(functional, name)(*args, backend=backend, **kwargs)
    after = [a for a in args if isinstance(a, np.ndarray)]
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b, err_msg=f"{name} modified an input")
    return out


@st.composite
def _windows(draw, pool=False):
    """``(x_shape, kh, kw, stride, pad, dtype)``: the window fits the padded input.

    For pooling ``pad <= k // 2`` (PyTorch's rule) and ``stride`` may be None (= the window).
    """
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    ph = draw(st.integers(0, kh // 2 if pool else 2))
    pw = draw(st.integers(0, kw // 2 if pool else 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 10))
    w = draw(st.integers(max(1, kw - 2 * pw), 10))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if pool and draw(st.booleans()):
        stride = None
    return (n, c, h, w), kh, kw, stride, (ph, pw), draw(DTYPES)


@SETTINGS
@given(problem=_windows(), data=st.data())
def test_im2col_col2im(backend, problem, data):
    x_shape, kh, kw, stride, pad, dtype = problem
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(x_shape).astype(dtype)
    col = _call(backend, "im2col", _layout(data.draw, x), kh, kw, stride, pad)
    assert_close(col, ref_im2col.im2col(x, kh, kw, stride, pad), exact=True)
    dcol = rng.standard_normal(col.shape).astype(dtype)
    dx = _call(backend, "col2im", _layout(data.draw, dcol), x_shape, kh, kw, stride, pad)
    assert_close(dx, ref_im2col.col2im(dcol, x_shape, kh, kw, stride, pad), exact=True)


@SETTINGS
@given(problem=_windows(), f=st.integers(1, 5), with_bias=st.booleans(), data=st.data())
def test_conv2d(backend, problem, f, with_bias, data):
    x_shape, kh, kw, stride, pad, dtype = problem
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-1, 1, x_shape).astype(dtype)
    w = rng.uniform(-1, 1, (f, x_shape[1], kh, kw)).astype(dtype)
    b = rng.uniform(-1, 1, f).astype(dtype) if with_bias else None
    draw = data.draw
    b_in = None if b is None else _layout(draw, b)
    y = _call(backend, "conv2d_forward", _layout(draw, x), _layout(draw, w), b_in, stride, pad)
    assert_close(y, ref_conv.conv2d_forward(x, w, b, stride, pad), err_msg="y")
    dy = rng.uniform(-1, 1, y.shape).astype(dtype)
    args = _layout(draw, dy), _layout(draw, x), _layout(draw, w)
    grads = _call(backend, "conv2d_backward", *args, stride, pad)
    expected = ref_conv.conv2d_backward(dy, x, w, stride, pad)
    for name, got, want in zip(("dx", "dw", "db"), grads, expected):
        assert_close(got, want, err_msg=name)


def _pool_input(rng, x_shape, dtype, ties):
    """Distinct normals, or small integers with many ties (the first maximum must win)."""
    if ties:
        return rng.integers(-2, 3, x_shape).astype(dtype)
    return rng.standard_normal(x_shape).astype(dtype)


@SETTINGS
@given(problem=_windows(pool=True), ties=st.booleans(), data=st.data())
def test_maxpool2d(backend, problem, ties, data):
    x_shape, kh, kw, stride, pad, dtype = problem
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = _pool_input(rng, x_shape, dtype, ties)
    y, argmax = _call(backend, "maxpool2d_forward", _layout(data.draw, x), kh, kw, stride, pad)
    y_ref, argmax_ref = ref_pool.maxpool2d_forward(x, kh, kw, stride, pad)
    assert_close(y, y_ref, exact=True, err_msg="y")
    assert_close(argmax, argmax_ref, exact=True, err_msg="argmax")
    dy = rng.integers(-8, 9, y.shape).astype(dtype)
    dy_in, argmax_in = _layout(data.draw, dy), _layout(data.draw, argmax)
    dx = _call(backend, "maxpool2d_backward", dy_in, argmax_in, x_shape, kh, kw, stride, pad)
    want = ref_pool.maxpool2d_backward(dy, argmax_ref, x_shape, kh, kw, stride, pad)
    assert_close(dx, want, exact=True, err_msg="dx")


@SETTINGS
@given(problem=_windows(pool=True), data=st.data())
def test_avgpool2d(backend, problem, data):
    x_shape, kh, kw, stride, pad, dtype = problem
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(x_shape).astype(dtype)
    y = _call(backend, "avgpool2d_forward", _layout(data.draw, x), kh, kw, stride, pad)
    assert_close(y, ref_pool.avgpool2d_forward(x, kh, kw, stride, pad), err_msg="y")
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = _call(backend, "avgpool2d_backward", _layout(data.draw, dy), x_shape, kh, kw, stride, pad)
    assert_close(dx, ref_pool.avgpool2d_backward(dy, x_shape, kh, kw, stride, pad), err_msg="dx")


@st.composite
def _act_problems(draw):
    """``(shape, axis, act, params, with_bias, dtype)`` with shapes of 1 to 4 dimensions."""
    if draw(st.booleans()):
        shape = tuple(draw(st.lists(st.integers(1, 7), min_size=1, max_size=4)))
    else:  # a long last axis: rows of several blocks, for both bias layouts
        shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(500, 1100)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    act = draw(st.sampled_from(sorted(ACTIVATIONS) + ["silu"]))
    params = {}
    if act in ("leaky_relu", "elu") and draw(st.booleans()):
        params["alpha"] = draw(st.floats(0.01, 2.0))
    if act == "hswish" and draw(st.booleans()):
        params["n"] = draw(st.floats(1.0, 8.0))
    return shape, axis, act, params, draw(st.booleans()), draw(DTYPES)


@SETTINGS
@given(problem=_act_problems(), scale=st.sampled_from([1.0, 8.0, 100.0]), data=st.data())
def test_bias_act(backend, problem, scale, data):
    shape, axis, act, params, with_bias, dtype = problem
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = (scale * rng.uniform(-1, 1, shape)).astype(dtype)
    b = rng.uniform(-1, 1, shape[axis]).astype(dtype) if with_bias else None
    name = "swish" if act == "silu" else act
    draw = data.draw
    b_in = None if b is None else _layout(draw, b)
    y = _call(backend, "bias_act_forward", _layout(draw, x), b_in, act, axis, **params)
    assert_close(y, ref_act.bias_act_forward(x, b, name, axis, **params), err_msg="y")
    dy = rng.standard_normal(shape).astype(dtype)
    args = _layout(draw, dy), _layout(draw, x), b_in
    dx, db = _call(backend, "bias_act_backward", *args, act, axis, **params)
    dx_ref, db_ref = ref_act.bias_act_backward(dy, x, b, name, axis, **params)
    assert_close(dx, dx_ref, err_msg="dx")
    if b is None:
        assert db is None
    else:
        assert_close(db, db_ref, err_msg="db")
