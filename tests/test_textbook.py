"""fastdl.textbook pinned to the plain-NumPy textbook-style code (tests/textbook_numpy.py):
values, dtypes, attributes written, in-place updates seen through aliases, train/test modes."""

# ruff: noqa: NPY002  (the textbook draws from NumPy's global random state)
import numpy as np
import pytest
import textbook_numpy as ref

from fastdl.textbook import functions, gradient, layers, optimizer, util

F64 = {"rtol": 1e-12, "atol": 1e-14}  # float64, different summation order


def _images(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ---- util ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, fh, fw, stride, pad",
    [((2, 3, 7, 7), 5, 5, 1, 0), ((2, 1, 6, 8), 3, 2, 2, 1), ((1, 2, 5, 5), 2, 2, 3, 2)],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_im2col_col2im_equal_and_float64(rng, shape, fh, fw, stride, pad, dtype):
    x = (rng.standard_normal(shape) * 10).astype(dtype)
    col = util.im2col(x, fh, fw, stride, pad)
    want = ref.im2col(x, fh, fw, stride, pad)
    assert col.dtype == want.dtype == np.float64
    np.testing.assert_array_equal(col, want)
    dcol = rng.standard_normal(col.shape).astype(dtype)
    img = util.col2im(dcol, shape, fh, fw, stride, pad)
    assert img.dtype == np.float64
    np.testing.assert_allclose(img, ref.col2im(dcol, shape, fh, fw, stride, pad), **F64)


def test_conv_output_size_true_division():
    assert util.conv_output_size(28, 5) == 24.0
    assert isinstance(util.conv_output_size(28, 5), float)
    assert util.conv_output_size(7, 2, stride=2, pad=0) == 3.5


def test_smooth_curve(rng):
    x = rng.standard_normal(40)
    np.testing.assert_allclose(util.smooth_curve(x), ref.smooth_curve(x), rtol=1e-14)
    assert util.smooth_curve(x).shape == (40,)
    with pytest.raises(ValueError, match="at least 11"):
        util.smooth_curve(np.zeros(5))


def test_shuffle_dataset_uses_the_global_random_state():
    x, t = np.arange(20.0).reshape(10, 2), np.arange(10)
    np.random.seed(3)
    xs, ts = util.shuffle_dataset(x, t)
    np.random.seed(3)
    order = np.random.permutation(10)
    np.testing.assert_array_equal(xs, x[order])
    np.testing.assert_array_equal(ts, t[order])
    with pytest.raises(ValueError, match="10 and 9"):
        util.shuffle_dataset(x, t[:9])


# ---- functions -------------------------------------------------------------------------------


def test_functions_values():
    x = np.array([[-2.0, 0.0, 3.0], [1000.0, 1001.0, -5.0]])
    np.testing.assert_array_equal(functions.step_function(x), [[0, 0, 1], [1, 1, 0]])
    assert functions.step_function(x).dtype.kind == "i"
    np.testing.assert_array_equal(functions.relu(x), np.where(x > 0, x, 0))
    np.testing.assert_array_equal(functions.relu_grad(x), [[0, 1, 1], [1, 1, 0]])  # 1 at 0
    np.testing.assert_allclose(functions.sigmoid(x[0]), 1 / (1 + np.exp(-x[0])))
    s = ref.sigmoid(x[0])
    np.testing.assert_allclose(functions.sigmoid_grad(x[0]), (1 - s) * s)
    np.testing.assert_allclose(functions.softmax(x), ref.softmax(x), rtol=1e-15)
    np.testing.assert_allclose(functions.softmax(x[1]), ref.softmax(x[1]), rtol=1e-15)
    assert functions.identity_function(x) is x
    assert functions.sum_squared_error(np.array([1.0, 2.0]), np.array([0.0, 4.0])) == 2.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_labels_one_hot_single(rng, dtype):
    y = ref.softmax(rng.standard_normal((6, 4))).astype(dtype)
    t = np.array([0, 3, 1, 1, 2, 0])
    one_hot = np.eye(4)[t]
    want = ref.cross_entropy_error(y, t)
    for got in (functions.cross_entropy_error(y, t), functions.cross_entropy_error(y, one_hot)):
        np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-15)
    single = functions.cross_entropy_error(y[2], one_hot[2])
    np.testing.assert_allclose(single, -np.log(y[2, 1] + 1e-7), rtol=1e-6)
    np.testing.assert_allclose(functions.cross_entropy_error(y[2], np.int64(1)), single)
    x = rng.standard_normal((6, 4))
    np.testing.assert_allclose(
        functions.softmax_loss(x, t), ref.cross_entropy_error(ref.softmax(x), t), rtol=1e-15
    )


