"""Conv2D: 2-D convolution, with bias+activation fused."""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

from .. import _validate
from .. import functional as F
from .._typing import FloatArray, InitSpec, IntPair
from ._base import (
    Layer,
    check_float_input,
    init_name,
    init_weight,
    positive_int,
    require_rng,
)
from ._bias_act import _BiasAct


class Conv2D(_BiasAct, Layer):
    """2-D convolution ``y = act(conv(x, W) + b)``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride, pad : int or (int, int)
    activation, init, rng, dtype, **act_params
        As for :class:`Dense`.

    Shapes: x (N, C, H, W); W (F, C, KH, KW); b (F,); y (N, F, OH, OW).
    """

    accepts_input_grad = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        pad: IntPair = 0,
        activation: str | None = None,
        *,
        init: InitSpec = "he_normal",
        rng: np.random.Generator | None = None,
        dtype: npt.DTypeLike = np.float32,
        **act_params: float,
    ) -> None:
        super().__init__()
        self.in_channels = positive_int("in_channels", in_channels)
        self.out_channels = positive_int("out_channels", out_channels)
        self.kernel_size = _validate.pair("kernel_size", kernel_size, 1)
        self.stride, self.pad = _validate.pair("stride", stride, 1), _validate.pair("pad", pad, 0)
        self.activation, self.act_params, self.init = activation, act_params, init
        self.dtype = np.dtype(dtype)
        rng = require_rng("Conv2D", rng if rng is not None else np.random.default_rng())
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.params["W"] = init_weight(init, shape, rng, dtype)
        self.params["b"] = np.zeros(self.out_channels, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._check_activation()

    def forward(self, x: npt.ArrayLike, train: bool = True) -> FloatArray:
        x = check_float_input("Conv2D", x, ndim=(4,))
        self._x = x.astype(self.params["W"].dtype, copy=False)
        z = F.conv2d_forward(self._x, self.params["W"], None, self.stride, self.pad)
        return self._bias_act_forward(z)

    @overload
    def backward(self, dout: FloatArray, input_grad: Literal[True] = ...) -> FloatArray: ...
    @overload
    def backward(self, dout: FloatArray, input_grad: bool) -> FloatArray | None: ...
    def backward(self, dout: FloatArray, input_grad: bool = True) -> FloatArray | None:
        """Write ``grads``; return dx (N, C, H, W), or None if not ``input_grad``."""
        dz, db = self._bias_act_backward(dout)
        w = self.params["W"]
        dx, dw, _ = F.conv2d_backward(dz, self._x, w, self.stride, self.pad, input_grad)
        self.grads["W"][...] = dw
        self.grads["b"][...] = db
        return dx

    def config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "pad": list(self.pad),
            "activation": self.activation,
            "init": init_name(self.init),
            "dtype": self.dtype.name,
            **self.act_params,
        }
