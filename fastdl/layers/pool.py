"""Parameter-free layers: MaxPool2D, AvgPool2D, Activation and Flatten."""

import numpy as np

from .. import _validate
from .. import functional as F
from ._base import Layer, check_float_input, require_forward


class _Pool(Layer):
    def __init__(self, kernel_size, stride=None, pad=0):
        super().__init__()
        self.kernel_size = _validate.pair("kernel_size", kernel_size, 1)
        self.stride = None if stride is None else _validate.pair("stride", stride, 1)
        self.pad = _validate.pair("pad", pad, 0)
        _validate.pool_pad(*self.kernel_size, self.pad)

    def config(self):
        stride = None if self.stride is None else list(self.stride)
        return {"kernel_size": list(self.kernel_size), "stride": stride, "pad": list(self.pad)}


class MaxPool2D(_Pool):
    """Max pooling over ``kernel_size`` windows; ``stride`` defaults to the window.

    Shapes: x (N, C, H, W) -> y (N, C, OH, OW).
    """

    def forward(self, x, train=True):
        x = check_float_input("MaxPool2D", x, ndim=(4,))
        self._x_shape = x.shape
        y, self._argmax = F.maxpool2d_forward(x, *self.kernel_size, self.stride, self.pad)
        return y

    def backward(self, dout):
        require_forward(self, "_argmax")
        return F.maxpool2d_backward(
            dout, self._argmax, self._x_shape, *self.kernel_size, self.stride, self.pad
        )


class AvgPool2D(_Pool):
    """Average pooling (padding counted as zeros). Shapes: x (N, C, H, W) -> y (N, C, OH, OW)."""

    def forward(self, x, train=True):
        x = check_float_input("AvgPool2D", x, ndim=(4,))
        self._x_shape = x.shape
        return F.avgpool2d_forward(x, *self.kernel_size, self.stride, self.pad)

    def backward(self, dout):
        require_forward(self, "_x_shape")
        return F.avgpool2d_backward(dout, self._x_shape, *self.kernel_size, self.stride, self.pad)


class Activation(Layer):
    """An activation on its own (no bias): ``y = act(x)``, any shape.

    Parameters
    ----------
    name : str
        Any activation of :func:`fastdl.functional.bias_act_forward`.
    **act_params
        ``alpha`` (leaky_relu, elu), ``n`` (hswish).
    """

    def __init__(self, name, **act_params):
        super().__init__()
        self.name, self.act_params = name, act_params
        F.bias_act_forward(np.zeros(1), None, name, axis=0, **act_params)  # fail now if bad
        self.act_params = {k: float(v) for k, v in act_params.items()}  # JSON-friendly

    def forward(self, x, train=True):
        self._x = check_float_input("Activation", x)
        return F.bias_act_forward(self._x, None, self.name, axis=0, **self.act_params)

    def backward(self, dout):
        require_forward(self, "_x")
        return F.bias_act_backward(dout, self._x, None, self.name, axis=0, **self.act_params)[0]

    def config(self):
        return {"name": self.name, **self.act_params}


class Flatten(Layer):
    """Reshape (N, ...) to (N, prod(...)) and back."""

    def forward(self, x, train=True):
        x = check_float_input("Flatten", x)
        if x.ndim < 1:
            raise ValueError(f"Flatten: input must be (N, ...), got a scalar of shape {x.shape}")
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)  # (N, C*H*W)

    def backward(self, dout):
        return dout.reshape(self._x_shape)  # (N, C, H, W)
