"""Activation: an activation function as a layer of its own (no bias, no parameters)."""

import numpy as np

from .. import functional as F
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
