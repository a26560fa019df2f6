"""Model builders: the textbook's MLP (MultiLayerNet), SimpleConvNet and DeepConvNet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable, Union

import numpy as np
import numpy.typing as npt

from ._typing import InitSpec
from .layers import (
    Activation,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
    Sequential,
)

_SeedOrRng = Union[int, np.random.Generator, None]


def _rng(seed_or_rng: _SeedOrRng) -> np.random.Generator:
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(seed_or_rng)


def mlp(
    input_size: int = 784,
    hidden: Sequence[int] = (100, 50),
    output_size: int = 10,
    *,
    activation: str = "relu",
    output_activation: str | None = None,
    init: InitSpec = "he_normal",
    batchnorm: bool = False,
    dropout: float = 0.0,
    dropout_mode: str = "inverted",
    rng: _SeedOrRng = 0,
    dtype: npt.DTypeLike = np.float32,
    **act_params: float,
) -> Sequential:
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
    dropout_mode : {"inverted", "textbook"}
    rng : int, numpy.random.Generator or None
    dtype : numpy dtype
        float32 or float64 weights.
    **act_params
        Parameters of ``activation`` (``alpha`` for elu and leaky_relu, ``n`` for hswish).

    Returns
    -------
    Sequential taking x of shape (N, input_size), giving outputs of shape (N, output_size)
    """
    gen = _rng(rng)
    layers: list[Layer] = []
    width = input_size
    for size in hidden:
        if batchnorm:
            layers += [
                Dense(width, size, init=init, rng=gen, dtype=dtype),
                BatchNorm(size, dtype=dtype),
                Activation(activation, **act_params),
            ]
        else:
            layers.append(
                Dense(width, size, activation, init=init, rng=gen, dtype=dtype, **act_params)
            )
        if dropout:
            layers.append(Dropout(dropout, dropout_mode, rng=gen))
        width = size
    layers.append(Dense(width, output_size, output_activation, init=init, rng=gen, dtype=dtype))
    return Sequential(layers)


def simple_cnn(
    input_shape: tuple[int, int, int] = (1, 28, 28),
    filters: int = 30,
    kernel_size: int = 5,
    hidden: int = 100,
    output_size: int = 10,
    *,
    activation: str = "relu",
    init: InitSpec = 0.01,
    rng: _SeedOrRng = 0,
    dtype: npt.DTypeLike = np.float32,
) -> Sequential:
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
    gen = _rng(rng)
    c, h, w = input_shape
    oh, ow = h - kernel_size + 1, w - kernel_size + 1
    flat = filters * (oh // 2) * (ow // 2)
    return Sequential(
        [
            Conv2D(c, filters, kernel_size, 1, 0, activation, init=init, rng=gen, dtype=dtype),
            MaxPool2D(2),
            Flatten(),
            Dense(flat, hidden, activation, init=init, rng=gen, dtype=dtype),
            Dense(hidden, output_size, init=init, rng=gen, dtype=dtype),
        ]
    )


def deep_cnn(
    input_shape: tuple[int, int, int] = (1, 28, 28),
    output_size: int = 10,
    *,
    activation: str = "relu",
    init: InitSpec = "he_normal",
    dropout: float = 0.5,
    rng: _SeedOrRng = 0,
    dtype: npt.DTypeLike = np.float32,
) -> Sequential:
    """The textbook's DeepConvNet: six 3x3 convs (16, 16, 32, 32, 64, 64), three 2x2 pools,
    dense 50 with dropout, dense with dropout; He initialisation.

    Returns
    -------
    Sequential taking x of shape (N, C, H, W) (28x28 for the default geometry)
    """
    gen = _rng(rng)
    c = input_shape[0]

    def conv(cin: int, cout: int, pad: int = 1) -> Conv2D:
        return Conv2D(cin, cout, 3, 1, pad, activation, init=init, rng=gen, dtype=dtype)

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
            Dense(64 * h * w, 50, activation, init=init, rng=gen, dtype=dtype),
            Dropout(dropout, rng=gen),
            Dense(50, output_size, init=init, rng=gen, dtype=dtype),
            Dropout(dropout, rng=gen),
        ]
    )


MODELS: dict[str, Callable[..., Sequential]] = {
    "mlp": mlp,
    "simple-cnn": simple_cnn,
    "deep-cnn": deep_cnn,
}
