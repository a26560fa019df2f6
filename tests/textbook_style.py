"""Layers and networks written the way the textbook (ゼロから作るDeep Learning, ch. 5-8) writes
them, for the gradcheck tests: attributes ``W``/``dW``, ``params`` dicts aliased by the layers,
``train_flg``, ``np.random.rand`` dropout, the 1e-7 inside the log. Each class takes an
optional ``bug`` naming a realistic mistake in its backward (``None``: correct code).
"""

from collections import OrderedDict

import numpy as np


def im2col(x, fh, fw, stride=1, pad=0):
    """x (N, C, H, W) -> col (N*OH*OW, C*FH*FW), rows (n, oh, ow), columns (c, fh, fw)."""
    n, c = x.shape[:2]
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    win = np.lib.stride_tricks.sliding_window_view(img, (fh, fw), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]  # (N, C, OH, OW, FH, FW)
    oh, ow = win.shape[2:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, -1)  # (N*OH*OW, C*FH*FW)


def col2im(col, x_shape, fh, fw, stride=1, pad=0, overwrite=False):
    """Adjoint of :func:`im2col`: sums overlapping windows (``overwrite``: the bug of ``=``)."""
    n, c, h, w = x_shape
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    cols = col.reshape(n, oh, ow, c, fh, fw).transpose(0, 3, 4, 5, 1, 2)  # (N, C, FH, FW, OH, OW)
    img = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    for i in range(fh):
        for j in range(fw):
            window = (slice(None), slice(None))
            window += (slice(i, i + stride * oh, stride), slice(j, j + stride * ow, stride))
            if overwrite:
                img[window] = cols[:, :, i, j]
            else:
                img[window] += cols[:, :, i, j]
    return img[:, :, pad : pad + h, pad : pad + w]


def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    """The textbook's: labels t (N,), with 1e-7 inside the log."""
    return -np.sum(np.log(y[np.arange(y.shape[0]), t] + 1e-7)) / y.shape[0]


class Relu:
    def __init__(self, bug=None):
        self.mask, self.bug = None, bug

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[~self.mask if self.bug == "inverted_mask" else self.mask] = 0
        return dout


class Sigmoid:
    def __init__(self, bug=None):
        self.out, self.bug = None, bug

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        if self.bug == "no_out":
            return dout * (1.0 - self.out)
        return dout * (1.0 - self.out) * self.out


class Affine:
    def __init__(self, W, b, bug=None, bug_at=(3, 2)):
        self.W, self.b, self.bug, self.bug_at = W, b, bug, bug_at
        self.x = self.original_x_shape = None
        self.dW = self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)  # (N, D)
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = dout[0] if self.bug == "db_first_row" else np.sum(dout, axis=0)
        if self.bug == "one_weight":  # a hand-written loop that skips one weight
            self.dW[self.bug_at] = 0.0
        return dx.reshape(*self.original_x_shape)  # (N, ...) like x


class SoftmaxWithLoss:
    def __init__(self, bug=None):
        self.loss = self.y = self.t = None
        self.bug = bug

    def forward(self, x, t):
        self.t, self.y = t, softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        if self.bug == "no_batch_mean":
            return dx * dout
        if self.bug == "sign":
            return -dx * dout / batch_size
        return dx * dout / batch_size


