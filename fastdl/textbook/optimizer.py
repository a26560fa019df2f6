"""The textbook's ``common/optimizer.py``: the same update rules, computed in place.

Each ``update(params, grads)`` changes the arrays of ``params`` in place (layers holding the same
arrays see the new values) and keeps its state per key, as the textbook does. Each rule runs the
textbook's arithmetic in the textbook's order, so float64 results are bitwise the textbook's; the
temporaries go into two scratch arrays per parameter instead of a new array per operation.
"""

import numpy as np

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]


class _InPlace:
    """Scratch arrays per parameter key, reused across steps."""

    def __init__(self):
        self._bufs = {}

    def _scratch(self, key, p, g):
        """Two arrays of the shape of ``p``, dtype ``np.result_type(p, g)``."""
        dtype = np.result_type(p, g)
        bufs = self._bufs.get(key)
        if bufs is None or bufs[0].shape != p.shape or bufs[0].dtype != dtype:
            bufs = self._bufs[key] = (np.empty(p.shape, dtype), np.empty(p.shape, dtype))
        return bufs

    def _state(self, params):
        """A dict of zero arrays like ``params`` (the textbook's lazily created v, h, m)."""
        return {key: np.zeros_like(val) for key, val in params.items()}

    def _scaled_step(self, key, p, g, h, lr):
        """``p -= lr * g / (sqrt(h) + 1e-7)`` (AdaGrad, RMSprop)."""
        num, den = self._scratch(key, p, g)
        np.multiply(lr, g, out=num)
        np.sqrt(h, out=den)
        den += 1e-7
        num /= den
        p -= num


class SGD(_InPlace):
    """``p -= lr * g``."""

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = lr

    def update(self, params, grads):
        for key, p in params.items():
            tmp, _ = self._scratch(key, p, grads[key])
            np.multiply(self.lr, grads[key], out=tmp)
            p -= tmp


class Momentum(_InPlace):
    """``v = momentum * v - lr * g; p += v``."""

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__()
        self.lr, self.momentum = lr, momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = self._state(params)
        for key, p in params.items():
            v, g = self.v[key], grads[key]
            tmp, _ = self._scratch(key, p, g)
            v *= self.momentum
            v -= np.multiply(self.lr, g, out=tmp)
            p += v


class Nesterov(_InPlace):
    """Nesterov momentum in the textbook's form.

    ``v = momentum * v - lr * g; p += momentum**2 * v - (1 + momentum) * lr * g``.
    """

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__()
        self.lr, self.momentum = lr, momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = self._state(params)
        m = self.momentum
        for key, p in params.items():
            v, g = self.v[key], grads[key]
            tmp, _ = self._scratch(key, p, g)
            v *= m
            v -= np.multiply(self.lr, g, out=tmp)
            p += np.multiply(m * m, v, out=tmp)
            p -= np.multiply((1 + m) * self.lr, g, out=tmp)


class AdaGrad(_InPlace):
    """``h += g * g; p -= lr * g / (sqrt(h) + 1e-7)``."""

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = self._state(params)
        for key, p in params.items():
            h, g = self.h[key], grads[key]
            tmp, _ = self._scratch(key, p, g)
            h += np.multiply(g, g, out=tmp)
            self._scaled_step(key, p, g, h, self.lr)


class RMSprop(_InPlace):
    """``h = decay_rate * h + (1 - decay_rate) * g * g; p -= lr * g / (sqrt(h) + 1e-7)``."""

    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__()
        self.lr, self.decay_rate = lr, decay_rate
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = self._state(params)
        for key, p in params.items():
            h, g = self.h[key], grads[key]
            tmp, _ = self._scratch(key, p, g)
            h *= self.decay_rate
            np.multiply(1 - self.decay_rate, g, out=tmp)
            h += np.multiply(tmp, g, out=tmp)
            self._scaled_step(key, p, g, h, self.lr)


class Adam(_InPlace):
    """Adam with the bias correction folded into the learning rate, as the textbook writes it.

    Step t (from 1): ``lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)``;
    ``m += (1 - beta1) * (g - m)``; ``v += (1 - beta2) * (g**2 - v)``;
    ``p -= lr_t * m / (sqrt(v) + 1e-7)``.
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        super().__init__()
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m, self.v = self._state(params), self._state(params)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key, p in params.items():
            m, v, g = self.m[key], self.v[key], grads[key]
            a, c = self._scratch(key, p, g)
            np.subtract(g, m, out=a)
            m += np.multiply(1 - self.beta1, a, out=a)
            np.square(g, out=a)
            a -= v
            v += np.multiply(1 - self.beta2, a, out=a)
            np.multiply(lr_t, m, out=a)
            np.sqrt(v, out=c)
            c += 1e-7
            a /= c
            p -= a
