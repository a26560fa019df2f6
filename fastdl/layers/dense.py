"""Fully connected layers: Dense (the textbook's Affine) and Conv2D, with bias+activation fused."""

import numpy as np

from .. import _validate
from .. import functional as F
from ._base import (
    Layer,
    check_float_input,
    init_weight,
    positive_int,
    require_forward,
    require_rng,
)


class _BiasAct:
    """Shared tail of Dense and Conv2D: ``act(z + b)`` through the fused kernel.

    With ``activation=None`` the activation is ``identity``: the bias add still runs fused.
    """

    def _bias_act_forward(self, z):
        self._z = z
        act = self.activation or "identity"
        return F.bias_act_forward(z, self.params["b"], act, axis=1, **self.act_params)

    def _bias_act_backward(self, dout):
        require_forward(self, "_x")  # Dense and Conv2D set it (``_z`` is set at construction)
        act = self.activation or "identity"
        return F.bias_act_backward(dout, self._z, self.params["b"], act, axis=1, **self.act_params)

    def _check_activation(self):
        """Fail at construction, not in the first forward, on a bad activation or parameter."""
        z = np.zeros((1, self.params["b"].size), self.params["b"].dtype)
        self._bias_act_forward(z)
        self.act_params = {k: float(v) for k, v in self.act_params.items()}  # JSON-friendly


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
        in_features,
        out_features,
        activation=None,
        *,
        init="he_normal",
        rng=None,
        dtype=np.float32,
        **act_params,
    ):
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

    def forward(self, x, train=True):
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
        return self._bias_act_forward(x2 @ self.params["W"])

    def backward(self, dout, input_grad=True):
        """Write ``grads``; return dx (N, ...) like the input, or None if not ``input_grad``."""
        dz, db = self._bias_act_backward(dout)
        np.matmul(self._x.T, dz, out=self.grads["W"])
        self.grads["b"][...] = db
        if not input_grad:
            return None
        return (dz @ self.params["W"].T).reshape(self._x_shape)  # (N, ...) like the input

    def config(self):
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "activation": self.activation,
            "init": _init_name(self.init),
            "dtype": self.dtype.name,
            **self.act_params,
        }


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
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        pad=0,
        activation=None,
        *,
        init="he_normal",
        rng=None,
        dtype=np.float32,
        **act_params,
    ):
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

    def forward(self, x, train=True):
        x = check_float_input("Conv2D", x, ndim=(4,))
        self._x = x.astype(self.params["W"].dtype, copy=False)
        z = F.conv2d_forward(self._x, self.params["W"], None, self.stride, self.pad)
        return self._bias_act_forward(z)

    def backward(self, dout, input_grad=True):
        """Write ``grads``; return dx (N, C, H, W), or None if not ``input_grad``."""
        dz, db = self._bias_act_backward(dout)
        w = self.params["W"]
        dx, dw, _ = F.conv2d_backward(dz, self._x, w, self.stride, self.pad, input_grad)
        self.grads["W"][...] = dw
        self.grads["b"][...] = db
        return dx

    def config(self):
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "pad": list(self.pad),
            "activation": self.activation,
            "init": _init_name(self.init),
            "dtype": self.dtype.name,
            **self.act_params,
        }


def _init_name(init):
    return init if isinstance(init, (str, int, float)) else getattr(init, "__name__", repr(init))
