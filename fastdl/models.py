"""Model builders: the textbook's MLP (MultiLayerNet), SimpleConvNet and DeepConvNet."""

import numpy as np

from .layers import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, Sequential


def _rng(seed_or_rng):
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(seed_or_rng)


def mlp(
    input_size=784,
    hidden=(100, 50),
    output_size=10,
    *,
    activation="relu",
    output_activation=None,
    init="he_normal",
    batchnorm=False,
    dropout=0.0,
    dropout_mode="inverted",
    rng=0,
    dtype=np.float32,
    **act_params,
):
    """Multi-layer perceptron ``input -> [Dense(+BN)(+act)(+Dropout)] * len(hidden) -> Dense``.

    The learners' first network (784-100-10, sigmoid on both layers, for an MSE loss on one-hot
    targets) is ``mlp(784, (100,), 10, activation="sigmoid", output_activation="sigmoid")``.

    Parameters
    ----------
    input_size, output_size : int
    hidden : sequence of int
        Hidden layer widths, e.g. ``(100, 100, 100, 100)`` for the textbook's 5-layer net.
    activation : str
        Any fastdl activation, fused with the bias when there is no BatchNorm.
    output_activation : str or None
        Activation of the output layer (fused with its bias); None gives raw scores (logits),
        what ``"softmax_cross_entropy"`` expects. ``act_params`` apply to ``activation`` only.
    init : str, float or callable
        Weight initialiser (a float is a normal std, e.g. 0.01).
    batchnorm : bool
        BatchNorm after each hidden Dense (then the activation follows as its own layer).
    dropout : float in [0, 1)
        Dropout ratio after each hidden activation (0 = none).
    rng : int or numpy.random.Generator

    Returns
    -------
    Sequential taking x of shape (N, input_size), giving scores of shape (N, output_size)
    """
    from .layers import Activation

    rng = _rng(rng)
    layers, width = [], input_size
    for size in hidden:
        if batchnorm:
            layers += [
                Dense(width, size, init=init, rng=rng, dtype=dtype),
                BatchNorm(size, dtype=dtype),
                Activation(activation, **act_params),
            ]
        else:
            layers.append(
                Dense(width, size, activation, init=init, rng=rng, dtype=dtype, **act_params)
            )
        if dropout:
            layers.append(Dropout(dropout, dropout_mode, rng=rng))
        width = size
    layers.append(Dense(width, output_size, output_activation, init=init, rng=rng, dtype=dtype))
    return Sequential(layers)


def simple_cnn(
    input_shape=(1, 28, 28),
    filters=30,
    kernel_size=5,
    hidden=100,
    output_size=10,
    *,
    activation="relu",
    init=0.01,
    rng=0,
    dtype=np.float32,
):
    """The textbook's SimpleConvNet: conv(30, 5x5) - relu - pool 2x2 - dense 100 - relu - dense.

    Parameters
    ----------
    input_shape : (C, H, W)
    init : str, float or callable
        The textbook uses a normal std of 0.01.

    Returns
    -------
    Sequential taking x of shape (N, C, H, W)
    """
    rng = _rng(rng)
    c, h, w = input_shape
    oh, ow = h - kernel_size + 1, w - kernel_size + 1
    flat = filters * (oh // 2) * (ow // 2)
    return Sequential(
        [
            Conv2D(c, filters, kernel_size, 1, 0, activation, init=init, rng=rng, dtype=dtype),
            MaxPool2D(2),
            Flatten(),
            Dense(flat, hidden, activation, init=init, rng=rng, dtype=dtype),
            Dense(hidden, output_size, init=init, rng=rng, dtype=dtype),
        ]
    )


def deep_cnn(
    input_shape=(1, 28, 28),
    output_size=10,
    *,
    activation="relu",
    init="he_normal",
    dropout=0.5,
    rng=0,
    dtype=np.float32,
):
    """The textbook's DeepConvNet: six 3x3 convs (16, 16, 32, 32, 64, 64), three 2x2 pools,
    dense 50 with dropout, dense with dropout; He initialisation.

    Returns
    -------
    Sequential taking x of shape (N, C, H, W) (28x28 for the default geometry)
    """
    rng = _rng(rng)
    c = input_shape[0]

    def conv(cin, cout, pad=1):
        return Conv2D(cin, cout, 3, 1, pad, activation, init=init, rng=rng, dtype=dtype)

    h = input_shape[1]
    h = ((h // 2 + 2) // 2) // 2  # pool, conv with pad 2 (+2), pool, pool
    w = input_shape[2]
    w = ((w // 2 + 2) // 2) // 2
    return Sequential(
        [
            conv(c, 16),
            conv(16, 16),
            MaxPool2D(2),
            conv(16, 32),
            conv(32, 32, pad=2),
            MaxPool2D(2),
            conv(32, 64),
            conv(64, 64),
            MaxPool2D(2),
            Flatten(),
            Dense(64 * h * w, 50, activation, init=init, rng=rng, dtype=dtype),
            Dropout(dropout, rng=rng),
            Dense(50, output_size, init=init, rng=rng, dtype=dtype),
            Dropout(dropout, rng=rng),
        ]
    )


MODELS = {"mlp": mlp, "simple-cnn": simple_cnn, "deep-cnn": deep_cnn}
