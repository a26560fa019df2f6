"""Layers with the textbook protocol: gradients (fastdl.gradcheck), semantics, errors, torch.

Expected values come from formulas written out here (or from PyTorch), never from the layers.
"""

import copy
import importlib
import pkgutil

import numpy as np
import pytest

import fastdl.layers
from fastdl import functional as F
from fastdl.layers import (
    LAYERS,
    Activation,
    Affine,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
    Sequential,
)
from fastdl.optimizers import get_optimizer
from fastdl.testing import assert_gradcheck

F64 = np.float64
TRAIN = {"train": True}
EVAL = {"train": False}
ACTIVATIONS = [
    "identity",
    "relu",
    "leaky_relu",
    "relu6",
    "elu",
    "sigmoid",
    "tanh",
    "softplus",
    "swish",
    "silu",
    "hswish",
    "mish",
    "tanhexp",
    "gelu",
]
# Points where an activation (or its derivative) is not smooth; central differences must not
# straddle them.
KINKS = {
    "relu": (0.0,),
    "leaky_relu": (0.0,),
    "relu6": (0.0, 6.0),
    "elu": (0.0,),
    "hswish": (-3.0, 3.0),
}


def _away_from_kinks(x, act):
    """Assert the precondition of a gradient check: no pre-activation value near a kink."""
    for kink in KINKS.get(act, ()):
        assert np.min(np.abs(x - kink)) > 1e-3, f"test data too close to the {act} kink {kink}"


