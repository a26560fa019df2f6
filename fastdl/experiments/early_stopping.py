"""``early-stopping``: training with and without early stopping, for several patiences.

Not a textbook script (the textbook mentions early stopping only in passing). Set-up: the MLP
784-100-100-10 (ReLU, He initialisation), Adam lr 0.001, mini-batches of 100, up to 40 epochs,
10% of the training images held out for validation (the last 10%, never the test set).
:class:`fastdl.callbacks.EarlyStopping` monitors the validation loss and restores the weights of
the best epoch; the test accuracy is that of the model ``fit`` leaves behind (restored, or after
the last epoch without early stopping). All runs start from the same weights and see the same
batches, so each early-stopped run is a prefix of the run without early stopping.
"""

import numpy as np

from .. import models
from ..callbacks import EarlyStopping
from ..optimizers import get_optimizer
from ..training import evaluate, split_validation
from . import _common

COLUMNS = [
    ("config", "configuration", ""),
    ("epochs_run", "epochs run", "d"),
    ("stopped_epoch", "stopped after epoch", "d"),
    ("best_epoch", "best epoch", "d"),
    ("best_val_loss", "best val loss", ".4f"),
    ("final_val_loss", "val loss, last epoch", ".4f"),
    ("test_acc", "test acc of returned model (%)", "pct"),
    ("time", "train time (s)", ".1f"),
]


def run(
    *,
    dataset="mnist",
    data=None,
    epochs=40,
    seed=0,
    out=_common.DEFAULT_OUT,
    train_size=None,
    batch_size=100,
    lr=0.001,
    patience=(2, 5, 10),
    validation_split=0.1,
    hidden=(100, 100),
    workers=None,
    verbose=False,
):
    """Train without early stopping and with ``EarlyStopping(patience=p)`` for each ``p``.

    Parameters
    ----------
    dataset, data, seed, out, train_size, batch_size, workers, verbose
        As for :func:`fastdl.experiments.optimizers.run`.
    epochs : int
        Maximum number of epochs.
    lr : float
        Adam learning rate.
    patience : sequence of int >= 0
    validation_split : float in (0, 1)
        Fraction of the training images held out (the last ones) for the validation loss.
    hidden : sequence of int

    Returns
    -------
    ExperimentResult
        One row per configuration (``"no early stopping"``, ``"patience 2"``...); epochs are
        1-based; ``stopped_epoch`` is None when training ran to ``epochs``. Series keyed by
        configuration, with ``val_loss``/``val_acc`` besides the train and test metrics.
    """
    settings = dict(
        dataset=dataset, data=data, epochs=epochs, seed=seed, out=out, train_size=train_size,
        batch_size=batch_size, lr=lr, patience=list(patience), validation_split=validation_split,
        hidden=list(hidden), workers=_common.resolve_workers(workers, len(patience) + 1),
    )  # fmt: skip
    run_ = _common.Run("early-stopping", settings, verbose)
    (x, t), test = _common.load_data(dataset, data, train_size)
    train, val = split_validation(x, t, validation_split)
    tasks = [(p, settings) for p in [None, *patience]]
    rows, series = [], {}
    for s, row in _common.map_tasks(_train, tasks, (train, val, test), settings["workers"]):
        series[row["config"]] = s
        rows.append(row)
        run_.log(f"{row['config']}: {row['epochs_run']} epochs, best epoch {row['best_epoch']}")
    return run_.finish(
        rows,
        series,
        COLUMNS,
        [lambda r: _plot(r, rows, series)],
        title="Early stopping",
        notes=f"{len(train[0])} training and {len(val[0])} validation images (the last "
        f"{validation_split:.0%} of the training data). Epochs are 1-based. With early stopping "
        "the returned model has the weights of the best epoch (lowest validation loss).",
    )


def _train(task, shared):
    """One configuration (``patience`` None: no early stopping): returns (series, row)."""
    patience, st = task
    (x, t), val, (x_test, t_test) = shared
    cbs = (
        [] if patience is None else [EarlyStopping("val_loss", patience, restore_best_weights=True)]
    )
    model = models.mlp(784, tuple(st["hidden"]), 10, rng=st["seed"])
    _, s = _common.train(
        model,
        get_optimizer("adam", lr=st["lr"]),
        x,
        t,
        epochs=st["epochs"],
        batch_size=st["batch_size"],
        seed=st["seed"],
        sets={"train": (x, t), "test": (x_test, t_test)},
        callbacks=cbs,
        validation_data=val,
    )
    if patience is None:
        best, stopped = int(np.argmin(s["val_loss"])), None
    else:
        best, stopped = cbs[0].best_epoch, cbs[0].stopped_epoch
    row = {
        "config": "no early stopping" if patience is None else f"patience {patience}",
        "patience": patience,
        "epochs_run": len(s["val_loss"]),
        "stopped_epoch": None if stopped is None else stopped + 1,
        "best_epoch": best + 1,
        "best_val_loss": s["val_loss"][best],
        "final_val_loss": s["val_loss"][-1],
        "test_acc": evaluate(model, x_test, t_test)[1],
        "time": sum(s["epoch_time"]),
    }
    return s, row


def _plot(run_, rows, series):
    fig, axes = _common.figure(1, 2, width=5.5)
    ax_loss, ax_acc = axes[0]
    full = series[rows[0]["config"]]
    epochs = np.arange(1, len(full["val_loss"]) + 1)
    ax_loss.plot(epochs, full["train_loss"], color="0.5", label="train")
    ax_loss.plot(epochs, full["val_loss"], color="k", label="validation")
    ax_acc.plot(epochs, full["test_acc"], color="k", label="test, every epoch")
    for i, row in enumerate(rows[1:]):
        style = {"color": f"C{i % 10}", "markersize": max(3, 11 - 2 * i)}  # coinciding dots show
        if row["stopped_epoch"] is not None:
            ax_loss.axvline(row["stopped_epoch"], color=style["color"], linestyle=":")
        ax_loss.plot(row["best_epoch"], row["best_val_loss"], "o", label=row["config"], **style)
        ax_acc.plot(row["best_epoch"], row["test_acc"], "o", label=row["config"], **style)
    _common.epochs_axis(ax_loss, "loss", "best epoch (dot), stop (dotted line)")
    _common.epochs_axis(ax_acc, "test accuracy", "returned model (dot)")
    ax_loss.legend(fontsize="small")
    ax_acc.legend(fontsize="small")
    return _common.save(fig, run_.path("curves.png"))
