"""Layers with the textbook protocol: ``forward(x, train=True)``, ``backward(dout)``,
``params``/``grads`` dicts, ``buffers`` for non-trainable state, ``config()`` for saving."""

from ._base import Layer
from .activation import Activation
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .normalization import BatchNorm
from .pooling import AvgPool2D, MaxPool2D
from .reshape import Flatten
from .sequential import Sequential

Affine = Dense  # the textbook's name

LAYERS = {
    cls.__name__: cls
    for cls in (Dense, Conv2D, MaxPool2D, AvgPool2D, Activation, BatchNorm, Dropout, Flatten)
}

__all__ = [
    "Activation",
    "Affine",
    "AvgPool2D",
    "BatchNorm",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "LAYERS",
    "MaxPool2D",
    "Sequential",
]
