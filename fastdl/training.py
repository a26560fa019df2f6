"""Training loop: ``fit``, ``evaluate``, ``predict`` and the ``History`` they return."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

from . import losses as _losses
from ._optimizer import Optimizer
from ._typing import FloatArray, IntArray, Loss
from .callbacks import Callback
from .layers import Layer
from .regularizers import L1, L2


class History:
    """Per-epoch metrics of a ``fit`` run.

    Attributes
    ----------
    history : dict of list
        ``loss``, ``acc``, ``val_loss``, ``val_acc`` (None without validation data), ``time``
        (seconds per epoch), one entry per epoch.
    iteration_loss : list of float
        The training loss of every mini-batch, in order.
    epochs : int
        Epochs run (fewer than asked for when a callback stopped training).
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float | None]] = {
            "loss": [],
            "acc": [],
            "val_loss": [],
            "val_acc": [],
            "time": [],
        }
        self.iteration_loss: list[float] = []

    @property
    def epochs(self) -> int:
        return len(self.history["loss"])

    def append(self, logs: Mapping[str, float | None]) -> None:
        for key in self.history:
            self.history[key].append(logs.get(key))

    def __repr__(self) -> str:
        last = {k: v[-1] for k, v in self.history.items() if v}
        return f"History(epochs={self.epochs}, last={last})"


class _Trainer:
    """What callbacks see: the model and a ``stop_training`` flag."""

    def __init__(self, model: Layer) -> None:
        self.model = model
        self.stop_training = False


def _check_xy(
    x: npt.ArrayLike, y: npt.ArrayLike, name: str = "x"
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.dtype.kind != "f":
        raise TypeError(f"{name} must be a float array, got dtype {x.dtype}")
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{name} and its targets must have a batch axis, got {x.shape}, {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"{name} has {len(x)} samples but its targets have {len(y)}")
    if len(x) == 0:
        raise ValueError(f"{name} is empty")
    return x, y


def _check_positive_int(name: str, val: Any) -> None:
    if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
        raise ValueError(f"{name} must be a positive int, got {val!r}")


def split_validation(
    x: npt.NDArray[Any], y: npt.NDArray[Any], fraction: float
) -> tuple[tuple[npt.NDArray[Any], npt.NDArray[Any]], tuple[npt.NDArray[Any], npt.NDArray[Any]]]:
    """Hold out the last ``fraction`` of the samples: ``((x_train, y_train), (x_val, y_val))``."""
    n_val = int(round(len(x) * fraction))
    if not 0 < n_val < len(x):
        raise ValueError(
            f"validation_split={fraction} holds out {n_val} of {len(x)} samples; "
            f"both parts must be non-empty"
        )
    return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:])


