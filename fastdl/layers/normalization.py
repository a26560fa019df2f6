"""BatchNorm: batch normalisation with running statistics for inference."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._typing import FloatArray
from ._base import Layer, check_float_input, positive_int


class BatchNorm(Layer):
    """Batch normalisation after Dense (x (N, D)) or Conv2D (x (N, C, H, W), per channel).

    Training normalises with the batch statistics and updates the running ones:
    ``running = momentum * running + (1 - momentum) * batch`` (the textbook's convention;
    PyTorch's ``momentum=0.1`` equals ``momentum=0.9`` here; the running variance is the biased
    batch variance, as in the textbook). Inference uses the running statistics.

    Parameters
    ----------
    num_features : int
        D for 2-D input, C for 4-D input.
    momentum : float in [0, 1)
    eps : float > 0

    params: gamma (num_features,), beta (num_features,); buffers: running_mean, running_var.
    """

    def __init__(
        self,
        num_features: int,
        momentum: float = 0.9,
        eps: float = 1e-5,
        *,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.num_features = positive_int("num_features", num_features)
        if not 0 <= momentum < 1:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1), got {momentum!r}")
        if not eps > 0:
            raise ValueError(f"BatchNorm: eps must be > 0, got {eps!r}")
        self.momentum, self.eps, self.dtype = float(momentum), float(eps), np.dtype(dtype)
        self.params = {"gamma": np.ones(num_features, dtype), "beta": np.zeros(num_features, dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.buffers = {
            "running_mean": np.zeros(num_features, dtype),
            "running_var": np.ones(num_features, dtype),
        }

    def _as_2d(self, x: FloatArray) -> FloatArray:
        """(N, D) stays; (N, C, H, W) becomes (N*H*W, C) so statistics are per channel."""
        if x.ndim == 2:
            return x
        return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])  # (N*H*W, C)

    def _from_2d(self, y: FloatArray, shape: tuple[int, ...]) -> FloatArray:
        if len(shape) == 2:
            return y
        n, c, h, w = shape
        return y.reshape(n, h, w, c).transpose(0, 3, 1, 2)  # (N, C, H, W)

    def forward(self, x: npt.ArrayLike, train: bool = True) -> FloatArray:
        x = check_float_input("BatchNorm", x, ndim=(2, 4))
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm: expected {self.num_features} features/channels on axis 1, "
                f"got input shape {x.shape}"
            )
        self._shape, self._train = x.shape, train
        x2 = self._as_2d(x.astype(self.params["gamma"].dtype, copy=False))
        if train:
            mean, var = x2.mean(axis=0), x2.var(axis=0)
            m = self.momentum
            self.buffers["running_mean"][...] = m * self.buffers["running_mean"] + (1 - m) * mean
            self.buffers["running_var"][...] = m * self.buffers["running_var"] + (1 - m) * var
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
        self._std = np.sqrt(var + self.eps)
        self._xn = (x2 - mean) / self._std
        y = self.params["gamma"] * self._xn + self.params["beta"]
        return self._from_2d(y, x.shape)

    def backward(self, dout: FloatArray) -> FloatArray:
        d2 = self._as_2d(dout)
        m = d2.shape[0]
        self.grads["beta"][...] = d2.sum(axis=0)
        self.grads["gamma"][...] = (d2 * self._xn).sum(axis=0)
        dxn = d2 * self.params["gamma"]
        if self._train:  # the batch statistics depend on x too
            dxn = dxn - dxn.mean(axis=0) - self._xn * (dxn * self._xn).sum(axis=0) / m
        dx = dxn / self._std
        return self._from_2d(dx, self._shape)

    def config(self) -> dict[str, Any]:
        return {
            "num_features": self.num_features,
            "momentum": self.momentum,
            "eps": self.eps,
            "dtype": self.dtype.name,
        }