# ---- layers ----------------------------------------------------------------------------------


def _pair(cls_name, *args, **kwargs):
    return getattr(layers, cls_name)(*args, **kwargs), getattr(ref, cls_name)(*args, **kwargs)


@pytest.mark.parametrize("stride, pad", [(1, 0), (2, 1), (1, 2)])
@pytest.mark.parametrize("wdtype", [np.float64, np.float32])
def test_convolution(rng, stride, pad, wdtype):
    x = _images(rng, (3, 2, 9, 8))
    W = (0.1 * rng.standard_normal((4, 2, 3, 3))).astype(wdtype)
    b = rng.standard_normal(4).astype(wdtype)
    got, want = _pair("Convolution", W, b, stride, pad)
    assert got.W is W and got.b is b
    y = got.forward(x)
    y_ref = want.forward(x)
    assert y.dtype == y_ref.dtype == np.float64
    np.testing.assert_allclose(y, y_ref, **F64)
    dout = rng.standard_normal(y.shape)
    dx = got.backward(dout)
    dx_ref = want.backward(dout)
    assert (dx.dtype, got.dW.dtype, got.db.dtype) == (dx_ref.dtype, want.dW.dtype, want.db.dtype)
    for a, e in [(dx, dx_ref), (got.dW, want.dW), (got.db, want.db)]:
        np.testing.assert_allclose(a, e, **F64)


def test_layers_read_their_parameters_at_every_call(rng):
    """A network updates params in place (or reassigns layer.W): the layer must see it."""
    x = _images(rng, (2, 1, 6, 6))
    W, b = rng.standard_normal((3, 1, 3, 3)), np.zeros(3)
    conv = layers.Convolution(W, b)
    y0 = conv.forward(x)
    W *= 2.0
    b += 1.0
    np.testing.assert_allclose(conv.forward(x), 2 * y0 + 1, **F64)
    conv.W = np.zeros_like(W)
    np.testing.assert_array_equal(conv.forward(x), np.ones_like(y0))
    W2, b2 = rng.standard_normal((5, 4)), np.zeros(4)
    aff = layers.Affine(W2, b2)
    xa = rng.standard_normal((2, 5))
    z0 = aff.forward(xa)
    W2 -= W2
    np.testing.assert_array_equal(aff.forward(xa), np.zeros_like(z0))
    gamma, beta = np.ones(4), np.zeros(4)
    bn = layers.BatchNormalization(gamma, beta)
    bn.forward(z0 + rng.standard_normal(z0.shape))  # sets the running statistics
    out0 = bn.forward(z0, train_flg=False)
    beta += 3.0
    gamma *= 2.0
    np.testing.assert_allclose(bn.forward(z0, train_flg=False), 2 * out0 + 3, **F64)


@pytest.mark.parametrize("xdtype", [np.float32, np.float64])
def test_affine(rng, xdtype):
    x = _images(rng, (4, 2, 3, 3), xdtype)  # flattened to (4, 18)
    W, b = rng.standard_normal((18, 5)), rng.standard_normal(5)
    got, want = _pair("Affine", W, b)
    y = got.forward(x)
    assert y.dtype == want.forward(x).dtype == np.float64
    np.testing.assert_allclose(y, want.forward(x), **F64)
    dout = rng.standard_normal(y.shape)
    dx = got.backward(dout)
    dx_ref = want.backward(dout)
    assert dx.shape == x.shape and dx.dtype == dx_ref.dtype
    np.testing.assert_allclose(dx, dx_ref, **F64)
    np.testing.assert_allclose(got.dW, want.dW, **F64)
    np.testing.assert_allclose(got.db, want.db, **F64)


