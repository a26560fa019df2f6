"""``optimizers``: SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adadelta, Adam, Nadam, AdamW.

The set-up of the textbook's ``ch06/optimizer_compare_mnist.py``: MultiLayerNet
784-100-100-100-100-10 (ReLU, He initialisation), mini-batches of 128, every optimizer with its
default hyperparameters, which are the textbook's where it has the optimizer (SGD lr 0.01,
Momentum lr 0.01 momentum 0.9, Nesterov lr 0.01, AdaGrad lr 0.01, RMSprop lr 0.01 decay 0.99,
Adam lr 0.001), the training loss recorded at every iteration.

Scaled down: the textbook runs 2,000 iterations on the 60,000 training images (about 4.3
epochs). The default here is 20 epochs of the training set, i.e. 800 iterations on the bundled
5,000 images, so the comparison takes well under two minutes; ``epochs=50`` gives the textbook's
2,000 iterations on the bundled subset, ``epochs=5`` about 2,340 on the full set.
Unlike the textbook (which draws each mini-batch with replacement and gives each optimizer its own
random network), every optimizer here starts from the same weights and sees the same batches.
"""

import numpy as np

from .. import models
from ..optimizers import OPTIMIZERS, get_optimizer
from . import _common, _runner

NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "nadam", "adamw")

COLUMNS = _common.columns(
    ("optimizer", "optimizer", ""),
    ("lr", "lr", "g"),
    ("final_loss", "train loss (last epoch)", ".4f"),
    "train_acc",
    "test_acc",
    "best_test_acc",
    ("best_epoch", "at epoch", "d"),
    "time",
)


class Optimizers(_runner.Experiment):
    """Train the same MLP with each optimizer; loss per iteration, accuracy per epoch.

    Parameters
    ----------
    optimizers : sequence of str
        Names for :func:`fastdl.get_optimizer`, each used with its default hyperparameters.
    hidden : sequence of int
        Hidden layer widths.

    Rows: one per optimizer; series keyed by the optimizer's class name.
    """

    name = "optimizers"
    title = "Optimizers on a 5-layer MLP"
    defaults = dict(epochs=20, batch_size=128, optimizers=NAMES, hidden=(100, 100, 100, 100))
    columns = COLUMNS
    progress = "test acc {test_acc:.4f}"
    plots = ("curves",)

    def configurations(self, settings):
        return list(settings["optimizers"])

    def train(self, config, settings, data):
        (x, t), test = data
        opt = get_optimizer(config)
        model = models.mlp(
            784, tuple(settings["hidden"]), 10, activation="relu", init="he_normal",
            rng=settings["seed"],
        )  # fmt: skip
        s = _common.train(model, opt, x, t, settings, sets={"train": (x, t), "test": test})
        best = int(np.argmax(s["test_acc"]))
        row = {
            "optimizer": type(opt).__name__,
            "lr": opt.lr,
            "final_loss": s["loss"][-1],
            "train_acc": s["train_acc"][-1],
            "test_acc": s["test_acc"][-1],
            "best_test_acc": s["test_acc"][best],
            "best_epoch": best + 1,
            "time": sum(s["epoch_time"]),
        }
        return _runner.Outcome(row["optimizer"], row, s)

    def notes(self, settings, data):
        return (
            f"Optimizers available: {', '.join(OPTIMIZERS)}. "
            "Train loss: mean mini-batch loss of the last epoch."
        )

    def plot_curves(self, rows, series, settings):
        fig, axes = _common.figure(1, 2)
        ax_loss, ax_acc = axes[0]
        for i, (label, s) in enumerate(series.items()):
            color = f"C{i % 10}"
            ax_loss.plot(*_common.smooth(s["iteration_loss"]), color=color, label=label)
            epochs = np.arange(1, len(s["test_acc"]) + 1)
            ax_acc.plot(epochs, s["test_acc"], color=color, label=label)
            ax_acc.plot(epochs, s["train_acc"], color=color, linestyle=":", alpha=0.7)
        ax_loss.set_xlabel("iteration")
        ax_loss.set_ylabel("training loss (moving average of 21)")
        ax_loss.set_ylim(0, 2.5)
        ax_loss.grid(alpha=0.3)
        ax_loss.legend(fontsize="small")
        _common.epochs_axis(ax_acc, "accuracy", "test (solid), train (dotted)")
        ax_acc.legend(fontsize="small")
        return fig


run = Optimizers()
