"""Layers with the textbook protocol: ``forward(x, train=True)``, ``backward(dout)``,
``params``/``grads`` dicts, ``buffers`` for non-trainable state, ``config()`` for saving."""

from ._base import Layer
from .dense import Conv2D, Dense
from .normalization import BatchNorm, Dropout
from .pool import Activation, AvgPool2D, Flatten, MaxPool2D
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