def _signed_away_from_zero(rng, shape, low=0.2, high=2.5):
    """Values with |v| in [low, high]: away from the kinks at 0, +-3 and 6."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def _random_params(layer, rng, scale=0.5):
    """Give every parameter non-trivial values (biases and gamma/beta start at 0/1)."""
    for p in layer.params.values():
        p[...] = rng.standard_normal(p.shape) * scale + (
            1.0 if p is layer.params.get("gamma") else 0
        )


class SeededDropout(Dropout):
    """Dropout that re-seeds its generator before every forward: a fixed mask for gradcheck."""

    def forward(self, x, train=True):
        self.rng = np.random.default_rng(7)
        return super().forward(x, train)


def _state(layer):
    """Copies of all parameters and buffers, and the identities of the arrays."""
    arrays = {**layer.params, **{f"buf:{k}": v for k, v in layer.buffers.items()}}
    return {k: v.copy() for k, v in arrays.items()}, {k: id(v) for k, v in arrays.items()}


def _assert_state_unchanged(layer, before):
    values, ids = before
    now_values, now_ids = _state(layer)
    assert now_ids == ids, "gradcheck must leave the layer's own arrays in place"
    for k, v in values.items():
        assert now_values[k].dtype == v.dtype
        np.testing.assert_array_equal(now_values[k], v, err_msg=k)


# --------------------------------------------------------------------------- gradcheck: Dense


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_dense_gradcheck_every_activation(act):
    rng = np.random.default_rng(1)
    layer = Dense(4, 3, act, rng=rng, dtype=F64)
    _random_params(layer, rng)
    x = rng.standard_normal((5, 4))
    _away_from_kinks(x @ layer.params["W"] + layer.params["b"], act)
    assert_gradcheck(layer, x, forward_kwargs=TRAIN)


@pytest.mark.parametrize(
    ("act", "act_params"),
    [("leaky_relu", {"alpha": 0.2}), ("elu", {"alpha": 0.5}), ("hswish", {"n": 4.0})],
)
def test_dense_gradcheck_activation_parameters(act, act_params):
    rng = np.random.default_rng(2)
    layer = Dense(3, 4, act, rng=rng, dtype=F64, **act_params)
    _random_params(layer, rng)
    x = rng.standard_normal((6, 3))
    z = x @ layer.params["W"] + layer.params["b"]
    _away_from_kinks(z, act)
    if act == "hswish":
        assert np.min(np.abs(np.abs(z) - act_params["n"] / 2)) > 1e-3
    assert_gradcheck(layer, x, forward_kwargs=TRAIN)


def test_dense_gradcheck_on_4d_input_flattens():
    rng = np.random.default_rng(3)
    layer = Dense(2 * 3 * 2, 5, "tanh", rng=rng, dtype=F64)
    _random_params(layer, rng)
    x = rng.standard_normal((3, 2, 3, 2))
    y = layer.forward(x)
    np.testing.assert_allclose(
        y, np.tanh(x.reshape(3, -1) @ layer.params["W"] + layer.params["b"]), rtol=1e-12
    )
    assert layer.backward(np.ones_like(y)).shape == x.shape
    assert_gradcheck(layer, x, forward_kwargs=TRAIN)


def test_dense_forward_backward_formulas():
    rng = np.random.default_rng(4)
    layer = Dense(3, 2, "sigmoid", rng=rng, dtype=F64)
    _random_params(layer, rng)
    W, b = layer.params["W"].copy(), layer.params["b"].copy()
    x = rng.standard_normal((4, 3))
    dout = rng.standard_normal((4, 2))
    y = layer.forward(x)
    s = 1 / (1 + np.exp(-(x @ W + b)))
    np.testing.assert_allclose(y, s, rtol=1e-12)
    dx = layer.backward(dout)
    dz = dout * s * (1 - s)
    np.testing.assert_allclose(dx, dz @ W.T, rtol=1e-10)
    np.testing.assert_allclose(layer.grads["W"], x.T @ dz, rtol=1e-10)
    np.testing.assert_allclose(layer.grads["b"], dz.sum(axis=0), rtol=1e-10)


def test_affine_is_dense_and_float32_default():
    assert Affine is Dense
    layer = Dense(3, 2, rng=np.random.default_rng(0))
    assert layer.params["W"].dtype == np.float32 and layer.params["b"].dtype == np.float32
    assert layer.params["W"].shape == (3, 2) and layer.params["b"].shape == (2,)
    assert set(layer.grads) == {"W", "b"}
    np.testing.assert_array_equal(layer.params["b"], 0)
    y = layer.forward(np.ones((2, 3), np.float64))  # cast to the layer's dtype
    assert y.dtype == np.float32


# --------------------------------------------------------------------------- gradcheck: Conv2D


@pytest.mark.parametrize(
    ("x_shape", "cout", "kernel", "stride", "pad", "act"),
    [
        ((2, 3, 5, 5), 4, 3, 1, 0, None),
        ((2, 2, 6, 5), 3, (3, 2), (2, 1), (1, 0), "tanh"),
        ((1, 2, 7, 6), 2, (2, 3), 2, 1, "relu"),
        ((2, 1, 5, 4), 3, (1, 3), (1, 2), (2, 1), "leaky_relu"),
        ((1, 3, 4, 4), 2, 4, 1, 1, "gelu"),
    ],
)
def test_conv2d_gradcheck(x_shape, cout, kernel, stride, pad, act):
    rng = np.random.default_rng(5)
    layer = Conv2D(x_shape[1], cout, kernel, stride, pad, act, rng=rng, dtype=F64)
    _random_params(layer, rng)
    x = rng.standard_normal(x_shape)
    z = F.conv2d_forward(x, layer.params["W"], layer.params["b"], stride, pad)
    _away_from_kinks(z, act)
    assert_gradcheck(layer, x, forward_kwargs=TRAIN)


def test_conv2d_output_shape_and_fused_bias():
    rng = np.random.default_rng(6)
    layer = Conv2D(2, 3, (3, 2), stride=(2, 1), pad=(1, 0), activation="relu", rng=rng)
    assert layer.params["W"].shape == (3, 2, 3, 2) and layer.params["b"].shape == (3,)
    layer.params["b"][...] = [-100.0, 0.0, 100.0]  # channel 0 all clipped, channel 2 all positive
    y = layer.forward(rng.standard_normal((4, 2, 7, 5)).astype(np.float32))
    assert y.shape == (4, 3, (7 + 2 - 3) // 2 + 1, 5 - 2 + 1)
    np.testing.assert_array_equal(y[:, 0], 0)
    assert (y[:, 2] > 0).all()


# --------------------------------------------------------------------------- gradcheck: pools


def _distinct(rng, shape):
    """Values 0.01 apart in random order: no ties in a max-pool window."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 1.0