def _batches(n: int, batch_size: int, order: IntArray) -> Iterator[IntArray]:
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def fit(
    model: Layer,
    optimizer: Optimizer,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    epochs: int = 10,
    batch_size: int = 100,
    *,
    loss: str | Loss = "softmax_cross_entropy",
    validation_split: float = 0.0,
    validation_data: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    shuffle: bool = True,
    seed: int | None = 0,
    callbacks: Sequence[Callback] = (),
    regularizer: L2 | L1 | None = None,
    verbose: int = 1,
    check_finite: bool = True,
) -> History:
    """Train ``model`` with mini-batch gradient descent.

    Parameters
    ----------
    model : Sequential (or any layer with params/grads/buffers)
    optimizer : fastdl.optimizers.Optimizer
    x : ndarray of shape (N, ...)
    y : ndarray of shape (N,) int labels, or (N, K) one-hot/targets
    epochs, batch_size : int >= 1
    loss : str or loss object
        Name for :func:`fastdl.losses.get_loss`, or an object with ``forward(y, t)`` and
        ``backward()``. ``val_loss`` is this loss too, except for a
        :class:`fastdl.losses.Flooding`: there it is the wrapped loss, since the flooded
        ``|L - b| + b`` rises when ``L`` falls below ``b`` and would mislead early stopping.
    validation_split : float in [0, 1)
        Fraction of ``x`` (the last samples, before shuffling) held out for validation.
    validation_data : (x_val, y_val), optional
        Takes precedence over ``validation_split``.
    shuffle : bool
        Reshuffle the training samples every epoch (with a generator seeded by ``seed``).
    seed : int
    callbacks : sequence of Callback
    regularizer : fastdl.regularizers.L2 or L1, optional
        Its penalty is added to the reported loss and its gradient to the weights' grads.
    verbose : int
        0 silent; 1 a tqdm progress bar per epoch.
    check_finite : bool
        Stop at the first non-finite training loss with a ``FloatingPointError`` naming the epoch
        and the batch (its ``history`` attribute holds the epochs completed); ``False`` trains on.

    Returns
    -------
    History
    """
    x, y = _check_xy(x, y)
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(
            f"optimizer must be an optimizer object such as fastdl.get_optimizer('adam'), "
            f"got {optimizer!r}"
        )
    _check_positive_int("epochs", epochs)
    _check_positive_int("batch_size", batch_size)
    if not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
    x_val: npt.NDArray[Any] | None
    y_val: Any  # set with x_val
    if validation_data is not None:
        x_val, y_val = _check_xy(*validation_data, name="validation_data x")
    elif validation_split > 0:
        (x, y), (x_val, y_val) = split_validation(x, y, validation_split)
    else:
        x_val = y_val = None
    loss_fn = _losses.get_loss(loss)
    val_loss_fn = loss_fn.loss if isinstance(loss_fn, _losses.Flooding) else loss_fn
    rng = np.random.default_rng(seed)
    skip_dx = getattr(model, "accepts_input_grad", False)
    history, trainer = History(), _Trainer(model)
    for cb in callbacks:
        cb.on_train_begin(trainer)
    for epoch in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
        batches = _batches(len(x), batch_size, order)
        total = -(-len(x) // batch_size)
        bar = tqdm(
            batches,
            total=total,
            desc=f"epoch {epoch + 1}/{epochs}",
            disable=verbose < 1,
            leave=False,
        )
        seen = correct = 0
        loss_sum = 0.0
        for batch, idx in enumerate(bar):
            xb, yb = x[idx], y[idx]
            out = model.forward(xb, train=True)
            batch_loss = loss_fn.forward(out, yb)
            if check_finite and not math.isfinite(batch_loss):
                exc = FloatingPointError(
                    _diverged(batch_loss, epoch, epochs, batch, total, optimizer)
                )
                exc.history = history  # type: ignore[attr-defined]  # documented above
                raise exc
            if skip_dx:  # nothing needs the gradient of the input batch
                cast(Any, model).backward(loss_fn.backward(), input_grad=False)
            else:
                model.backward(loss_fn.backward())
            grads, params = model.grads, model.params
            if regularizer is not None:
                batch_loss += regularizer.penalty(params)
                regularizer.add_grad(params, grads)
            optimizer.step(params, grads)
            history.iteration_loss.append(batch_loss)
            for cb in callbacks:
                cb.on_batch_end(trainer, batch, {"loss": batch_loss})
            if trainer.stop_training:
                break
            loss_sum += batch_loss * len(idx)
            correct += _correct(out, yb)
            seen += len(idx)
            if not bar.disable:  # redrawn at tqdm's own rate (and at the epoch's end)
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", refresh=seen == len(x))
        logs = {"loss": loss_sum / seen, "acc": correct / seen}
        if x_val is not None:
            logs["val_loss"], logs["val_acc"] = evaluate(
                model, x_val, y_val, loss=val_loss_fn, batch_size=batch_size
            )
        logs["time"] = time.perf_counter() - start
        history.append(logs)
        if verbose:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in logs.items() if v is not None)
            tqdm.write(f"epoch {epoch + 1}/{epochs}: {shown}")
        for cb in callbacks:
            cb.on_epoch_end(trainer, epoch, logs)
        if trainer.stop_training:
            break
    for cb in callbacks:
        cb.on_train_end(trainer)
    return history


def _diverged(
    loss: float, epoch: int, epochs: int, batch: int, batches: int, optimizer: Optimizer
) -> str:
    """The message of ``fit``'s error at the first non-finite loss."""
    lr = getattr(optimizer, "lr", None)
    return (
        f"fit: the training loss is {loss} at epoch {epoch + 1}/{epochs}, batch "
        f"{batch + 1}/{batches}: training diverged. The likely cause is a learning rate too "
        f"large for this model (lr={lr}); lower it, or check the data for inf/NaN. "
        f"Pass check_finite=False to train on regardless."
    )


def _correct(out: npt.NDArray[Any], t: npt.NDArray[Any]) -> int:
    """Number of correct predictions: argmax of ``out`` vs labels or one-hot ``t``."""
    labels = t.argmax(axis=1) if t.ndim == 2 else t
    return int((out.argmax(axis=1) == labels).sum())


def predict(model: Layer, x: npt.ArrayLike, batch_size: int = 1000) -> FloatArray:
    """Network outputs in inference mode (``train=False``), computed in batches.

    Returns
    -------
    ndarray of shape (N, ...) as the model's last layer gives
    """
    x = np.asarray(x)
    _check_positive_int("batch_size", batch_size)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"predict: x must be a non-empty batch (N, ...), got shape {x.shape}")
    outs = [model.forward(x[i : i + batch_size], train=False) for i in range(0, len(x), batch_size)]
    return np.concatenate(outs)


def evaluate(
    model: Layer,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    loss: str | Loss = "softmax_cross_entropy",
    batch_size: int = 1000,
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``(x, y)`` in inference mode.

    Returns
    -------
    (loss, accuracy) : (float, float)
    """
    x, y = _check_xy(x, y)
    loss_fn = _losses.get_loss(loss)
    out = predict(model, x, batch_size)
    return float(loss_fn.forward(out, y)), _correct(out, y) / len(x)
