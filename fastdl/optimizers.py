"""Optimizers with one API for models that expose ``params`` and ``grads`` dicts.

``step(params, grads)`` updates each array of ``params`` *in place* (the arrays are the layers'
own; dict entries are never rebound). In the formulas below ``g`` is the gradient, ``t`` the step
number from 1, ``lr`` this step's learning rate, and operations are elementwise. State arrays
(``m``, ``v``, ...) start at zero in the parameter's dtype, so float32 models stay float32. Every
optimizer takes ``lr`` and a keyword-only ``schedule`` (see :class:`Optimizer` and
:mod:`fastdl.schedules`); :func:`get_optimizer` builds one by name.
Each rule runs as one fused pass over each parameter, a kernel of :mod:`fastdl.functional`
(``sgd_update``, ``adam_update``...) on the selected backend.

Examples
--------
>>> opt = Adam(lr=1e-3)
>>> opt.step(model.params, model.grads)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from typing import Any, ClassVar

from . import functional as F
from ._optimizer import Optimizer

__all__ = [
    "OPTIMIZERS",
    "AdaGrad",
    "Adadelta",
    "Adam",
    "AdamW",
    "Momentum",
    "Nadam",
    "Nesterov",
    "Optimizer",
    "RMSprop",
    "SGD",
    "get_optimizer",
]


class SGD(Optimizer):
    """Stochastic gradient descent: ``W -= lr * g``.

    Parameters
    ----------
    lr : float > 0
    schedule : callable, optional
    """

    def __init__(self, lr: float = 0.01, *, schedule: Callable[[int], float] | None = None) -> None:
        super().__init__(lr, schedule=schedule)

    def _update(self, key, p, g):
        F.sgd_update(p, g, self.lr)


class Momentum(Optimizer):
    """Momentum SGD, the textbook's form: ``v = momentum * v - lr * g; W += v``.

    PyTorch's ``SGD(momentum=...)`` keeps ``b = momentum * b + g; W -= lr * b``: the same for a
    constant ``lr`` (``v = -lr * b``). Under a schedule they differ: ``v`` carries the past
    learning rates, while PyTorch rescales all of ``b`` by the current one.

    Parameters
    ----------
    lr : float > 0
    momentum : float in [0, 1)
    schedule : callable, optional
    """

    _rules: ClassVar[dict[str, str]] = {"momentum": "unit"}
    momentum: float
    _slots: ClassVar[tuple[str, ...]] = ("v",)

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.9,
        *,
        schedule: Callable[[int], float] | None = None,
    ) -> None:
        super().__init__(lr, schedule=schedule, momentum=momentum)

    def _update(self, key, p, g, v):
        F.momentum_update(p, g, v, self.lr, self.momentum)


class Nesterov(Momentum):
    """Nesterov momentum: ``v = momentum * v - lr * g; W += momentum * v - lr * g``.

    That is Bengio et al.'s (arXiv:1212.0901) ``W += momentum**2 * v_old - (1 + momentum) * lr
    * g``, and PyTorch's ``SGD(momentum=..., nesterov=True)`` (``b = momentum * b + g;
    W -= lr * (g + momentum * b)``) with ``v = -lr * b`` for a constant ``lr``. The textbook's
    code adds ``momentum**2`` times the *updated* ``v``, a different method: its first step is
    ``-(1 + momentum + momentum**2) * lr * g`` instead of ``-(1 + momentum) * lr * g``.

    Parameters
    ----------
    lr : float > 0
    momentum : float in [0, 1)
    schedule : callable, optional
    """

    def _update(self, key, p, g, v):
        F.nesterov_update(p, g, v, self.lr, self.momentum)


class AdaGrad(Optimizer):
    """AdaGrad: ``h += g * g; W -= lr * g / (sqrt(h) + eps)``.

    As the textbook, and PyTorch's ``Adagrad`` with ``lr_decay=0``,
    ``initial_accumulator_value=0`` (its default ``eps`` is 1e-10).

    Parameters
    ----------
    lr : float > 0
    eps : float > 0
    schedule : callable, optional
    """

    _rules: ClassVar[dict[str, str]] = {"eps": "positive"}
    eps: float
    _slots: ClassVar[tuple[str, ...]] = ("h",)

    def __init__(
        self, lr: float = 0.01, eps: float = 1e-7, *, schedule: Callable[[int], float] | None = None
    ) -> None:
        super().__init__(lr, schedule=schedule, eps=eps)

    def _update(self, key, p, g, h):
        F.adagrad_update(p, g, h, self.lr, self.eps)


class RMSprop(Optimizer):
    """RMSprop: ``h = rho * h + (1 - rho) * g * g; W -= lr * g / (sqrt(h) + eps)``.

    ``rho`` is the textbook's ``decay_rate`` and PyTorch's ``alpha``; ``eps`` is placed as in
    both (PyTorch's default is 1e-8).

    Parameters
    ----------
    lr : float > 0
    rho : float in [0, 1)
    eps : float > 0
    schedule : callable, optional
    """

    _rules: ClassVar[dict[str, str]] = {"rho": "unit", "eps": "positive"}
    rho: float
    eps: float
    _slots: ClassVar[tuple[str, ...]] = ("h",)

    def __init__(
        self,
        lr: float = 0.01,
        rho: float = 0.99,
        eps: float = 1e-7,
        *,
        schedule: Callable[[int], float] | None = None,
    ) -> None:
        super().__init__(lr, schedule=schedule, rho=rho, eps=eps)

    def _update(self, key, p, g, h):
        F.rmsprop_update(p, g, h, self.lr, self.rho, self.eps)


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012) with a learning-rate factor, exactly as PyTorch's ``Adadelta``::

        s = rho * s + (1 - rho) * g * g
        d = sqrt(u + eps) / sqrt(s + eps) * g
        u = rho * u + (1 - rho) * d * d
        W -= lr * d

    ``lr=1.0`` is Zeiler's method.

    Parameters
    ----------
    lr : float > 0
    rho : float in [0, 1)
    eps : float > 0
    schedule : callable, optional
    """

    _rules: ClassVar[dict[str, str]] = {"rho": "unit", "eps": "positive"}
    rho: float
    eps: float
    _slots: ClassVar[tuple[str, ...]] = ("s", "u")

    def __init__(
        self,
        lr: float = 1.0,
        rho: float = 0.95,
        eps: float = 1e-6,
        *,
        schedule: Callable[[int], float] | None = None,
    ) -> None:
        super().__init__(lr, schedule=schedule, rho=rho, eps=eps)

    def _update(self, key, p, g, s, u):
        F.adadelta_update(p, g, s, u, self.lr, self.rho, self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as PyTorch's ``Adam``::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        W -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    i.e. ``W -= lr * m_hat / (sqrt(v_hat) + eps)``. The textbook adds ``eps`` to ``sqrt(v)``
    before the bias correction, which differs only while ``v`` is tiny.

    Parameters
    ----------
    lr : float > 0
    beta1, beta2 : float in [0, 1)
    eps : float > 0
    schedule : callable, optional
    """

    _rules: ClassVar[dict[str, str]] = {"beta1": "unit", "beta2": "unit", "eps": "positive"}
    beta1: float
    beta2: float
    eps: float
    _slots: ClassVar[tuple[str, ...]] = ("m", "v")

    def __init__(
        self,
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        *,
        schedule: Callable[[int], float] | None = None,
    ) -> None:
        super().__init__(lr, schedule=schedule, beta1=beta1, beta2=beta2, eps=eps)

    def _begin_step(self):
        t = self.iterations
        self._step_size = self.lr / (1.0 - self.beta1**t)
        self._sqrt_bc2 = math.sqrt(1.0 - self.beta2**t)

    def _decay(self, key):
        """The factor ``p`` is multiplied by before the update: 1 (AdamW decays)."""
        return 1.0

    def _update(self, key, p, g, m, v):
        args = (self._step_size, self.beta1, self.beta2, self._sqrt_bc2, self.eps)
        F.adam_update(p, g, m, v, *args, self._decay(key))


def _is_weight(key: str) -> bool:
    """AdamW's default ``decay``: the part after the last dot is ``W`` or ``W<digits>``."""
    name = key.rsplit(".", 1)[-1]
    return name == "W" or (name[:1] == "W" and name[1:].isdigit())


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch's ``AdamW``.

    Before the :class:`Adam` update, ``W -= lr * weight_decay * W`` for the parameters chosen
    by ``decay``; the decay bypasses ``m`` and ``v``.

    Parameters
    ----------
    lr : float > 0
    beta1, beta2 : float in [0, 1)
    eps : float > 0
    weight_decay : float >= 0
    decay : callable or collection of str, optional
        The parameters that decay: a predicate ``decay(key) -> bool`` or a collection of keys.
        Default: the weights, i.e. keys ``"W"``, ending in ``".W"`` (``"0.W"``) or the
        textbook's ``"W1"``, ``"W2"``...; biases and BatchNorm's ``gamma``/``beta`` do not
        decay. Not saved by :meth:`~Optimizer.state_dict`.
    schedule : callable, optional
    """

    _rules: ClassVar[dict[str, str]] = {**Adam._rules, "weight_decay": "nonnegative"}
    weight_decay: float

    def __init__(
        self,
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        *,
        decay: Callable[[str], bool] | Collection[str] | None = None,
        schedule: Callable[[int], float] | None = None,
    ) -> None:
        hyper = {"beta1": beta1, "beta2": beta2, "eps": eps, "weight_decay": weight_decay}
        Optimizer.__init__(self, lr, schedule=schedule, **hyper)
        if isinstance(decay, str):
            raise TypeError("decay must be a predicate or a collection of keys, not a str")
        if decay is None:
            decay = _is_weight
        elif not callable(decay):
            decay = frozenset(decay).__contains__
        self.decay = decay

    def _decay(self, key):
        return 1.0 - self.lr * self.weight_decay if self.decay(key) else 1.0


class Nadam(Optimizer):
    """Nadam (Dozat 2016) with its momentum schedule, as PyTorch's ``NAdam``::

        mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay)),  P_t = mu_1 * ... * mu_t
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        W -= lr * ((1 - mu_t) / (1 - P_t) * g + mu_(t+1) / (1 - P_(t+1)) * m)
                / (sqrt(v / (1 - beta2**t)) + eps)

    ``momentum_decay=0.004`` is PyTorch's default and Dozat's value (old Keras's
    ``schedule_decay``).

    Parameters
    ----------
    lr : float > 0
    beta1, beta2 : float in [0, 1)
    eps : float > 0
    momentum_decay : float >= 0
    schedule : callable, optional
    """

    _rules: ClassVar[dict[str, str]] = {
        "beta1": "unit",
        "beta2": "unit",
        "eps": "positive",
        "momentum_decay": "nonnegative",
    }
    beta1: float
    beta2: float
    eps: float
    momentum_decay: float
    _slots: ClassVar[tuple[str, ...]] = ("m", "v")
    _scalars: ClassVar[tuple[str, ...]] = ("mu_product",)

    def __init__(
        self,
        lr: float = 0.002,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        momentum_decay: float = 4e-3,
        *,
        schedule: Callable[[int], float] | None = None,
    ) -> None:
        hyper = {"beta1": beta1, "beta2": beta2, "eps": eps, "momentum_decay": momentum_decay}
        super().__init__(lr, schedule=schedule, **hyper)
        self.mu_product = 1.0

    def _mu(self, t):
        return self.beta1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def _begin_step(self):
        t = self.iterations
        mu, mu_next = self._mu(t), self._mu(t + 1)
        self.mu_product *= mu
        self._coef_g = self.lr * (1.0 - mu) / (1.0 - self.mu_product)
        self._coef_m = self.lr * mu_next / (1.0 - self.mu_product * mu_next)
        self._bc2 = 1.0 - self.beta2**t

    def _update(self, key, p, g, m, v):
        args = (self._coef_g, self._coef_m, self.beta1, self.beta2, self._bc2, self.eps)
        F.nadam_update(p, g, m, v, *args)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.__name__.lower(): cls
    for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adadelta, Adam, AdamW, Nadam)
}


def get_optimizer(name: str, **kwargs: Any) -> Optimizer:
    """Build an optimizer by name (case-insensitive), e.g. ``get_optimizer("adam", lr=1e-3)``.

    Parameters
    ----------
    name : str
        A key of ``OPTIMIZERS``: sgd, momentum, nesterov, adagrad, rmsprop, adadelta, adam,
        adamw, nadam.
    **kwargs
        Passed to the optimizer's constructor.
    """
    if not isinstance(name, str):
        raise TypeError(f"optimizer name must be a str, got {type(name).__name__}")
    cls = OPTIMIZERS.get(name.lower())
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    return cls(**kwargs)