@pytest.mark.parametrize(
    ("x_shape", "kernel", "stride", "pad"),
    [((2, 2, 4, 4), 2, None, 0), ((1, 3, 5, 6), (3, 2), (2, 1), (1, 0)), ((2, 1, 5, 5), 3, 1, 1)],
)
def test_maxpool_gradcheck(x_shape, kernel, stride, pad):
    rng = np.random.default_rng(7)
    layer = MaxPool2D(kernel, stride, pad)
    assert_gradcheck(layer, _distinct(rng, x_shape), forward_kwargs=TRAIN)


@pytest.mark.parametrize(
    ("x_shape", "kernel", "stride", "pad"),
    [((2, 2, 4, 4), 2, None, 0), ((1, 2, 5, 6), 3, 2, 1), ((2, 1, 5, 4), (2, 3), (1, 2), (1, 1))],
)
def test_avgpool_gradcheck(x_shape, kernel, stride, pad):
    rng = np.random.default_rng(8)
    assert_gradcheck(
        AvgPool2D(kernel, stride, pad), rng.standard_normal(x_shape), forward_kwargs=TRAIN
    )


def test_pool_values():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(MaxPool2D(2).forward(x)[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(AvgPool2D(2).forward(x)[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    # padding counts as zeros: the corner window of a 3x3/pad 1 average sees 4 of 9 values
    corner = AvgPool2D(3, 2, 1).forward(x)[0, 0, 0, 0]
    assert corner == pytest.approx((0 + 1 + 4 + 5) / 9)
    pool = MaxPool2D(2)
    pool.forward(x)
    dx = pool.backward(np.ones((1, 1, 2, 2)))
    expected = np.zeros((4, 4))
    expected[[1, 1, 3, 3], [1, 3, 1, 3]] = 1
    np.testing.assert_array_equal(dx[0, 0], expected)


# --------------------------------------------------------------------------- gradcheck: others


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_gradcheck(act):
    rng = np.random.default_rng(9)
    x = _signed_away_from_zero(rng, (3, 2, 4))
    assert_gradcheck(Activation(act), x, forward_kwargs=TRAIN)


def test_activation_values_and_parameters():
    x = np.array([[-2.0, -0.5, 0.5, 7.0]])
    np.testing.assert_array_equal(Activation("relu").forward(x), [[0, 0, 0.5, 7.0]])
    np.testing.assert_array_equal(Activation("relu6").forward(x), [[0, 0, 0.5, 6.0]])
    np.testing.assert_allclose(
        Activation("leaky_relu", alpha=0.1).forward(x), [[-0.2, -0.05, 0.5, 7.0]], rtol=1e-15
    )
    np.testing.assert_allclose(Activation("tanh").forward(x), np.tanh(x), rtol=1e-15)
    assert repr(Activation("elu", alpha=0.5)) == "Activation(name='elu', alpha=0.5)"


def test_flatten_gradcheck_and_shapes():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 2, 4, 5))
    layer = Flatten()
    y = layer.forward(x)
    assert y.shape == (3, 40)
    np.testing.assert_array_equal(y[1], x[1].ravel())
    assert layer.backward(y).shape == x.shape
    assert_gradcheck(layer, x, forward_kwargs=TRAIN)


@pytest.mark.parametrize("mode", ["inverted", "textbook"])
@pytest.mark.parametrize("train", [True, False])
def test_dropout_gradcheck(mode, train):
    rng = np.random.default_rng(11)
    assert_gradcheck(
        SeededDropout(0.4, mode), rng.standard_normal((4, 6)), forward_kwargs={"train": train}
    )


@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 3, 2)], ids=["2d", "4d"])
@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_gradcheck_keeps_running_stats(shape, train):
    rng = np.random.default_rng(12)
    layer = BatchNorm(shape[1], dtype=F64)
    _random_params(layer, rng)
    layer.buffers["running_mean"][...] = rng.standard_normal(shape[1])
    layer.buffers["running_var"][...] = rng.uniform(0.5, 2.0, shape[1])
    before = _state(layer)
    x = rng.standard_normal(shape) * 2 + 1
    assert_gradcheck(layer, x, forward_kwargs={"train": train})
    _assert_state_unchanged(layer, before)


