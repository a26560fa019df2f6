"""Model builders: the textbook's MultiLayerNet (mlp), SimpleConvNet and DeepConvNet."""

import numpy as np
import pytest

from fastdl.layers import Activation, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D
from fastdl.models import MODELS, deep_cnn, mlp, simple_cnn


def _types(model):
    return [type(layer) for layer in model.layers]


def _assert_std(w, std, rel):
    """The sample std of ``w`` is ``std`` within ``rel`` and its mean is ~0."""
    assert w.std() == pytest.approx(std, rel=rel)
    assert abs(w.mean()) < 4 * std / np.sqrt(w.size)


def test_output_shapes_on_mnist_shaped_input():
    rng = np.random.default_rng(0)
    x = rng.random((3, 1, 28, 28), dtype=np.float32)
    assert mlp().forward(x.reshape(3, 784), train=False).shape == (3, 10)
    assert mlp().forward(x, train=False).shape == (3, 10)  # Dense flattens (N, 1, 28, 28)
    assert simple_cnn().forward(x, train=False).shape == (3, 10)
    assert deep_cnn().forward(x, train=True).shape == (3, 10)
    assert simple_cnn().forward(x).dtype == np.float32
    assert MODELS == {"mlp": mlp, "simple-cnn": simple_cnn, "deep-cnn": deep_cnn}


def test_mlp_structure():
    model = mlp(784, (100, 50), 10, activation="tanh", init=0.1)
    assert _types(model) == [Dense, Dense, Dense]
    assert [(d.in_features, d.out_features, d.activation) for d in model.layers] == [
        (784, 100, "tanh"),
        (100, 50, "tanh"),
        (50, 10, None),
    ]
    _assert_std(model.params["0.W"], 0.1, rel=0.02)
    np.testing.assert_array_equal(model.params["0.b"], 0)


def test_mlp_output_activation():
    assert mlp().layers[-1].activation is None  # raw scores for softmax cross-entropy
    model = mlp(784, (100,), 10, activation="sigmoid", output_activation="sigmoid", init=0.5)
    assert [(d.in_features, d.out_features, d.activation) for d in model.layers] == [
        (784, 100, "sigmoid"),
        (100, 10, "sigmoid"),
    ]
    x = np.random.default_rng(0).random((4, 784), dtype=np.float32)

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    p = {k: v.astype(np.float64) for k, v in model.params.items()}
    expected = sigmoid(sigmoid(x @ p["0.W"] + p["0.b"]) @ p["1.W"] + p["1.b"])
    np.testing.assert_allclose(model.forward(x, train=False), expected, rtol=1e-5)
    # act_params belong to the hidden activation only
    elu = mlp(20, (8,), 3, activation="elu", output_activation="tanh", alpha=0.3)
    assert (elu[1].activation, elu[1].act_params) == ("tanh", {})
    bn = mlp(20, (8,), 3, batchnorm=True, output_activation="sigmoid")
    assert _types(bn) == [Dense, BatchNorm, Activation, Dense] and bn[3].activation == "sigmoid"
    with pytest.raises(ValueError, match="unknown activation"):
        mlp(output_activation="softmax")


def test_mlp_with_batchnorm_and_dropout():
    model = mlp(20, (8, 6), 3, batchnorm=True, dropout=0.25, dropout_mode="textbook")
    group = [Dense, BatchNorm, Activation, Dropout]
    assert _types(model) == group * 2 + [Dense]
    assert model[0].activation is None  # the activation follows BatchNorm as its own layer
    assert model[2].name == "relu" and model[1].num_features == 8 and model[5].num_features == 6
    assert (model[3].ratio, model[3].mode) == (0.25, "textbook")
    elu = mlp(20, (8,), 3, activation="elu", alpha=0.3)
    assert (elu[0].activation, elu[0].act_params) == ("elu", {"alpha": 0.3})


def test_mlp_default_init_is_he_and_seeded():
    a, b, c = mlp(rng=1), mlp(rng=1), mlp(rng=2)
    _assert_std(a.params["0.W"], np.sqrt(2 / 784), rel=0.02)
    _assert_std(a.params["1.W"], np.sqrt(2 / 100), rel=0.05)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["0.W"], c.params["0.W"])
    assert mlp(dtype=np.float64).params["0.W"].dtype == np.float64