class Convolution:
    def __init__(self, W, b, stride=1, pad=0, bug=None):
        self.W, self.b, self.stride, self.pad, self.bug = W, b, stride, pad, bug
        self.x = self.col = self.col_W = None
        self.dW = self.db = None

    def forward(self, x):
        fn, c, fh, fw = self.W.shape
        n, c, h, w = x.shape
        out_h = 1 + (h + 2 * self.pad - fh) // self.stride
        out_w = 1 + (w + 2 * self.pad - fw) // self.stride
        col = im2col(x, fh, fw, self.stride, self.pad)  # (N*OH*OW, C*FH*FW)
        col_W = self.W.reshape(fn, -1).T  # (C*FH*FW, FN)
        out = np.dot(col, col_W) + self.b  # (N*OH*OW, FN)
        out = out.reshape(n, out_h, out_w, -1).transpose(0, 3, 1, 2)  # (N, FN, OH, OW)
        self.x, self.col, self.col_W = x, col, col_W
        return out

    def backward(self, dout):
        fn, c, fh, fw = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, fn)  # (N*OH*OW, FN)
        self.db = np.sum(dout, axis=0)
        dW = np.dot(self.col.T, dout)  # (C*FH*FW, FN)
        if self.bug == "reshape_without_transpose":
            self.dW = dW.reshape(fn, c, fh, fw)  # (FN, C, FH, FW), values scrambled
        else:
            self.dW = dW.transpose(1, 0).reshape(fn, c, fh, fw)  # (FN, C, FH, FW)
        dcol = np.dot(dout, self.col_W.T)  # (N*OH*OW, C*FH*FW)
        overwrite = self.bug == "col2im_overwrites"
        return col2im(dcol, self.x.shape, fh, fw, self.stride, self.pad, overwrite)


class Pooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0, bug=None):
        self.pool_h, self.pool_w, self.stride, self.pad, self.bug = pool_h, pool_w, stride, pad, bug
        self.x = self.arg_max = None

    def forward(self, x):
        n, c, h, w = x.shape
        out_h = 1 + (h - self.pool_h) // self.stride
        out_w = 1 + (w - self.pool_w) // self.stride
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)  # (N*OH*OW*C, PH*PW)
        self.x, self.arg_max = x, np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        return out.reshape(n, out_h, out_w, c).transpose(0, 3, 1, 2)  # (N, C, OH, OW)

    def backward(self, dout):
        if self.bug != "no_transpose":
            dout = dout.transpose(0, 2, 3, 1)  # (N, OH, OW, C)
        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape(dout.shape + (pool_size,))  # (N, OH, OW, C, PH*PW)
        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)  # (N*OH*OW, C*PH*PW)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, bug=None):
        self.gamma, self.beta, self.momentum, self.bug = gamma, beta, momentum, bug
        self.running_mean = self.running_var = None
        self.batch_size = self.xc = self.std = None
        self.dgamma = self.dbeta = None

    def forward(self, x, train_flg=True):
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1])
            self.running_var = np.zeros(x.shape[1])
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
            std = np.sqrt(var + 10e-7)
            self.batch_size, self.xc, self.std = x.shape[0], xc, std
            self.xn = xc / std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
            xn = self.xn
        else:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + 10e-7)
        return self.gamma * xn + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        if self.bug == "swapped_gamma_beta":
            self.dbeta, self.dgamma = self.dgamma, self.dbeta
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = (1.0 if self.bug == "no_half" else 0.5) * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        return dxc - dmu / self.batch_size


class Dropout:
    """The textbook's: the mask is drawn with ``np.random.rand`` in every training forward."""

    def __init__(self, dropout_ratio=0.5, bug=None):
        self.dropout_ratio, self.mask, self.bug = dropout_ratio, None, bug

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio  # noqa: NPY002
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout if self.bug == "no_mask" else dout * self.mask


class TwoLayerNet:
    """Affine-Relu-Affine-SoftmaxWithLoss; ``params`` holds the arrays the layers read."""

    def __init__(
        self,
        input_size,
        hidden_size,
        output_size,
        weight_init_std=0.01,
        seed=0,
        weight_decay=0.0,
        bug=None,
    ):
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": weight_init_std * rng.standard_normal((input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * rng.standard_normal((hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }
        self.weight_decay, self.bug = weight_decay, bug
        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        decay = sum(np.sum(self.params[k] ** 2) for k in ("W1", "W2"))
        return self.lastLayer.forward(self.predict(x), t) + 0.5 * self.weight_decay * decay

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        for i in ("1", "2"):
            affine = self.layers["Affine" + i]
            forget_decay = self.bug == "forget_decay" and i == "2"
            decay = 0.0 if forget_decay else self.weight_decay
            grads["W" + i] = affine.dW + decay * self.params["W" + i]
            grads["b" + i] = affine.db
        return grads