def test_sequential_gradcheck_small_convnet():
    rng = np.random.default_rng(13)
    model = Sequential(
        [
            Conv2D(2, 3, 3, pad=1, activation="tanh", rng=rng, dtype=F64),
            BatchNorm(3, dtype=F64),
            MaxPool2D(2),
            Conv2D(3, 2, (1, 2), activation="softplus", rng=rng, dtype=F64),
            AvgPool2D(2, pad=1),
            Flatten(),
            Dense(2 * 2 * 2, 5, "sigmoid", rng=rng, dtype=F64),
            BatchNorm(5, dtype=F64),
            SeededDropout(0.3),
            Activation("tanh"),
            Dense(5, 3, rng=rng, dtype=F64),
        ]
    )
    x = rng.standard_normal((3, 2, 4, 6))
    before = _state(model)
    result = assert_gradcheck(model, x, forward_kwargs=TRAIN)
    assert set(result.tensors) == {"x", *model.params}
    _assert_state_unchanged(model, before)


def test_sequential_gradcheck_float32_model_is_left_float32():
    """gradcheck swaps float64 copies into a float32 model and puts the originals back."""
    rng = np.random.default_rng(14)
    model = Sequential([Dense(4, 3, "tanh", rng=rng), BatchNorm(3), Dense(3, 2, rng=rng)])
    before = _state(model)
    assert_gradcheck(model, rng.standard_normal((5, 4)), forward_kwargs=TRAIN)
    _assert_state_unchanged(model, before)
    assert all(p.dtype == np.float32 for p in model.params.values())


# --------------------------------------------------------------------------- BatchNorm semantics


def test_batchnorm_2d_train_normalises_and_updates_running_stats():
    rng = np.random.default_rng(15)
    layer = BatchNorm(3, momentum=0.8, dtype=F64)
    layer.params["gamma"][...] = [1.0, 2.0, 0.5]
    layer.params["beta"][...] = [0.0, -1.0, 3.0]
    x = rng.standard_normal((50, 3)) * [1.0, 3.0, 0.1] + [5.0, -2.0, 0.0]
    y = layer.forward(x, train=True)
    mean, var = x.mean(axis=0), x.var(axis=0)
    expected = (x - mean) / np.sqrt(var + 1e-5) * [1.0, 2.0, 0.5] + [0.0, -1.0, 3.0]
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_mean"], 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_var"], 0.8 + 0.2 * var, rtol=1e-12)


def test_batchnorm_4d_statistics_are_per_channel():
    rng = np.random.default_rng(16)
    layer = BatchNorm(2, dtype=F64)
    x = rng.standard_normal((4, 2, 3, 5)) * np.array([0.5, 4.0])[:, None, None]
    x += np.array([10.0, -3.0])[:, None, None]
    y = layer.forward(x, train=True)
    for c in range(2):
        xc = x[:, c]
        np.testing.assert_allclose(
            y[:, c], (xc - xc.mean()) / np.sqrt(xc.var() + 1e-5), rtol=1e-11, atol=1e-12
        )
        assert layer.buffers["running_mean"][c] == pytest.approx(0.1 * xc.mean(), rel=1e-12)
        assert layer.buffers["running_var"][c] == pytest.approx(0.9 + 0.1 * xc.var(), rel=1e-12)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
def test_batchnorm_inference_uses_running_stats(shape):
    rng = np.random.default_rng(17)
    layer = BatchNorm(3, dtype=F64)
    mean, var = np.array([1.0, -2.0, 0.5]), np.array([4.0, 0.25, 1.0])
    gamma, beta = np.array([2.0, 1.0, -1.0]), np.array([0.5, 0.0, 1.0])
    layer.buffers["running_mean"][...] = mean
    layer.buffers["running_var"][...] = var
    layer.params["gamma"][...], layer.params["beta"][...] = gamma, beta
    x = rng.standard_normal(shape)
    y = layer.forward(x, train=False)
    axes = (-1,) + (1,) * (len(shape) - 2)  # broadcast per channel on axis 1
    b = [v.reshape(axes) for v in (mean, var, gamma, beta)]
    np.testing.assert_allclose(y, (x - b[0]) / np.sqrt(b[1] + 1e-5) * b[2] + b[3], rtol=1e-12)
    np.testing.assert_array_equal(layer.buffers["running_mean"], mean)  # not updated
    np.testing.assert_array_equal(layer.buffers["running_var"], var)
    # in inference the layer is affine in x: dx = dout * gamma / sqrt(var + eps)
    dout = rng.standard_normal(shape)
    np.testing.assert_allclose(layer.backward(dout), dout * b[2] / np.sqrt(b[1] + 1e-5), rtol=1e-12)


