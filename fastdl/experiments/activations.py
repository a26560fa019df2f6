"""``activations``: ReLU, Swish, h-swish, Mish, TanhExp, sigmoid, tanh and GELU on one MLP.

Set-up: the MLP 784-100-50-10 trained with SGD lr 0.1 and mini-batches of 100 (the optimizer
settings of the textbook's chapter-5 ``train_neuralnet.py``), He initialisation for every
activation, 20 epochs by default. For each activation: the final train and test
accuracy, the best test accuracy, the first epoch at which the test accuracy reaches 95%, 97%
and 98% (TS95 / TS97 / TS98; ``-`` when it never does) and the training wall time.
Every activation starts from the same weights and sees the same batches.
"""

import numpy as np

from .. import models
from ..optimizers import get_optimizer
from . import _common, _runner

ACTIVATIONS = {
    "ReLU": "relu",
    "Swish": "swish",
    "h-swish": "hswish",
    "Mish": "mish",
    "TanhExp": "tanhexp",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "GELU": "gelu",
}
THRESHOLDS = (0.95, 0.97, 0.98)

COLUMNS = _common.columns(
    ("activation", "activation", ""),
    "train_acc",
    "test_acc",
    "best_test_acc",
    *((f"ts{round(100 * th)}", f"TS{round(100 * th)}", "d") for th in THRESHOLDS),
    ("time", "wall time (s)", ".1f"),
)


class Activations(_runner.Experiment):
    """Train the MLP once per activation; accuracies, TS95/TS97/TS98 and wall time.

    Parameters
    ----------
    lr : float
        SGD learning rate.
    activations : dict of str -> str
        Label -> fastdl activation name.
    hidden : sequence of int
    init : str or float
        Weight initialiser of every layer.

    Rows: one per activation. ``ts95``, ``ts97``, ``ts98``: 1-based first epoch whose test
    accuracy (series ``test_acc``) is >= 0.95, 0.97, 0.98, or None. ``time``: seconds of
    training (the sum of ``epoch_time``, without the per-epoch evaluation for the curves).
    """

    name = "activations"
    title = "Activation functions on an MLP 784-100-50-10"
    defaults = dict(
        epochs=20, batch_size=100, lr=0.1, activations=ACTIVATIONS, hidden=(100, 50),
        init="he_normal",
    )  # fmt: skip
    columns = COLUMNS
    progress = "test acc {test_acc:.4f} ({time:.1f} s)"
    plots = ("curves",)

    def configurations(self, settings):
        return list(settings["activations"].items())

    def train(self, config, settings, data):
        label, act = config
        (x, t), test = data
        model = models.mlp(
            784, tuple(settings["hidden"]), 10, activation=act, init=settings["init"],
            rng=settings["seed"],
        )  # fmt: skip
        opt = get_optimizer("sgd", lr=settings["lr"])
        s = _common.train(model, opt, x, t, settings, sets={"train": (x, t), "test": test})
        row = {
            "activation": label,
            "train_acc": s["train_acc"][-1],
            "test_acc": s["test_acc"][-1],
            "best_test_acc": max(s["test_acc"]),
        }
        for th in THRESHOLDS:
            row[f"ts{round(100 * th)}"] = _common.first_epoch_reaching(s["test_acc"], th)
        row["time"] = sum(s["epoch_time"])
        return _runner.Outcome(label, row, s)

    def notes(self, settings, data):
        return (
            "TSxx: first epoch (1-based) at which the test accuracy reaches xx%; "
            "'-': never within the run. Wall time: training only."
        )

    def plot_curves(self, rows, series, settings):
        fig, axes = _common.figure(1, 2, width=5.0, height=3.8)
        ax_acc, ax_loss = axes[0]
        for i, (label, s) in enumerate(series.items()):
            epochs = np.arange(1, len(s["test_acc"]) + 1)
            ax_acc.plot(epochs, s["test_acc"], color=f"C{i % 10}", label=label)
            ax_loss.plot(epochs, s["train_loss"], color=f"C{i % 10}", label=label)
        for th in THRESHOLDS:
            ax_acc.axhline(th, color="0.6", linestyle=":", linewidth=0.8)
        _common.epochs_axis(ax_acc, "test accuracy")
        ax_acc.set_ylim(max(0.0, min(min(s["test_acc"]) for s in series.values()) - 0.01), 1.0)
        _common.epochs_axis(ax_loss, "training loss (end of epoch)")
        ax_loss.set_yscale("log")
        ax_acc.legend(fontsize="small", ncol=2)
        return fig


run = Activations()
