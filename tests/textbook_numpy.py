"""Plain-NumPy implementation of the textbook's ``common/`` API, in the textbook's style.

The oracle for ``tests/test_textbook*.py`` and the baseline of ``bench/bench_textbook.py``:
im2col by a loop over window offsets into ``np.zeros`` (float64), convolution as im2col + GEMM,
max pooling through im2col, optimizers as one NumPy expression per rule, numerical gradients by
``np.nditer``. Written for this project after the book's description, not copied.

The two networks at the end, ``SimpleConvNet`` (chapter 7) and ``DeepConvNet`` (chapter 8), take
the layers module to build from (this module, or ``fastdl.textbook.layers``), so both contenders
run the same network code.
"""

# ruff: noqa: NPY002  (the textbook draws from NumPy's global random state)
from collections import OrderedDict

import numpy as np

# ---- util ------------------------------------------------------------------------------------


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """(N, C, H, W) -> float64 (N*OH*OW, C*FH*FW)."""
    n, c, h, w = input_data.shape
    out_h = (h + 2 * pad - filter_h) // stride + 1
    out_w = (w + 2 * pad - filter_w) // stride + 1
    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((n, c, filter_h, filter_w, out_h, out_w))
    for dy in range(filter_h):
        for dx in range(filter_w):
            col[:, :, dy, dx] = img[
                :, :, dy : dy + stride * out_h : stride, dx : dx + stride * out_w : stride
            ]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * out_h * out_w, -1)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """float64 (N*OH*OW, C*FH*FW) -> (N, C, H, W), overlaps summed."""
    n, c, h, w = input_shape
    out_h = (h + 2 * pad - filter_h) // stride + 1
    out_w = (w + 2 * pad - filter_w) // stride + 1
    col = col.reshape(n, out_h, out_w, c, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1))
    for dy in range(filter_h):
        for dx in range(filter_w):
            img[:, :, dy : dy + stride * out_h : stride, dx : dx + stride * out_w : stride] += col[
                :, :, dy, dx
            ]
    return img[:, :, pad : h + pad, pad : w + pad]


def smooth_curve(x):
    window = np.kaiser(11, 2)
    s = np.r_[x[10:0:-1], x, x[-1:-11:-1]]
    y = np.convolve(window / window.sum(), s, mode="valid")
    return y[5 : len(y) - 5]


# ---- functions -------------------------------------------------------------------------------


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        return (np.exp(x) / np.sum(np.exp(x), axis=0)).T
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


# ---- layers ----------------------------------------------------------------------------------


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0, x)

    def backward(self, dout):
        return np.where(self.mask, 0, dout)


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def forward(self, x):
        self.shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout):
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return np.dot(dout, self.W.T).reshape(*self.shape)


class SoftmaxWithLoss:
    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:
            return (self.y - self.t) / batch_size
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        return dx / batch_size


class Dropout:
    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.running_mean = running_mean
        self.running_var = running_var

    def forward(self, x, train_flg=True):
        self.input_shape = x.shape
        if x.ndim != 2:
            x = x.reshape(x.shape[0], -1)
        d = x.shape[1]
        if self.running_mean is None:
            self.running_mean, self.running_var = np.zeros(d), np.zeros(d)
        if not train_flg:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + 10e-7)
        else:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
            mom = self.momentum
            self.running_mean = mom * self.running_mean + (1 - mom) * mu
            self.running_var = mom * self.running_var + (1 - mom) * var
            self.std = np.sqrt(var + 10e-7)
            self.xc, self.batch_size = xc, x.shape[0]
            self.xn = xn = xc / self.std
        return (self.gamma * xn + self.beta).reshape(*self.input_shape)

    def backward(self, dout):
        if dout.ndim != 2:
            dout = dout.reshape(dout.shape[0], -1)
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dvar = 0.5 * -np.sum((dxn * self.xc) / (self.std * self.std), axis=0) / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        return (dxc - dmu / self.batch_size).reshape(*self.input_shape)


class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        fn, c, fh, fw = self.W.shape
        n, c, h, w = x.shape
        out_h = 1 + int((h + 2 * self.pad - fh) / self.stride)
        out_w = 1 + int((w + 2 * self.pad - fw) / self.stride)
        self.x = x
        self.col = im2col(x, fh, fw, self.stride, self.pad)
        self.col_W = self.W.reshape(fn, -1).T
        out = np.dot(self.col, self.col_W) + self.b
        return out.reshape(n, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        fn, c, fh, fw = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, fn)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(fn, c, fh, fw)
        dcol = np.dot(dout, self.col_W.T)
        return col2im(dcol, self.x.shape, fh, fw, self.stride, self.pad)


class Pooling:
    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        n, c, h, w = x.shape
        out_h = int(1 + (h - self.pool_h) / self.stride)
        out_w = int(1 + (w - self.pool_w) / self.stride)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        self.x = x
        self.arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        return out.reshape(n, out_h, out_w, c).transpose(0, 3, 1, 2)

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)
        size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dcol = dmax.reshape(dout.shape[0] * dout.shape[1] * dout.shape[2], -1)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)


# ---- optimizer -------------------------------------------------------------------------------


def _zeros(params):
    return {key: np.zeros_like(val) for key, val in params.items()}


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params.keys():
            params[key] -= self.lr * grads[key]


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = _zeros(params)
        for key in params.keys():
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class Nesterov(Momentum):
    def update(self, params, grads):
        if self.v is None:
            self.v = _zeros(params)
        for key in params.keys():
            self.v[key] *= self.momentum
            self.v[key] -= self.lr * grads[key]
            params[key] += self.momentum * self.momentum * self.v[key]
            params[key] -= (1 + self.momentum) * self.lr * grads[key]


