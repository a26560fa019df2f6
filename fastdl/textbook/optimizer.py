"""The textbook's ``common/optimizer.py``: the same update rules, computed in place.

Each ``update(params, grads)`` changes the arrays of ``params`` in place (layers holding the same
arrays see the new values) and keeps its state per key, as the textbook does. Each rule runs the
textbook's arithmetic in the textbook's order, so float64 results are bitwise the textbook's; the
temporaries go into two scratch arrays per parameter instead of a new array per operation.
"""

from typing import ClassVar

import numpy as np

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]


class _InPlace:
    """Per-key state (zeros like each parameter, made on the first update, as the textbook's
    ``v``, ``h``, ``m``) and two scratch arrays per key, reused across steps."""

    state_names: ClassVar[tuple[str, ...]] = ()  # attributes holding per-key state dicts

    def __init__(self):
        self._bufs = {}
        for name in self.state_names:
            setattr(self, name, None)

    def update(self, params, grads):
        """Update every array of ``params`` in place from ``grads`` (dicts with the same keys)."""
        for name in self.state_names:
            if getattr(self, name) is None:
                setattr(self, name, {key: np.zeros_like(val) for key, val in params.items()})
        for key, p in params.items():
            g = grads[key]
            state = [getattr(self, name)[key] for name in self.state_names]
            self._step(p, g, *self._scratch(key, p, g), *state)

    def _scratch(self, key, p, g):
        """Two arrays of the shape of ``p``, dtype ``np.result_type(p, g)``."""
        dtype = np.result_type(p, g)
        bufs = self._bufs.get(key)
        if bufs is None or bufs[0].shape != p.shape or bufs[0].dtype != dtype:
            bufs = self._bufs[key] = (np.empty(p.shape, dtype), np.empty(p.shape, dtype))
        return bufs


def _scaled_step(p, g, h, lr, num, den):
    """``p -= lr * g / (sqrt(h) + 1e-7)`` (AdaGrad, RMSprop), through scratch ``num``, ``den``."""
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

    def _step(self, p, g, tmp, _):
        p -= np.multiply(self.lr, g, out=tmp)


class Momentum(_InPlace):
    """``v = momentum * v - lr * g; p += v``."""

    state_names = ("v",)

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__()
        self.lr, self.momentum = lr, momentum

    def _step(self, p, g, tmp, _, v):
        v *= self.momentum
        v -= np.multiply(self.lr, g, out=tmp)
        p += v


class Nesterov(_InPlace):
    """Nesterov momentum in the textbook's form.

    ``v = momentum * v - lr * g; p += momentum**2 * v - (1 + momentum) * lr * g``.
    """

    state_names = ("v",)

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__()
        self.lr, self.momentum = lr, momentum

    def _step(self, p, g, tmp, _, v):
        m = self.momentum
        v *= m
        v -= np.multiply(self.lr, g, out=tmp)
        p += np.multiply(m * m, v, out=tmp)
        p -= np.multiply((1 + m) * self.lr, g, out=tmp)


class AdaGrad(_InPlace):
    """``h += g * g; p -= lr * g / (sqrt(h) + 1e-7)``."""

    state_names = ("h",)

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = lr

    def _step(self, p, g, num, den, h):
        h += np.multiply(g, g, out=num)
        _scaled_step(p, g, h, self.lr, num, den)


class RMSprop(_InPlace):
    """``h = decay_rate * h + (1 - decay_rate) * g * g; p -= lr * g / (sqrt(h) + 1e-7)``."""

    state_names = ("h",)

    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__()
        self.lr, self.decay_rate = lr, decay_rate

    def _step(self, p, g, num, den, h):
        h *= self.decay_rate
        np.multiply(1 - self.decay_rate, g, out=num)
        h += np.multiply(num, g, out=num)
        _scaled_step(p, g, h, self.lr, num, den)


class Adam(_InPlace):
    """Adam with the bias correction folded into the learning rate, as the textbook writes it.

    Step t (from 1): ``lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)``;
    ``m += (1 - beta1) * (g - m)``; ``v += (1 - beta2) * (g**2 - v)``;
    ``p -= lr_t * m / (sqrt(v) + 1e-7)``.
    """

    state_names = ("m", "v")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        super().__init__()
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0

    def update(self, params, grads):
        self.iter += 1
        self._lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        super().update(params, grads)

    def _step(self, p, g, a, c, m, v):
        np.subtract(g, m, out=a)
        m += np.multiply(1 - self.beta1, a, out=a)
        np.square(g, out=a)
        a -= v
        v += np.multiply(1 - self.beta2, a, out=a)
        np.multiply(self._lr_t, m, out=a)
        np.sqrt(v, out=c)
        c += 1e-7
        a /= c
        p -= a
