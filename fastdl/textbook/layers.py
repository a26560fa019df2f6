"""The textbook's ``common/layers.py`` on fastdl's kernels.

Each layer keeps the parameter arrays it was given (``self.W``, ``self.b``, ``self.gamma``,
``self.beta``) and reads them at every call, so a network that updates its ``params`` in place (or
reassigns ``layer.W``) is seen; backward writes ``self.dW``, ``self.db``, ``self.dgamma``,
``self.dbeta``. Output dtypes are those of the textbook's code: Convolution and Pooling give
float64 (the textbook's im2col writes into float64 arrays), the others follow NumPy's promotion of
their operands (float32 images times float64 weights give float64).

Convolution, Pooling, Relu and Affine's products run on :mod:`fastdl.functional`'s kernels
(:func:`~fastdl.functional.matmul`: BLAS on fastdl's threads), and the small passes of Sigmoid,
SoftmaxWithLoss, Dropout and BatchNormalization are the textbook's NumPy formulas.

Differences from the textbook, none of which changes a result: ``Relu.backward`` returns a new
array instead of writing into ``dout``; ``Pooling`` accepts only ``pad=0`` (the textbook's forward
ignores ``pad`` when it sizes its output, so other values fail there with a reshape error).
"""

import numpy as np

from .. import functional as F
from . import functions
from .functions import (  # noqa: F401  (the textbook's layers module offers these names too)
    cross_entropy_error,
    identity_function,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    softmax_loss,
    step_function,
    sum_squared_error,
)
from .util import col2im, im2col  # noqa: F401

# the layers, then what ``from common.layers import *`` also gives in the textbook
__all__ = [
    "Relu",
    "Sigmoid",
    "Affine",
    "SoftmaxWithLoss",
    "Dropout",
    "BatchNormalization",
    "Convolution",
    "Pooling",
    *functions.__all__,
    "im2col",
    "col2im",
]


def _common_dtype(a, b):
    """Cast ``a`` and ``b`` to their common NumPy dtype (no copy where it already is)."""
    dtype = np.result_type(a, b)
    return a.astype(dtype, copy=False), b.astype(dtype, copy=False)


def _dot(a, b):
    """``np.dot(a, b)`` of 2-D arrays; float products by :func:`fastdl.functional.matmul`."""
    a, b = _common_dtype(a, b)
    if a.dtype not in (np.float32, np.float64):  # integers, float16: NumPy's as in the textbook
        return np.dot(a, b)
    return F.matmul(a, b)


class Relu:
    """``max(0, x)``; the gradient is 0 where ``x <= 0``. Any shape, float32 or float64."""

    def __init__(self):
        self.x = None

    def forward(self, x):
        self.x = x
        return F.bias_act_forward(x, None, "relu", axis=0)

    def backward(self, dout):
        """Return ``dout`` zeroed where ``x <= 0``, in the dtype of ``dout``."""
        dout = np.asarray(dout)
        d, x = _common_dtype(dout, self.x)
        return F.bias_act_backward(d, x, None, "relu", axis=0)[0].astype(dout.dtype, copy=False)


