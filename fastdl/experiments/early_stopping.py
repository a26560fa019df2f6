"""``early-stopping``: training with and without early stopping, for several patiences.

Not a textbook script (the textbook mentions early stopping only in passing). Set-up: the MLP
784-100-100-10 (ReLU, He initialisation), Adam lr 0.001, mini-batches of 100, up to 40 epochs,
10% of the training images held out for validation (the last 10%, never the test set).
:class:`fastdl.callbacks.EarlyStopping` monitors the validation loss and restores the weights of
the best epoch; the test accuracy is that of the model ``fit`` leaves behind (restored, or after
the last epoch without early stopping). All runs start from the same weights and see the same
batches, so each early-stopped run is a prefix of the run without early stopping.
"""

from typing import Any

import numpy as np

from .. import models
from ..callbacks import EarlyStopping
from ..optimizers import get_optimizer
from ..training import evaluate, split_validation
from . import _common, _runner

COLUMNS = _common.columns(
    ("config", "configuration", ""),
    ("epochs_run", "epochs run", "d"),
    ("stopped_epoch", "stopped after epoch", "d"),
    ("best_epoch", "best epoch", "d"),
    ("best_val_loss", "best val loss", ".4f"),
    ("final_val_loss", "val loss, last epoch", ".4f"),
    ("test_acc", "test acc of returned model (%)", "pct"),
    "time",
)


class EarlyStoppingComparison(_runner.Experiment):
    """Train without early stopping and with ``EarlyStopping(patience=p)`` for each ``p``.

    ``epochs`` is the maximum number of epochs.

    Parameters
    ----------
    lr : float
        Adam learning rate.
    patience : sequence of int >= 0
    validation_split : float in (0, 1)
        Fraction of the training images held out (the last ones) for the validation loss.
    hidden : sequence of int

    Rows: one per configuration (``"no early stopping"``, ``"patience 2"``...); epochs are
    1-based; ``stopped_epoch`` is None when training ran to ``epochs``. Series keyed by
    configuration, with ``val_loss``/``val_acc`` besides the train and test metrics.
    """

    name = "early-stopping"
    title = "Early stopping"
    defaults = dict(
        epochs=40, batch_size=100, lr=0.001, patience=(2, 5, 10), validation_split=0.1,
        hidden=(100, 100),
    )  # fmt: skip
    columns = COLUMNS
    progress = "{epochs_run} epochs, best epoch {best_epoch}"
    plots = ("curves",)

    def load(self, settings):
        """``(train, validation, test)``: the validation set is the end of the training set."""
        (x, t), test = super().load(settings)
        return (*split_validation(x, t, settings["validation_split"]), test)

    def configurations(self, settings):
        return [None, *settings["patience"]]

    def train(self, config, settings, data):
        patience = config  # None: no early stopping
        (x, t), val, (x_test, t_test) = data
        stop = (
            []
            if patience is None
            else [EarlyStopping("val_loss", patience, restore_best_weights=True)]
        )
        model = models.mlp(784, tuple(settings["hidden"]), 10, rng=settings["seed"])
        s = _common.train(
            model, get_optimizer("adam", lr=settings["lr"]), x, t, settings,
            sets={"train": (x, t), "test": (x_test, t_test)}, callbacks=stop,
            validation_data=val,
        )  # fmt: skip
        best: Any  # an int: EarlyStopping sets best_epoch at the first finite epoch
        stopped: int | None
        if patience is None:
            best, stopped = int(np.argmin(s["val_loss"])), None
        else:
            best, stopped = stop[0].best_epoch, stop[0].stopped_epoch
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
        return _runner.Outcome(row["config"], row, s)

    def notes(self, settings, data):
        train, val, _ = data
        return (
            f"{len(train[0])} training and {len(val[0])} validation images (the last "
            f"{settings['validation_split']:.0%} of the training data). Epochs are 1-based. With "
            "early stopping the returned model has the weights of the best epoch (lowest "
            "validation loss)."
        )

    def plot_curves(self, rows, series, settings):
        fig, axes = _common.figure(1, 2, width=5.5)
        ax_loss, ax_acc = axes[0]
        full = series[rows[0]["config"]]
        epochs = np.arange(1, len(full["val_loss"]) + 1)
        ax_loss.plot(epochs, full["train_loss"], color="0.5", label="train")
        ax_loss.plot(epochs, full["val_loss"], color="k", label="validation")
        ax_acc.plot(epochs, full["test_acc"], color="k", label="test, every epoch")
        for i, row in enumerate(rows[1:]):
            style = {
                "color": f"C{i % 10}",
                "markersize": max(3, 11 - 2 * i),
            }  # coinciding dots show
            if row["stopped_epoch"] is not None:
                ax_loss.axvline(row["stopped_epoch"], color=style["color"], linestyle=":")
            ax_loss.plot(row["best_epoch"], row["best_val_loss"], "o", label=row["config"], **style)
            ax_acc.plot(row["best_epoch"], row["test_acc"], "o", label=row["config"], **style)
        _common.epochs_axis(ax_loss, "loss", "best epoch (dot), stop (dotted line)")
        _common.epochs_axis(ax_acc, "test accuracy", "returned model (dot)")
        ax_loss.legend(fontsize="small")
        ax_acc.legend(fontsize="small")
        return fig


run = EarlyStoppingComparison()