class AdaGrad:
    def __init__(self, lr=0.01):
        self.lr, self.h = lr, None

    def accumulate(self, h, g):
        h += g * g

    def update(self, params, grads):
        if self.h is None:
            self.h = _zeros(params)
        for key in params.keys():
            self.accumulate(self.h[key], grads[key])
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class RMSprop(AdaGrad):
    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__(lr)
        self.decay_rate = decay_rate

    def accumulate(self, h, g):
        h *= self.decay_rate
        h += (1 - self.decay_rate) * g * g


class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter, self.m, self.v = 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = _zeros(params)
            self.v = _zeros(params)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params.keys():
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


# ---- gradient --------------------------------------------------------------------------------


def numerical_gradient(f, x):
    h = 1e-4
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        idx = it.multi_index
        tmp_val = x[idx]
        x[idx] = float(tmp_val) + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
        it.iternext()
    return grad


# ---- networks --------------------------------------------------------------------------------


class _Net:
    """predict / loss / gradient over ``self.layers`` (an OrderedDict) and ``self.last_layer``."""

    def predict(self, x, train_flg=False):
        for layer in self.layers.values():
            if isinstance(layer, self.L.Dropout):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x, train_flg=True), t)

    def gradient(self, x, t):
        """Loss and gradients of every parameter, by backpropagation."""
        loss = self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        for i, name in enumerate(self.weighted):
            grads[f"W{i + 1}"] = self.layers[name].dW
            grads[f"b{i + 1}"] = self.layers[name].db
        return loss, grads


class SimpleConvNet(_Net):
    """conv 30x5x5 - relu - pool 2x2 - affine 100 - relu - affine 10 - softmax-with-loss.

    ``L`` is the layers module; weights ``0.01 * np.random.randn`` (float64), biases zero.
    """

    def __init__(self, L, input_dim=(1, 28, 28), filter_num=30, hidden=100, out=10, std=0.01):
        self.L = L
        c, size = input_dim[0], input_dim[1]
        pooled = filter_num * ((size - 5 + 1) // 2) ** 2
        self.params = {
            "W1": std * np.random.randn(filter_num, c, 5, 5),
            "b1": np.zeros(filter_num),
            "W2": std * np.random.randn(pooled, hidden),
            "b2": np.zeros(hidden),
            "W3": std * np.random.randn(hidden, out),
            "b3": np.zeros(out),
        }
        p = self.params
        self.layers = OrderedDict()
        self.layers["Conv1"] = L.Convolution(p["W1"], p["b1"], 1, 0)
        self.layers["Relu1"] = L.Relu()
        self.layers["Pool1"] = L.Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = L.Affine(p["W2"], p["b2"])
        self.layers["Relu2"] = L.Relu()
        self.layers["Affine2"] = L.Affine(p["W3"], p["b3"])
        self.last_layer = L.SoftmaxWithLoss()
        self.weighted = ["Conv1", "Affine1", "Affine2"]


class DeepConvNet(_Net):
    """The chapter-8 network: (conv-relu-conv-relu-pool) x 3, affine 50, relu, dropout, affine 10,
    dropout, softmax-with-loss; 3x3 convolutions with 16, 16, 32, 32, 64, 64 filters, pad 1 except
    the fourth (pad 2, so the last pooling gives 64x4x4); He initialisation."""

    CONVS = [(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]  # (filters, pad)

    def __init__(self, L, hidden=50, out=10):
        self.L = L
        fan_in = np.array([1 * 9, 16 * 9, 16 * 9, 32 * 9, 32 * 9, 64 * 9, 64 * 4 * 4, hidden])
        scales = np.sqrt(2.0 / fan_in)
        self.params = {}
        channels = 1
        for i, (f, _) in enumerate(self.CONVS):
            self.params[f"W{i + 1}"] = scales[i] * np.random.randn(f, channels, 3, 3)
            self.params[f"b{i + 1}"] = np.zeros(f)
            channels = f
        self.params["W7"] = scales[6] * np.random.randn(64 * 4 * 4, hidden)
        self.params["b7"] = np.zeros(hidden)
        self.params["W8"] = scales[7] * np.random.randn(hidden, out)
        self.params["b8"] = np.zeros(out)
        p = self.params
        self.layers = OrderedDict()
        self.weighted = []
        for i, (_, pad) in enumerate(self.CONVS):
            self.layers[f"Conv{i + 1}"] = L.Convolution(p[f"W{i + 1}"], p[f"b{i + 1}"], 1, pad)
            self.layers[f"Relu{i + 1}"] = L.Relu()
            self.weighted.append(f"Conv{i + 1}")
            if i % 2 == 1:
                self.layers[f"Pool{i // 2 + 1}"] = L.Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = L.Affine(p["W7"], p["b7"])
        self.layers["Relu7"] = L.Relu()
        self.layers["Dropout1"] = L.Dropout(0.5)
        self.layers["Affine2"] = L.Affine(p["W8"], p["b8"])
        self.layers["Dropout2"] = L.Dropout(0.5)
        self.last_layer = L.SoftmaxWithLoss()
        self.weighted += ["Affine1", "Affine2"]


def train_losses(net, optimizer, x, t, steps, batch_size):
    """Train with batches drawn by ``np.random.choice`` (the textbook's trainer); return losses.

    The loss of each step is the one computed in that step's forward pass, before the update.
    """
    losses = []
    for _ in range(steps):
        batch = np.random.choice(x.shape[0], batch_size)
        loss, grads = net.gradient(x[batch], t[batch])
        optimizer.update(net.params, grads)
        losses.append(float(loss))
    return losses
