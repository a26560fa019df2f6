"""``flooding``: the flood level ``b`` of Flooding (Ishida et al., ICML 2020).

Flooding trains on ``|L - b| + b`` instead of the mini-batch loss ``L`` (see
:class:`fastdl.losses.Flooding`): once the training loss falls below ``b``, gradient ascent
pushes it back up, so it floats around ``b`` instead of going to zero. Set-up: the MLP
784-100-100-10 (ReLU, He initialisation), Adam lr 0.001, mini-batches of 100, 30 epochs, one
network per ``b`` in {0, 0.001, 0.005, 0.01, 0.05, 0.1} (``b = 0`` is plain training). All runs
start from the same weights and see the same batches. Losses in the table and plots are the
plain cross-entropy, measured after each epoch in inference mode, not the flooded objective.
"""

import numpy as np

from .. import models
from ..losses import Flooding, SoftmaxCrossEntropy
from ..optimizers import get_optimizer
from . import _common, _runner

LEVELS = (0.0, 0.001, 0.005, 0.01, 0.05, 0.1)

COLUMNS = _common.columns(
    ("b", "b", "g"),
    ("train_loss", "train loss", ".4f"),
    ("test_loss", "test loss", ".4f"),
    ("min_test_loss", "min test loss", ".4f"),
    ("min_test_loss_epoch", "at epoch", "d"),
    "train_acc",
    "test_acc",
    "best_test_acc",
)


class FloodingLevels(_runner.Experiment):
    """Train one MLP per flood level ``b``; train/test loss and accuracy per epoch.

    Parameters
    ----------
    optimizer : str
        A name for :func:`fastdl.get_optimizer`.
    lr : float
    levels : sequence of float >= 0
        Flood levels ``b``.
    hidden : sequence of int

    Rows: one per ``b`` (values after the last epoch, plus the minimum test loss and the best
    test accuracy over the epochs); series keyed ``"b=<b>"``.
    """

    name = "flooding"
    title = "Flooding"
    defaults = dict(
        epochs=30, batch_size=100, optimizer="adam", lr=0.001, levels=LEVELS, hidden=(100, 100)
    )
    columns = COLUMNS
    progress = "train loss {train_loss:.4f}, test acc {test_acc:.4f}"
    plots = ("curves",)

    def check(self, settings):
        settings["levels"] = [float(b) for b in settings["levels"]]

    def configurations(self, settings):
        return settings["levels"]

    def train(self, config, settings, data):
        b = config
        (x, t), test = data
        model = models.mlp(784, tuple(settings["hidden"]), 10, rng=settings["seed"])
        s = _common.train(
            model, get_optimizer(settings["optimizer"], lr=settings["lr"]), x, t, settings,
            sets={"train": (x, t), "test": test}, loss=Flooding(SoftmaxCrossEntropy(), b),
        )  # fmt: skip
        low = int(np.argmin(s["test_loss"]))
        row = {
            "b": b,
            "train_loss": s["train_loss"][-1],
            "test_loss": s["test_loss"][-1],
            "min_test_loss": s["test_loss"][low],
            "min_test_loss_epoch": low + 1,
            "train_acc": s["train_acc"][-1],
            "test_acc": s["test_acc"][-1],
            "best_test_acc": max(s["test_acc"]),
        }
        return _runner.Outcome(f"b={b:g}", row, s)

    def notes(self, settings, data):
        return "Losses: plain cross-entropy after the last epoch, in inference mode."

    def plot_curves(self, rows, series, settings):
        fig, axes = _common.figure(2, 2, width=5.0, height=3.4, sharex=True)
        panels = (
            ("train_loss", "train loss"),
            ("test_loss", "test loss"),
            ("train_acc", "train accuracy"),
            ("test_acc", "test accuracy"),
        )
        for ax, (key, ylabel) in zip(axes.flat, panels):
            for i, (label, s) in enumerate(series.items()):
                ax.plot(np.arange(1, len(s[key]) + 1), s[key], color=f"C{i % 10}", label=label)
            _common.epochs_axis(ax, ylabel)
            if key == "train_loss":
                ax.set_yscale("log")
        axes[0, 0].legend(fontsize="small")
        return fig


run = FloodingLevels()