def test_simple_cnn_is_the_textbook_architecture():
    model = simple_cnn()
    assert _types(model) == [Conv2D, MaxPool2D, Flatten, Dense, Dense]
    conv, pool, _, hidden, out = model.layers
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (1, 30, (5, 5))
    assert (conv.stride, conv.pad, conv.activation) == ((1, 1), (0, 0), "relu")
    assert pool.kernel_size == (2, 2) and pool.stride in (None, (2, 2)) and pool.pad == (0, 0)
    assert (hidden.in_features, hidden.out_features, hidden.activation) == (
        30 * 12 * 12,
        100,
        "relu",
    )
    assert (out.in_features, out.out_features, out.activation) == (100, 10, None)
    assert {k: v.shape for k, v in model.params.items()} == {
        "0.W": (30, 1, 5, 5),
        "0.b": (30,),
        "3.W": (4320, 100),
        "3.b": (100,),
        "4.W": (100, 10),
        "4.b": (10,),
    }
    # weight_init_std = 0.01 for every weight, zero biases
    _assert_std(model.params["0.W"], 0.01, rel=0.1)  # 750 draws
    _assert_std(model.params["3.W"], 0.01, rel=0.01)
    _assert_std(model.params["4.W"], 0.01, rel=0.1)
    for k in ("0.b", "3.b", "4.b"):
        np.testing.assert_array_equal(model.params[k], 0)
    # the pooled conv output really is (N, 30, 12, 12)
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    assert pool.forward(conv.forward(x)).shape == (2, 30, 12, 12)


def test_simple_cnn_other_geometry():
    model = simple_cnn((3, 32, 30), filters=8, kernel_size=3, hidden=16, output_size=4)
    assert model[0].params["W"].shape == (8, 3, 3, 3)
    assert model[3].in_features == 8 * 15 * 14
    x = np.zeros((2, 3, 32, 30), np.float32)
    assert model.forward(x).shape == (2, 4)


def test_deep_cnn_is_the_textbook_architecture():
    model = deep_cnn()
    assert _types(model) == [
        Conv2D, Conv2D, MaxPool2D, Conv2D, Conv2D, MaxPool2D, Conv2D, Conv2D, MaxPool2D,
        Flatten, Dense, Dropout, Dense, Dropout,
    ]  # fmt: skip
    convs = [layer for layer in model.layers if isinstance(layer, Conv2D)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (1, 16), (16, 16), (16, 32), (32, 32), (32, 64), (64, 64),
    ]  # fmt: skip
    assert all(c.kernel_size == (3, 3) and c.stride == (1, 1) for c in convs)
    assert [c.pad for c in convs] == [(1, 1)] * 3 + [(2, 2)] + [(1, 1)] * 2
    assert all(c.activation == "relu" for c in convs)
    assert (model[10].in_features, model[10].out_features, model[10].activation) == (
        64 * 4 * 4,
        50,
        "relu",
    )
    assert (model[12].in_features, model[12].out_features, model[12].activation) == (50, 10, None)
    assert model[11].ratio == 0.5 and model[13].ratio == 0.5
    # He initialisation: std sqrt(2 / fan_in)
    for c in convs[2:]:
        _assert_std(c.params["W"], np.sqrt(2 / (c.in_channels * 9)), rel=0.05)
    _assert_std(model[10].params["W"], np.sqrt(2 / 1024), rel=0.05)
    # the shapes through the stack: (N, 64, 4, 4) reaches Flatten, 1024 features
    x = np.random.default_rng(1).random((2, 1, 28, 28), dtype=np.float32)
    shapes = []
    for layer in model.layers:
        x = layer.forward(x, train=False)
        shapes.append(x.shape[1:])
    assert shapes[:10] == [
        (16, 28, 28), (16, 28, 28), (16, 14, 14), (32, 14, 14), (32, 16, 16), (32, 8, 8),
        (64, 8, 8), (64, 8, 8), (64, 4, 4), (1024,),
    ]  # fmt: skip


def test_builders_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"Dropout: ratio must be in \[0, 1\)"):
        mlp(dropout=1.0)
    with pytest.raises(ValueError, match="out_features must be a positive int"):
        mlp(hidden=(0,))
    with pytest.raises(ValueError, match="unknown activation"):
        simple_cnn(activation="relu7")
    with pytest.raises(ValueError, match="unknown initializer"):
        deep_cnn(init="glorot")