def test_batchnorm_running_stats_converge_and_inference_matches():
    """After many batches from one distribution, inference ~ training normalisation."""
    rng = np.random.default_rng(18)
    layer = BatchNorm(2, dtype=F64)
    for _ in range(200):
        layer.forward(rng.standard_normal((64, 2)) * [2.0, 0.5] + [3.0, -1.0], train=True)
    np.testing.assert_allclose(layer.buffers["running_mean"], [3.0, -1.0], atol=0.1)
    np.testing.assert_allclose(layer.buffers["running_var"], [4.0, 0.25], rtol=0.1)


# --------------------------------------------------------------------------- Dropout semantics


def test_dropout_inverted_scaling():
    x = np.ones((200, 500))
    layer = Dropout(0.3, rng=np.random.default_rng(19))
    y = layer.forward(x, train=True)
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.7], rtol=1e-15)
    assert (y == 0).mean() == pytest.approx(0.3, abs=0.01)
    assert y.mean() == pytest.approx(1.0, abs=0.01)  # the mean is preserved in expectation
    dout = np.random.default_rng(0).standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(dout), dout * y)  # same mask as forward
    np.testing.assert_array_equal(layer.forward(x * 3, train=False), x * 3)  # identity
    np.testing.assert_array_equal(layer.backward(dout), dout)


def test_dropout_textbook_mode_scales_at_test_time():
    x = np.full((100, 400), 2.0, np.float32)
    layer = Dropout(0.25, "textbook", rng=np.random.default_rng(20))
    y = layer.forward(x, train=True)
    assert set(np.unique(y)) == {0.0, 2.0}  # kept units are not scaled in training
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.01)
    y_test = layer.forward(x, train=False)
    assert y_test.dtype == np.float32
    np.testing.assert_array_equal(y_test, np.float32(2.0 * 0.75))
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.float32(0.75))


def test_dropout_rng_reproducible_and_ratio_zero():
    x = np.ones((10, 10))
    a = Dropout(0.5, rng=np.random.default_rng(3)).forward(x)
    b = Dropout(0.5, rng=np.random.default_rng(3)).forward(x)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(Dropout(0.0).forward(x), x)


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5, float("nan")])
def test_dropout_ratio_validation(ratio):
    with pytest.raises(ValueError, match=r"Dropout: ratio must be in \[0, 1\)"):
        Dropout(ratio)


# --------------------------------------------------------------------------- errors


def test_dense_errors():
    rng = np.random.default_rng(0)
    layer = Dense(4, 3, rng=rng)
    with pytest.raises(ValueError, match=r"Dense: expected 4 input features, got 5 \(input shape"):
        layer.forward(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"Dense: expected 4 input features, got 6"):
        layer.forward(np.zeros((2, 3, 2), np.float32))
    with pytest.raises(TypeError, match="Dense: input must be a float array, got dtype int64"):
        layer.forward(np.zeros((2, 4), np.int64))
    with pytest.raises(ValueError, match="Dense: input must be"):
        layer.forward(np.float32(1.0))
    with pytest.raises(ValueError, match="unknown activation act='relux'"):
        Dense(4, 3, "relux")
    with pytest.raises(TypeError, match="activation 'relu' takes no parameters; got alpha"):
        Dense(4, 3, "relu", alpha=0.1)
    with pytest.raises(ValueError, match="in_features must be a positive int, got 0"):
        Dense(0, 3)
    with pytest.raises(ValueError, match="out_features must be a positive int, got 2.5"):
        Dense(4, 2.5)
    with pytest.raises(TypeError, match="Dense: rng must be a numpy.random.Generator"):
        Dense(4, 3, rng=np.random.RandomState(0))
    with pytest.raises(TypeError, match="Dense: rng must be a numpy.random.Generator"):
        Dense(4, 3, rng=42)
    with pytest.raises(ValueError, match="unknown initializer"):
        Dense(4, 3, init="bogus")