@pytest.mark.parametrize(
    "xdtype, ddtype",
    [
        (np.float64, np.float64),
        (np.float32, np.float32),
        (np.float32, np.float64),
        (np.float64, np.float32),
    ],
)
def test_relu(rng, xdtype, ddtype):
    x = rng.standard_normal((3, 4, 5, 5)).astype(xdtype)
    x[0, 0, 0, :3] = [0.0, -0.0, 1e-40 if xdtype == np.float64 else 1e-30]
    got, want = _pair("Relu")
    y = got.forward(x)
    assert y.dtype == xdtype
    np.testing.assert_array_equal(y, want.forward(x))
    dout = rng.standard_normal(x.shape).astype(ddtype)
    keep = dout.copy()
    dx = got.backward(dout)
    np.testing.assert_array_equal(dout, keep)  # dout is not written (the textbook's is)
    assert dx.dtype == ddtype
    np.testing.assert_array_equal(dx, want.backward(dout))


def test_sigmoid(rng):
    x = rng.standard_normal((4, 6))
    got, want = _pair("Sigmoid")
    np.testing.assert_array_equal(got.forward(x), want.forward(x))
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(got.backward(dout), want.backward(dout))


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss(rng, one_hot):
    x = rng.standard_normal((5, 10))
    t = np.array([1, 0, 9, 3, 3])
    t = np.eye(10)[t] if one_hot else t
    got, want = _pair("SoftmaxWithLoss")
    np.testing.assert_allclose(got.forward(x, t), want.forward(x, t), rtol=1e-15)
    assert got.loss == got.forward(x, t)
    np.testing.assert_allclose(got.backward(), want.backward(), **F64)


def test_dropout_train_and_test(rng):
    x = rng.standard_normal((50, 20))
    got, want = _pair("Dropout", 0.3)
    np.random.seed(7)
    y = got.forward(x)
    np.random.seed(7)
    np.testing.assert_array_equal(y, want.forward(x))
    np.random.seed(7)
    mask = np.random.rand(*x.shape) > 0.3
    np.testing.assert_array_equal(got.mask, mask)
    assert 0.6 < mask.mean() < 0.8
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(got.backward(dout), dout * mask)
    state = np.random.get_state()[1].copy()
    np.testing.assert_array_equal(got.forward(x, train_flg=False), x * 0.7)  # not inverted
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # no draw at test time


@pytest.mark.parametrize("shape", [(8, 5), (6, 2, 3, 3)])
def test_batch_normalization(rng, shape):
    d = int(np.prod(shape[1:]))  # the textbook normalises per element of C*H*W
    x = rng.standard_normal(shape) * 3 + 1
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    got, want = _pair("BatchNormalization", gamma, beta, 0.8)
    for step in range(2):
        xs = x + step
        np.testing.assert_allclose(got.forward(xs), want.forward(xs), **F64)
        dout = rng.standard_normal(shape)
        dx = got.backward(dout)
        assert dx.shape == shape
        np.testing.assert_allclose(dx, want.backward(dout), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got.dgamma, want.dgamma, **F64)
        np.testing.assert_allclose(got.dbeta, want.dbeta, **F64)
        np.testing.assert_allclose(got.running_mean, want.running_mean, **F64)
        np.testing.assert_allclose(got.running_var, want.running_var, **F64)
    np.testing.assert_allclose(
        got.forward(x, train_flg=False), want.forward(x, train_flg=False), **F64
    )
    batch = x.reshape(shape[0], -1)
    np.testing.assert_allclose(
        got.running_mean, 0.2 * 0.8 * batch.mean(0) + 0.2 * (batch.mean(0) + 1)
    )


def test_batch_normalization_float32_input_float64_params(rng):
    x = rng.standard_normal((8, 5)).astype(np.float32)
    bn = layers.BatchNormalization(np.ones(5), np.zeros(5))
    assert bn.forward(x).dtype == ref.BatchNormalization(np.ones(5), np.zeros(5)).forward(x).dtype


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (2, 1), (3, 3)])
def test_pooling(rng, size, stride):
    x = _images(rng, (2, 3, 9, 10))
    x[0, 0, :2, :2] = 0.5  # ties: the first maximum gets the gradient
    got, want = _pair("Pooling", size, size, stride)
    y = got.forward(x)
    y_ref = want.forward(x)
    assert y.dtype == y_ref.dtype == np.float64
    np.testing.assert_array_equal(y, y_ref)
    dout = rng.standard_normal(y.shape)
    dx = got.backward(dout)
    assert dx.dtype == np.float64
    np.testing.assert_allclose(dx, want.backward(dout), **F64)


