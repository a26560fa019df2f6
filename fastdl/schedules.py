"""Learning-rate schedules for :class:`fastdl.optimizers.Optimizer`.

A schedule is any callable ``schedule(iteration) -> lr``; the optimizer calls it with the number
of steps taken so far (0 for the first step) and uses the result as its ``lr`` for that step.
The classes here validate their arguments, print as the expression that builds them and hold no
state, so ``schedule(t)`` depends on ``t`` only and an optimizer restored from a state dict
continues on the same curve.

Examples
--------
>>> from fastdl.optimizers import SGD
>>> from fastdl.schedules import StepDecay
>>> opt = SGD(0.1, schedule=StepDecay(0.1, drop=0.5, every=1000))
"""

from __future__ import annotations

import math
import numbers

__all__ = ["Constant", "Cosine", "ExponentialDecay", "InverseSqrtWarmup", "Schedule", "StepDecay"]


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _fraction(name: str, value: float) -> float:
    """A factor in (0, 1]."""
    value = _positive(name, value)
    if value > 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return value


class Schedule:
    """Base class: ``__call__`` validates the iteration and defers to :meth:`lr_at`."""

    def __call__(self, iteration: int) -> float:
        """Learning rate for step number ``iteration`` (an int >= 0, the first step is 0)."""
        return self.lr_at(_count("iteration", iteration, 0))

    def lr_at(self, iteration: int) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """``lr`` at every iteration.

    Parameters
    ----------
    lr : float > 0
    """

    def __init__(self, lr: float) -> None:
        self.lr = _positive("lr", lr)

    def lr_at(self, iteration: int) -> float:
        return self.lr


class StepDecay(Schedule):
    """``lr * drop ** (iteration // every)``: multiply by ``drop`` every ``every`` steps.

    Parameters
    ----------
    lr : float > 0
        Learning rate of the first ``every`` steps.
    drop : float in (0, 1]
    every : int >= 1
    """

    def __init__(self, lr: float, drop: float, every: int) -> None:
        self.lr = _positive("lr", lr)
        self.drop = _fraction("drop", drop)
        self.every = _count("every", every, 1)

    def lr_at(self, iteration: int) -> float:
        return self.lr * self.drop ** (iteration // self.every)


class ExponentialDecay(Schedule):
    """``lr * rate ** iteration``.

    Parameters
    ----------
    lr : float > 0
    rate : float in (0, 1]
        Factor per step, e.g. ``0.5 ** (1 / 1000)`` halves the rate every 1000 steps.
    """

    def __init__(self, lr: float, rate: float) -> None:
        self.lr = _positive("lr", lr)
        self.rate = _fraction("rate", rate)

    def lr_at(self, iteration: int) -> float:
        return self.lr * self.rate**iteration


class Cosine(Schedule):
    """Cosine annealing from ``lr`` to ``min_lr`` over ``total`` steps, then ``min_lr``.

    ``min_lr + (lr - min_lr) * (1 + cos(pi * min(iteration, total) / total)) / 2``
    (Loshchilov & Hutter's SGDR without restarts; PyTorch's ``CosineAnnealingLR`` with
    ``T_max=total``, ``eta_min=min_lr``).

    Parameters
    ----------
    lr : float > 0
    total : int >= 1
    min_lr : float in [0, lr]
    """

    def __init__(self, lr: float, total: int, min_lr: float = 0.0) -> None:
        self.lr = _positive("lr", lr)
        self.total = _count("total", total, 1)
        if isinstance(min_lr, bool) or not isinstance(min_lr, numbers.Real):
            raise TypeError(f"min_lr must be a real number, got {min_lr!r}")
        if not 0 <= min_lr <= self.lr:
            raise ValueError(f"min_lr must be in [0, lr={self.lr!r}], got {min_lr!r}")
        self.min_lr: float = float(min_lr)

    def lr_at(self, iteration: int) -> float:
        frac = min(iteration, self.total) / self.total
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * frac))


class InverseSqrtWarmup(Schedule):
    """Linear warm-up to ``lr`` over ``warmup`` steps, then decay as ``1 / sqrt(step)``.

    ``lr * min(s / warmup, sqrt(warmup / s))`` with ``s = iteration + 1`` (the schedule of
    "Attention Is All You Need" with the peak value given directly): ``lr / warmup`` at the first
    step, ``lr`` at step ``warmup``.

    Parameters
    ----------
    lr : float > 0
        Peak learning rate.
    warmup : int >= 1
    """

    def __init__(self, lr: float, warmup: int) -> None:
        self.lr = _positive("lr", lr)
        self.warmup = _count("warmup", warmup, 1)

    def lr_at(self, iteration: int) -> float:
        s = iteration + 1
        return self.lr * min(s / self.warmup, math.sqrt(self.warmup / s))