def test_conv2d_errors():
    layer = Conv2D(3, 4, 3, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="channel mismatch: x has C=2 channels"):
        layer.forward(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"Conv2D: input must have ndim in \(4,\)"):
        layer.forward(np.zeros((3, 5, 5), np.float32))
    with pytest.raises(TypeError, match="Conv2D: input must be a float array, got dtype int32"):
        layer.forward(np.zeros((1, 3, 5, 5), np.int32))
    with pytest.raises(ValueError, match="kernel_size must be >= 1, got 0"):
        Conv2D(3, 4, 0)
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a pair \(h, w\)"):
        Conv2D(3, 4, (3,))
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a pair \(h, w\)"):
        Conv2D(3, 4, (3, 3, 3))
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair of ints, got 2.5"):
        Conv2D(3, 4, 2.5)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        Conv2D(3, 4, 3, stride=0)
    with pytest.raises(ValueError, match="pad must be >= 0"):
        Conv2D(3, 4, 3, pad=-1)
    with pytest.raises(ValueError, match="in_channels must be a positive int"):
        Conv2D(0, 4, 3)
    with pytest.raises(ValueError, match="unknown activation act='nope'"):
        Conv2D(3, 4, 3, activation="nope")
    with pytest.raises(TypeError, match="Conv2D: rng must be a numpy.random.Generator"):
        Conv2D(3, 4, 3, rng=0)
    with pytest.raises(ValueError, match="window 7x7 is larger than the padded input 5x5"):
        Conv2D(3, 4, 7).forward(np.zeros((1, 3, 5, 5), np.float32))


def test_pool_activation_flatten_errors():
    with pytest.raises(ValueError, match="kernel_size must be >= 1, got 0"):
        MaxPool2D(0)
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a pair \(h, w\)"):
        AvgPool2D((2, 2, 2))
    with pytest.raises(ValueError, match="must be at most half the pooling window"):
        MaxPool2D(2, pad=2)
    with pytest.raises(ValueError, match="window 3x3 is larger than the padded input 2x2"):
        MaxPool2D(3).forward(np.zeros((1, 1, 2, 2)))
    with pytest.raises(TypeError, match="MaxPool2D: input must be a float array"):
        MaxPool2D(2).forward(np.zeros((1, 1, 4, 4), np.int64))
    with pytest.raises(ValueError, match=r"AvgPool2D: input must have ndim in \(4,\)"):
        AvgPool2D(2).forward(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="unknown activation act='bogus'; known: elu"):
        Activation("bogus")
    with pytest.raises(TypeError, match="activation 'tanh' takes no parameters"):
        Activation("tanh", n=3)
    with pytest.raises(ValueError, match="hswish parameter n must be > 0"):
        Activation("hswish", n=0)
    with pytest.raises(TypeError, match="Activation: input must be a float array"):
        Activation("relu").forward(np.ones((2, 2), bool))
    with pytest.raises(TypeError, match="Flatten: input must be a float array"):
        Flatten().forward(np.ones((2, 2), np.int8))
    with pytest.raises(ValueError, match="Flatten: input must be"):
        Flatten().forward(np.float64(1.0))