class SimpleConvNet:
    """Conv-Relu-Pool-Affine-Relu-Affine-SoftmaxWithLoss with a ``params`` dict aliased by its
    layers (``self.layers["Conv1"].W is self.params["W1"]``)."""

    def __init__(
        self,
        input_dim=(1, 28, 28),
        filter_num=3,
        filter_size=5,
        hidden_size=10,
        output_size=10,
        weight_init_std=0.1,
        seed=0,
        bugs=None,
    ):
        bugs = bugs or {}
        rng = np.random.default_rng(seed)
        c, h, _ = input_dim
        conv_out = h - filter_size + 1
        pool_out = filter_num * (conv_out // 2) ** 2
        self.params = {
            "W1": weight_init_std * rng.standard_normal((filter_num, c, filter_size, filter_size)),
            "b1": np.zeros(filter_num),
            "W2": weight_init_std * rng.standard_normal((pool_out, hidden_size)),
            "b2": np.zeros(hidden_size),
            "W3": weight_init_std * rng.standard_normal((hidden_size, output_size)),
            "b3": np.zeros(output_size),
        }
        p = self.params
        self.layers = OrderedDict()
        self.layers["Conv1"] = Convolution(p["W1"], p["b1"], bug=bugs.get("Conv1"))
        self.layers["Relu1"] = Relu(bug=bugs.get("Relu1"))
        self.layers["Pool1"] = Pooling(2, 2, stride=2, bug=bugs.get("Pool1"))
        self.layers["Affine1"] = Affine(p["W2"], p["b2"], bug=bugs.get("Affine1"))
        self.layers["Relu2"] = Relu(bug=bugs.get("Relu2"))
        self.layers["Affine2"] = Affine(p["W3"], p["b3"], bug=bugs.get("Affine2"))
        self.last_layer = SoftmaxWithLoss(bug=bugs.get("SoftmaxWithLoss"))

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        names = {"1": "Conv1", "2": "Affine1", "3": "Affine2"}
        grads = {}
        for i, name in names.items():
            grads["W" + i], grads["b" + i] = self.layers[name].dW, self.layers[name].db
        return grads


class BatchNormDropoutNet:
    """Affine-BatchNorm-Relu-Dropout-Affine-SoftmaxWithLoss, ``loss(x, t, train_flg=False)``
    like the textbook's MultiLayerNetExtend (gradient calls it with ``train_flg=True``)."""

    def __init__(self, input_size=784, hidden_size=20, output_size=10, seed=0, bugs=None):
        bugs = bugs or {}
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": 0.05 * rng.standard_normal((input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "gamma1": np.ones(hidden_size),
            "beta1": np.zeros(hidden_size),
            "W2": 0.05 * rng.standard_normal((hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }
        p = self.params
        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(p["W1"], p["b1"])
        self.layers["BatchNorm1"] = BatchNormalization(
            p["gamma1"], p["beta1"], bug=bugs.get("BatchNorm1")
        )
        self.layers["Relu1"] = Relu()
        self.layers["Dropout1"] = Dropout(0.3, bug=bugs.get("Dropout1"))
        self.layers["Affine2"] = Affine(p["W2"], p["b2"])
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x, train_flg=False):
        for key, layer in self.layers.items():
            if "Dropout" in key or "BatchNorm" in key:
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x, t, train_flg=False):
        return self.last_layer.forward(self.predict(x, train_flg), t)

    def gradient(self, x, t):
        self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        bn = self.layers["BatchNorm1"]
        return {
            "W1": self.layers["Affine1"].dW,
            "b1": self.layers["Affine1"].db,
            "gamma1": bn.dgamma,
            "beta1": bn.dbeta,
            "W2": self.layers["Affine2"].dW,
            "b2": self.layers["Affine2"].db,
        }