class Sigmoid:
    """``1 / (1 + exp(-x))``, any shape; backward ``dout * (1 - y) * y``."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Affine:
    """Fully connected layer ``x @ W + b``; input of shape (N, ...) is flattened to (N, D).

    Parameters
    ----------
    W : ndarray of shape (D, M)
    b : ndarray of shape (M,)
    """

    def __init__(self, W, b):
        self.W, self.b = W, b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)  # (N, D)
        return _dot(self.x, self.W) + self.b  # (N, M)

    def backward(self, dout):
        dx = _dot(dout, self.W.T)  # (N, D)
        self.dW = _dot(self.x.T, dout)  # (D, M)
        self.db = np.sum(dout, axis=0)  # (M,)
        return dx.reshape(self.original_x_shape)  # (N, ...) like the input


class SoftmaxWithLoss:
    """Softmax of the scores followed by the cross-entropy error against ``t``.

    ``forward(x, t)``: x of shape (N, K) scores, t labels (N,) or one-hot (N, K); returns the mean
    loss. ``backward(dout=1)`` returns ``(softmax(x) - onehot(t)) / N``; like the textbook it does
    not multiply by ``dout`` (the loss is the last layer).
    """

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        n = self.t.shape[0]
        if self.t.size == self.y.size:  # one-hot targets
            return (self.y - self.t) / n
        dx = self.y.copy()  # (N, K)
        dx[np.arange(n), self.t] -= 1
        return dx / n


class Dropout:
    """Dropout as in the textbook (not inverted).

    Training keeps each unit where ``np.random.rand(*x.shape) > dropout_ratio`` (NumPy's global
    random state, so a seeded script draws the same masks) and does not rescale; at test time
    (``train_flg=False``) the output is ``x * (1 - dropout_ratio)``.
    """

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if not train_flg:
            return x * (1.0 - self.dropout_ratio)
        self.mask = np.random.rand(*x.shape) > self.dropout_ratio  # noqa: NPY002 (the book's)
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class BatchNormalization:
    """Batch normalisation over the batch axis, the textbook's way.

    4-D input (N, C, H, W) is flattened to (N, C*H*W), so statistics (and ``gamma``, ``beta``)
    are per element of C*H*W, not per channel. Training uses the batch mean and (biased)
    variance with eps ``1e-6`` and updates ``running = momentum*running + (1-momentum)*batch``;
    test time (``train_flg=False``) uses the running statistics, which start at zeros.

    Parameters
    ----------
    gamma, beta : ndarray of shape (D,)
        D = features of 2-D input, C*H*W of 4-D input.
    momentum : float
    running_mean, running_var : ndarray of shape (D,), optional
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta = gamma, beta
        self.momentum = momentum
        self.input_shape = None
        self.running_mean, self.running_var = running_mean, running_var
        self.batch_size = None
        self.xc = None
        self.xn = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True):
        self.input_shape = x.shape
        x2 = x.reshape(x.shape[0], -1)  # (N, D)
        if self.running_mean is None:
            self.running_mean = np.zeros(x2.shape[1])
            self.running_var = np.zeros(x2.shape[1])
        if train_flg:
            mu = x2.mean(axis=0)
            self.xc = x2 - mu
            var = np.mean(self.xc**2, axis=0)
            self.std = np.sqrt(var + 10e-7)
            self.xn = self.xc / self.std
            self.batch_size = x2.shape[0]
            m = self.momentum
            self.running_mean = m * self.running_mean + (1 - m) * mu
            self.running_var = m * self.running_var + (1 - m) * var
            xn = self.xn
        else:
            xn = (x2 - self.running_mean) / np.sqrt(self.running_var + 10e-7)
        return (self.gamma * xn + self.beta).reshape(self.input_shape)  # like x

    def backward(self, dout):
        """Gradients through the batch statistics (training mode), chain rule step by step."""
        d2 = dout.reshape(dout.shape[0], -1)  # (N, D)
        self.dbeta = d2.sum(axis=0)
        self.dgamma = np.sum(self.xn * d2, axis=0)
        dxn = self.gamma * d2
        dxc = dxn / self.std
        dstd = -np.sum(dxn * self.xc / (self.std * self.std), axis=0)
        dxc += (2.0 / self.batch_size) * self.xc * (0.5 * dstd / self.std)
        dx = dxc - np.sum(dxc, axis=0) / self.batch_size
        return dx.reshape(self.input_shape)  # like x


class Convolution:
    """2-D convolution (cross-correlation) ``y = conv(x, W) + b`` on fastdl's conv kernels.

    Parameters
    ----------
    W : ndarray of shape (FN, C, FH, FW)
    b : ndarray of shape (FN,)
    stride, pad : int

    ``forward(x)``: x (N, C, H, W) -> float64 y (N, FN, OH, OW). ``backward(dout)`` writes
    ``self.dW`` (float64, shape of W) and ``self.db`` (FN,) and returns float64 dx (N, C, H, W).
    The float64 computation is the textbook's (im2col, then a GEMM); only the summation order
    differs.
    """

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b = W, b
        self.stride, self.pad = stride, pad
        self.x = None
        self._x64 = None  # x as float64, what the kernels see
        self.dW = None
        self.db = None

    def _weights(self):
        w = np.asarray(self.W, dtype=np.float64)
        return w, np.asarray(self.b, dtype=np.float64).reshape(w.shape[0])  # (FN,)

    def forward(self, x):
        self.x = x
        self._x64 = np.asarray(x, dtype=np.float64)  # the textbook computes in float64
        w, b = self._weights()
        return F.conv2d_forward(self._x64, w, b, self.stride, self.pad)

    def backward(self, dout):
        w, _ = self._weights()
        d = np.asarray(dout, dtype=np.float64)
        dx, self.dW, db = F.conv2d_backward(d, self._x64, w, self.stride, self.pad)
        self.db = db.astype(np.result_type(dout), copy=False)
        return dx


class Pooling:
    """Max pooling over ``pool_h`` x ``pool_w`` windows, ``stride`` 2 by default.

    ``forward(x)``: x (N, C, H, W) -> float64 y (N, C, OH, OW), OH = (H - pool_h)//stride + 1.
    ``backward(dout)`` routes ``dout`` to the first maximum of each window (summing where windows
    overlap) and returns float64 dx (N, C, H, W).
    """

    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        if pad != 0:
            raise ValueError(
                f"Pooling: pad must be 0, got pad={pad!r} (the textbook's Pooling sizes its "
                "output without the padding, so it cannot pad either)"
            )
        self.pool_h, self.pool_w = pool_h, pool_w
        self.stride, self.pad = stride, pad
        self.x = None
        self._argmax = None  # (N, C, OH, OW) window-local index of each maximum

    def forward(self, x):
        self.x = x
        x64 = np.asarray(x, dtype=np.float64)
        y, self._argmax = F.maxpool2d_forward(x64, self.pool_h, self.pool_w, self.stride, 0)
        return y

    def backward(self, dout):
        d = np.asarray(dout, dtype=np.float64)
        k = (self.pool_h, self.pool_w)
        return F.maxpool2d_backward(d, self._argmax, self.x.shape, *k, self.stride, 0)