def test_batchnorm_and_dropout_errors():
    bn = BatchNorm(3)
    with pytest.raises(ValueError, match=r"BatchNorm: expected 3 features/channels on axis 1"):
        bn.forward(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm: expected 3 .* shape \(2, 4, 2, 2\)"):
        bn.forward(np.zeros((2, 4, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm: input must have ndim in \(2, 4\)"):
        bn.forward(np.zeros((2, 3, 2), np.float32))
    with pytest.raises(TypeError, match="BatchNorm: input must be a float array"):
        bn.forward(np.zeros((2, 3), np.int64))
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        BatchNorm(3, momentum=1.0)
    with pytest.raises(ValueError, match="eps must be > 0"):
        BatchNorm(3, eps=0)
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        BatchNorm(-1)
    with pytest.raises(ValueError, match="Dropout: mode must be 'inverted' or 'textbook'"):
        Dropout(0.5, "scaled")
    with pytest.raises(TypeError, match="Dropout: rng must be a numpy.random.Generator"):
        Dropout(0.5, rng=np.random.RandomState(0))
    with pytest.raises(TypeError, match="Dropout: input must be a float array"):
        Dropout(0.5).forward(np.ones((2, 2), np.int64))


# --------------------------------------------------------------------------- Sequential


def _mlp_bn(rng):
    return Sequential(
        [
            Dense(4, 3, rng=rng),
            BatchNorm(3),
            Activation("relu"),
            Dropout(0.2, rng=rng),
            Dense(3, 2, rng=rng),
        ]
    )


def test_sequential_keys_and_identity():
    rng = np.random.default_rng(21)
    model = _mlp_bn(rng)
    assert list(model.params) == ["0.W", "0.b", "1.gamma", "1.beta", "4.W", "4.b"]
    assert list(model.grads) == list(model.params)
    assert list(model.buffers) == ["1.running_mean", "1.running_var"]
    assert model.params["4.W"] is model[4].params["W"]
    assert model.grads["1.beta"] is model.layers[1].grads["beta"]
    assert model.buffers["1.running_var"] is model[1].buffers["running_var"]
    assert len(model) == 5 and isinstance(model[3], Dropout)


def test_sequential_backward_fills_grads_and_optimizer_updates_layers():
    rng = np.random.default_rng(22)
    model = _mlp_bn(rng)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = model.forward(x)
    dx = model.backward(np.ones_like(y))
    assert dx.shape == x.shape
    assert np.abs(model.grads["0.W"]).sum() > 0
    before = {k: v.copy() for k, v in model.params.items()}
    opt = get_optimizer("sgd", lr=0.5)
    opt.step(model.params, model.grads)
    for key, old in before.items():
        i, name = key.split(".")
        layer_param = model[int(i)].params[name]
        np.testing.assert_allclose(
            layer_param, old - np.float32(0.5) * model[int(i)].grads[name], rtol=1e-6
        )
    model.params["0.b"] -= 1.0  # in-place arithmetic on the dict values reaches the layer too
    np.testing.assert_allclose(model[0].params["b"], before["0.b"] - 0.5 * model.grads["0.b"] - 1)


def test_sequential_item_assignment_rebinds_layer_arrays():
    model = _mlp_bn(np.random.default_rng(23))
    new = np.ones((4, 3), np.float32)
    model.params["0.W"] = new
    assert model[0].params["W"] is new
    model.buffers = {"1.running_mean": np.zeros(3, np.float32)}
    np.testing.assert_array_equal(model[1].buffers["running_mean"], 0)
    with pytest.raises(KeyError, match="Sequential.params has no entry '9.W'"):
        model.params["9.W"] = new
    with pytest.raises(KeyError, match="Sequential.grads has no entry '0.gamma'"):
        model.grads.update({"0.gamma": new})
    snapshot = copy.deepcopy(model.params)  # a plain dict of copies
    assert type(snapshot) is dict and snapshot["0.W"] is not model.params["0.W"]


def test_sequential_repr_and_errors():
    model = _mlp_bn(np.random.default_rng(24))
    text = repr(model)
    assert text.startswith("Sequential(\n  (0) Dense(in_features=4, out_features=3,")
    assert "(1) BatchNorm(num_features=3, momentum=0.9, eps=1e-05" in text
    assert "(3) Dropout(ratio=0.2, mode='inverted')" in text
    assert text.endswith(
        "(4) Dense(in_features=3, out_features=2, activation=None, "
        "init='he_normal', dtype='float32')\n)"
    )
    with pytest.raises(TypeError, match=r"Sequential: item 1 \(int\) is not a layer"):
        Sequential([Flatten(), 3])


def test_layer_registry_and_configs_rebuild_layers():
    rng = np.random.default_rng(25)
    layers = [
        Dense(3, 2, "leaky_relu", rng=rng, alpha=0.2),
        Conv2D(1, 2, (3, 2), (2, 1), (1, 0), "relu", rng=rng, dtype=F64),
        MaxPool2D(3, 2, 1),
        AvgPool2D((2, 1)),
        Activation("hswish", n=4.0),
        BatchNorm(3, momentum=0.5, eps=1e-3),
        Dropout(0.25, "textbook"),
        Flatten(),
    ]
    for layer in layers:
        cls = LAYERS[type(layer).__name__]
        assert cls is type(layer)
        clone = cls(**layer.config())
        assert repr(clone) == repr(layer)
        assert {k: (v.shape, v.dtype) for k, v in clone.params.items()} == {
            k: (v.shape, v.dtype) for k, v in layer.params.items()
        }


# --------------------------------------------------------------------------- PyTorch oracle


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5, 2)], ids=["2d", "4d"])
def test_batchnorm_train_matches_torch(shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(26)
    layer = BatchNorm(3, momentum=0.9, dtype=F64)
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    rm0, rv0 = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    layer.params["gamma"][...], layer.params["beta"][...] = gamma, beta
    layer.buffers["running_mean"][...], layer.buffers["running_var"][...] = rm0, rv0
    x = rng.standard_normal(shape) * 2 + 0.5
    dout = rng.standard_normal(shape)

    tbn = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(
        3, eps=1e-5, momentum=0.1, dtype=torch.float64
    )
    with torch.no_grad():
        tbn.weight[:], tbn.bias[:] = torch.tensor(gamma), torch.tensor(beta)
        tbn.running_mean[:], tbn.running_var[:] = torch.tensor(rm0), torch.tensor(rv0)
    tbn.train()
    tx = torch.tensor(x, requires_grad=True)
    ty = tbn(tx)
    ty.backward(torch.tensor(dout))

    y = layer.forward(x, train=True)
    dx = layer.backward(dout)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(layer.grads["gamma"], tbn.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(layer.grads["beta"], tbn.bias.grad.numpy(), rtol=1e-10)
    # fastdl momentum 0.9 == torch momentum 0.1 for the running mean
    np.testing.assert_allclose(layer.buffers["running_mean"], tbn.running_mean.numpy(), rtol=1e-12)
    # torch's running_var uses the unbiased batch variance, fastdl the biased one (as the
    # textbook): recover torch's batch variance and rescale it by (m - 1) / m.
    m = x.size // 3
    torch_batch_var = (tbn.running_var.numpy() - 0.9 * rv0) / 0.1
    np.testing.assert_allclose(
        layer.buffers["running_var"], 0.9 * rv0 + 0.1 * torch_batch_var * (m - 1) / m, rtol=1e-10
    )
    # inference with equal running statistics agrees too
    with torch.no_grad():
        tbn.running_var[:] = torch.tensor(layer.buffers["running_var"])
    tbn.eval()
    np.testing.assert_allclose(
        layer.forward(x, train=False), tbn(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12
    )


def test_conv2d_bias_relu_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(27)
    layer = Conv2D(3, 4, (3, 2), stride=(2, 1), pad=(1, 1), activation="relu", rng=rng, dtype=F64)
    _random_params(layer, rng)
    x = rng.standard_normal((2, 3, 7, 6))
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(layer.params["W"], requires_grad=True)
    tb = torch.tensor(layer.params["b"], requires_grad=True)
    ty = torch.relu(torch.nn.functional.conv2d(tx, tw, tb, stride=(2, 1), padding=(1, 1)))
    y = layer.forward(x)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(y.shape)
    ty.backward(torch.tensor(dout))
    np.testing.assert_allclose(layer.backward(dout), tx.grad.numpy(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], tw.grad.numpy(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], tb.grad.numpy(), rtol=1e-11, atol=1e-12)


def test_each_layer_module_holds_one_kind():
    """One concept per file: the public layer classes each module of fastdl/layers defines."""
    expected = {
        "activation": {Activation},
        "conv": {Conv2D},
        "dense": {Dense},
        "dropout": {Dropout},
        "normalization": {BatchNorm},
        "pooling": {AvgPool2D, MaxPool2D},
        "reshape": {Flatten},
        "sequential": {Sequential},
    }
    found = {}
    for info in pkgutil.iter_modules(fastdl.layers.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"fastdl.layers.{info.name}")
        found[info.name] = {
            obj
            for name, obj in vars(module).items()
            if isinstance(obj, type)
            and issubclass(obj, Layer)
            and obj.__module__ == module.__name__
            and not name.startswith("_")
        }
    assert found == expected
    assert set(LAYERS.values()) | {Sequential} == set().union(*expected.values())
