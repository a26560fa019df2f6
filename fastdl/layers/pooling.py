"""Pooling layers: MaxPool2D and AvgPool2D (no parameters)."""

from __future__ import annotations

from typing import Any

import numpy.typing as npt

from .. import _validate
from .. import functional as F
from .._typing import FloatArray, IntPair
from ._base import Layer, check_float_input, require_forward


class _Pool(Layer):
    def __init__(
        self, kernel_size: IntPair, stride: IntPair | None = None, pad: IntPair = 0
    ) -> None:
        super().__init__()
        self.kernel_size = _validate.pair("kernel_size", kernel_size, 1)
        self.stride = None if stride is None else _validate.pair("stride", stride, 1)
        self.pad = _validate.pair("pad", pad, 0)
        _validate.pool_pad(*self.kernel_size, self.pad)

    def config(self) -> dict[str, Any]:
        stride = None if self.stride is None else list(self.stride)
        return {"kernel_size": list(self.kernel_size), "stride": stride, "pad": list(self.pad)}


class MaxPool2D(_Pool):
    """Max pooling over ``kernel_size`` windows; ``stride`` defaults to the window.

    Shapes: x (N, C, H, W) -> y (N, C, OH, OW).
    """

    def forward(self, x: npt.ArrayLike, train: bool = True) -> FloatArray:
        x = check_float_input("MaxPool2D", x, ndim=(4,))
        self._x_shape = x.shape
        y, self._argmax = F.maxpool2d_forward(x, *self.kernel_size, self.stride, self.pad)
        return y

    def backward(self, dout: FloatArray) -> FloatArray:
        require_forward(self, "_argmax")
        return F.maxpool2d_backward(
            dout, self._argmax, self._x_shape, *self.kernel_size, self.stride, self.pad
        )


class AvgPool2D(_Pool):
    """Average pooling (padding counted as zeros). Shapes: x (N, C, H, W) -> y (N, C, OH, OW)."""

    def forward(self, x: npt.ArrayLike, train: bool = True) -> FloatArray:
        x = check_float_input("AvgPool2D", x, ndim=(4,))
        self._x_shape = x.shape
        return F.avgpool2d_forward(x, *self.kernel_size, self.stride, self.pad)

    def backward(self, dout: FloatArray) -> FloatArray:
        require_forward(self, "_x_shape")
        return F.avgpool2d_backward(dout, self._x_shape, *self.kernel_size, self.stride, self.pad)
