"""Training callbacks: EarlyStopping, ModelCheckpoint and TerminateOnNaN.

A callback gets ``on_train_begin(trainer)``, ``on_batch_end(trainer, batch, logs)`` after every
optimizer step (``logs = {"loss": ...}``), ``on_epoch_end(trainer, epoch, logs)`` and
``on_train_end(trainer)``; ``trainer.model`` is the model, ``trainer.stop_training = True`` ends
training (after the current batch), ``logs`` at an epoch's end holds its metrics (``loss``,
``acc``, ``val_loss``, ``val_acc``, ``time``). A custom training loop may call the same hooks.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._typing import FloatArray


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, trainer: Any) -> None:
        pass

    def on_batch_end(self, trainer: Any, batch: int, logs: Mapping[str, Any]) -> None:
        pass

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, Any]) -> None:
        pass

    def on_train_end(self, trainer: Any) -> None:
        pass


class TerminateOnNaN(Callback):
    """Stop training at the first non-finite loss (``fit`` raises there unless
    ``check_finite=False``; this callback stops instead, and serves custom loops).

    A custom loop calls ``on_batch_end(trainer, batch, {"loss": loss})`` after each step and
    stops when ``trainer.stop_training`` is set; any object with that attribute will do.

    Attributes
    ----------
    stopped : (int or None, int or None)
        ``(epoch, batch)`` where a non-finite loss was seen (epoch None in ``on_batch_end``
        before the first ``on_epoch_end``), or ``(None, None)``.
    """

    def __init__(self) -> None:
        self.stopped: tuple[int | None, int | None] = (None, None)
        self._epoch = 0

    def on_train_begin(self, trainer: Any) -> None:
        self.stopped, self._epoch = (None, None), 0

    def on_batch_end(self, trainer: Any, batch: int, logs: Mapping[str, Any]) -> None:
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self.stopped = (self._epoch, batch)
            trainer.stop_training = True

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, Any]) -> None:
        self._epoch = epoch + 1
        for key in ("loss", "val_loss"):
            if logs.get(key) is not None and not math.isfinite(logs[key]):
                self.stopped = (epoch, self.stopped[1])
                trainer.stop_training = True


class _Monitor:
    """Tracks the best value of one metric; ``mode='auto'`` minimises losses, maximises acc."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta!r}")
        self.monitor, self.min_delta = monitor, float(min_delta)
        self.sign = -1.0 if (mode == "max" or (mode == "auto" and "acc" in monitor)) else 1.0

    def value(self, logs: Mapping[str, Any]) -> float:
        if self.monitor not in logs or logs[self.monitor] is None:
            available = sorted(k for k, v in logs.items() if v is not None)
            raise KeyError(
                f"monitored metric {self.monitor!r} is not logged; available: {available} "
                f"(val_* metrics need validation_split or validation_data)"
            )
        return float(logs[self.monitor])

    def improved(self, value: float, best: float) -> bool:
        """True if ``value`` beats ``best`` by more than ``min_delta``."""
        return self.sign * (best - value) > self.min_delta


class EarlyStopping(Callback, _Monitor):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` in more than
    ``patience`` epochs in a row.

    With ``patience=2`` and the best value at epoch 3, epochs 4 and 5 are tolerated and training
    stops after epoch 6 if that one has not improved either (``stopped_epoch == 6``); PyTorch's
    ``ReduceLROnPlateau`` counts the same way.

    Parameters
    ----------
    monitor : str
        ``"val_loss"`` (default), ``"val_acc"``, ``"loss"`` or ``"acc"``.
    patience : int >= 0
    min_delta : float >= 0
    mode : {"auto", "min", "max"}
    restore_best_weights : bool
        At the end, copy back the parameters and buffers of the best epoch. A non-finite
        monitored value or non-finite weights never count as the best, so non-finite weights
        are never restored (and nothing is, if no epoch was finite).

    Attributes
    ----------
    best_epoch : int or None
        0-based epoch with the best value.
    stopped_epoch : int or None
        0-based epoch after which training stopped early (None if it ran to the end).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        _Monitor.__init__(self, monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 0:
            raise ValueError(f"patience must be an int >= 0, got {patience!r}")
        self.patience: int = int(patience)
        self.restore_best_weights: bool = bool(restore_best_weights)

    def on_train_begin(self, trainer: Any) -> None:
        self.best, self.wait = math.inf, 0
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._best_state: dict[str, FloatArray] | None = None

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, Any]) -> None:
        value = self.value(logs)
        if math.isfinite(value) and (self.best_epoch is None or self.improved(value, self.best)):
            state = _snapshot(trainer.model) if self.restore_best_weights else None
            if state is None or all(np.isfinite(a).all() for a in state.values()):
                self.best, self.best_epoch, self.wait, self._best_state = value, epoch, 0, state
                return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True

    def on_train_end(self, trainer: Any) -> None:
        if self.restore_best_weights and self._best_state is not None:
            _restore(trainer.model, self._best_state)


class ModelCheckpoint(Callback, _Monitor):
    """Save the model (``fastdl.save_model``) after epochs, optionally only when it improved.

    Parameters
    ----------
    path : str or os.PathLike
        May contain ``{epoch}`` (1-based), e.g. ``"ckpt-{epoch:02d}.npz"``.
    monitor, mode, min_delta
        As for :class:`EarlyStopping` (used with ``save_best_only``).
    save_best_only : bool
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        min_delta: float = 0.0,
    ) -> None:
        _Monitor.__init__(self, monitor, mode, min_delta)
        self.path, self.save_best_only = str(path), bool(save_best_only)
        self.saved: list[str] = []
        self.best: float | None = None

    def on_train_begin(self, trainer: Any) -> None:
        self.best, self.saved = None, []

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, Any]) -> None:
        from .serialization import save_model

        if self.save_best_only:
            value = self.value(logs)
            if self.best is not None and not self.improved(value, self.best):
                return
            self.best = value
        path = self.path.format(epoch=epoch + 1)
        save_model(trainer.model, path)
        self.saved.append(path)


def _snapshot(model: Any) -> dict[str, FloatArray]:
    return {k: np.array(v, copy=True) for k, v in {**model.params, **model.buffers}.items()}


def _restore(model: Any, state: Mapping[str, FloatArray]) -> None:
    for k, v in {**model.params, **model.buffers}.items():
        v[...] = state[k]
