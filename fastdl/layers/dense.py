"""Dense: the fully connected layer (the textbook's Affine), with bias+activation fused."""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

from .. import functional as F
from .._typing import FloatArray, InitSpec
from ._base import (
    Layer,
    check_float_input,
    init_name,
    init_weight,
    positive_int,
    require_rng,
)
from ._bias_act import _BiasAct


class Dense(_BiasAct, Layer):
    """Fully connected layer ``y = act(x @ W + b)`` (the textbook's Affine, plus a fused act).

    Parameters
    ----------
    in_features, out_features : int
    activation : str or None
        Any activation of :func:`fastdl.functional.bias_act_forward`, fused with the bias add.
    init : str, float or callable
        Weight initialiser (see :mod:`fastdl.initializers`); a float is a normal std.
    rng : numpy.random.Generator
    dtype : float32 (default) or float64
    **act_params
        Activation parameters (``alpha``, ``n``).

    Shapes: x (N, in_features) or (N, ...) flattened to that; y (N, out_features);
    W (in_features, out_features); b (out_features,).
    """

    accepts_input_grad = True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str | None = None,
        *,
        init: InitSpec = "he_normal",
        rng: np.random.Generator | None = None,
        dtype: npt.DTypeLike = np.float32,
        **act_params: float,
    ) -> None:
        super().__init__()
        self.in_features = positive_int("in_features", in_features)
        self.out_features = positive_int("out_features", out_features)
        self.activation, self.act_params, self.init = activation, act_params, init
        self.dtype = np.dtype(dtype)
        rng = require_rng("Dense", rng if rng is not None else np.random.default_rng())
        self.params["W"] = init_weight(init, (self.in_features, self.out_features), rng, dtype)
        self.params["b"] = np.zeros(self.out_features, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._check_activation()

    def forward(self, x: npt.ArrayLike, train: bool = True) -> FloatArray:
        x = check_float_input("Dense", x).astype(self.params["W"].dtype, copy=False)
        if x.ndim < 2:
            raise ValueError(f"Dense: input must be (N, in_features) or (N, ...), got {x.shape}")
        self._x_shape = x.shape
        x2 = x.reshape(x.shape[0], -1)  # (N, in_features)
        if x2.shape[1] != self.in_features:
            raise ValueError(
                f"Dense: expected {self.in_features} input features, got {x2.shape[1]} "
                f"(input shape {x.shape})"
            )
        self._x = x2
        return self._bias_act_forward(F.matmul(x2, self.params["W"]))

    @overload
    def backward(self, dout: FloatArray, input_grad: Literal[True] = ...) -> FloatArray: ...
    @overload
    def backward(self, dout: FloatArray, input_grad: bool) -> FloatArray | None: ...
    def backward(self, dout: FloatArray, input_grad: bool = True) -> FloatArray | None:
        """Write ``grads``; return dx (N, ...) like the input, or None if not ``input_grad``."""
        dz, db = self._bias_act_backward(dout)
        self.grads["W"][...] = F.matmul(self._x.T, dz)
        self.grads["b"][...] = db
        if not input_grad:
            return None
        return F.matmul(dz, self.params["W"].T).reshape(self._x_shape)  # (N, ...) like the input

    def config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "activation": self.activation,
            "init": init_name(self.init),
            "dtype": self.dtype.name,
            **self.act_params,
        }
