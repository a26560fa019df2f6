"""Flatten: reshape (N, ...) to (N, prod(...)) and back."""

from __future__ import annotations

import numpy.typing as npt

from .._typing import FloatArray
from ._base import Layer, check_float_input


class Flatten(Layer):
    """Reshape (N, ...) to (N, prod(...)) and back."""

    def forward(self, x: npt.ArrayLike, train: bool = True) -> FloatArray:
        x = check_float_input("Flatten", x)
        if x.ndim < 1:
            raise ValueError(f"Flatten: input must be (N, ...), got a scalar of shape {x.shape}")
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)  # (N, C*H*W)

    def backward(self, dout: FloatArray) -> FloatArray:
        return dout.reshape(self._x_shape)  # (N, C, H, W)
