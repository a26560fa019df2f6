"""Activation: an activation function as a layer of its own (no bias, no parameters)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .. import functional as F
from .._typing import FloatArray
from ._base import Layer, check_float_input, require_forward


class Activation(Layer):
    """An activation on its own (no bias): ``y = act(x)``, any shape.

    Parameters
    ----------
    name : str
        Any activation of :func:`fastdl.functional.bias_act_forward`.
    **act_params
        ``alpha`` (leaky_relu, elu), ``n`` (hswish).
    """

    def __init__(self, name: str, **act_params: Any) -> None:
        super().__init__()
        self.name, self.act_params = name, act_params
        F.bias_act_forward(np.zeros(1), None, name, axis=0, **act_params)  # fail now if bad
        self.act_params = {k: float(v) for k, v in act_params.items()}  # JSON-friendly

    def forward(self, x: npt.ArrayLike, train: bool = True) -> FloatArray:
        self._x = check_float_input("Activation", x)
        return F.bias_act_forward(self._x, None, self.name, axis=0, **self.act_params)

    def backward(self, dout: FloatArray) -> FloatArray:
        require_forward(self, "_x")
        return F.bias_act_backward(dout, self._x, None, self.name, axis=0, **self.act_params)[0]

    def config(self) -> dict[str, Any]:
        return {"name": self.name, **self.act_params}