def test_pooling_rejects_padding():
    with pytest.raises(ValueError, match="pad must be 0, got pad=1"):
        layers.Pooling(2, 2, 2, 1)


def test_layers_module_offers_the_textbooks_names():
    for name in ("softmax", "cross_entropy_error", "im2col", "col2im", "Convolution"):
        assert name in layers.__all__ and hasattr(layers, name)


# ---- optimizer -------------------------------------------------------------------------------

OPTIMIZERS = [
    ("SGD", {"lr": 0.1}),
    ("Momentum", {"lr": 0.1, "momentum": 0.8}),
    ("Nesterov", {"lr": 0.1, "momentum": 0.8}),
    ("AdaGrad", {"lr": 0.1}),
    ("RMSprop", {"lr": 0.1, "decay_rate": 0.9}),
    ("Adam", {"lr": 0.01, "beta1": 0.8, "beta2": 0.99}),
]


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_optimizer_bitwise_and_in_place(rng, name, kwargs):
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    mine = {k: v.copy() for k, v in params.items()}
    theirs = {k: v.copy() for k, v in params.items()}
    alias = layers.Affine(mine["W"], mine["b"])
    ids = {k: id(v) for k, v in mine.items()}
    opt, opt_ref = getattr(optimizer, name)(**kwargs), getattr(ref, name)(**kwargs)
    for _ in range(4):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        opt.update(mine, grads)
        opt_ref.update(theirs, grads)
        for k in params:
            np.testing.assert_array_equal(mine[k], theirs[k])  # float64: the same arithmetic
    assert {k: id(v) for k, v in mine.items()} == ids
    assert alias.W is mine["W"] and not np.array_equal(mine["W"], params["W"])


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_optimizer_float32_params_float64_grads(rng, name, kwargs):
    p32 = {"W": rng.standard_normal((5, 2)).astype(np.float32)}
    p_ref = {"W": p32["W"].copy()}
    opt, opt_ref = getattr(optimizer, name)(**kwargs), getattr(ref, name)(**kwargs)
    for _ in range(3):
        g = {"W": rng.standard_normal((5, 2))}
        opt.update(p32, g)
        opt_ref.update(p_ref, g)
    assert p32["W"].dtype == np.float32
    np.testing.assert_allclose(p32["W"], p_ref["W"], rtol=1e-5, atol=1e-6)


# ---- gradient --------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_numerical_gradient_in_place_through_an_alias(rng, layout):
    base = rng.standard_normal((4, 6))
    W = {"C": base.copy(), "F": np.asfortranarray(base), "strided": base.copy()[:, ::2]}[layout]
    W_ref = W.copy()
    x = rng.standard_normal((3, W.shape[0]))
    net, net_ref = layers.Affine(W, np.zeros(W.shape[1])), ref.Affine(W_ref, np.zeros(W.shape[1]))
    seen = []

    def loss(_):  # ignores its argument: reads W through the layer, as the textbook's nets do
        seen.append(W.copy())
        return float(np.sum(np.tanh(net.forward(x))))

    def loss_ref(_):
        return float(np.sum(np.tanh(net_ref.forward(x))))

    before = W.copy()
    grad = gradient.numerical_gradient(loss, W)
    np.testing.assert_array_equal(W, before)  # restored exactly
    assert grad.shape == W.shape and grad.dtype == W.dtype
    np.testing.assert_allclose(grad, ref.numerical_gradient(loss_ref, W_ref), rtol=1e-12)
    assert len(seen) == 2 * W.size and not np.array_equal(seen[0], before)
    analytic = x.T @ (1 - np.tanh(x @ before) ** 2)
    np.testing.assert_allclose(grad, analytic, rtol=1e-5, atol=1e-6)  # O(h**2) error


def test_numerical_gradient_rejects_what_it_cannot_change():
    with pytest.raises(TypeError, match="float ndarray.*got list"):
        gradient.numerical_gradient(np.sum, [1.0, 2.0])
    with pytest.raises(TypeError, match="dtype int64"):
        gradient.numerical_gradient(np.sum, np.arange(3))
    assert "fastdl.gradcheck" in gradient.numerical_gradient.__doc__
