"""``init``: weight initialisation, std 0.01 vs LeCun ("Xavier" in the textbook) vs Glorot vs He.

The set-up of the textbook's ``ch06/weight_init_compare.py``: MultiLayerNet
784-100-100-100-100-10, SGD lr 0.01, mini-batches of 128, the training loss at every iteration,
weights drawn with std 0.01, ``sqrt(1/n)`` (the textbook's "Xavier", here ``lecun_normal``) or
``sqrt(2/n)`` (He), ``n`` the number of inputs of the layer. The textbook uses ReLU only; this
experiment runs every initialisation with sigmoid and with ReLU, and adds Glorot's
``sqrt(2/(n_in + n_out))`` (PyTorch's ``xavier_normal_``), which differs from the textbook's
"Xavier" only in the first and last layers of this net.

Scaled down: the textbook runs 2,000 iterations on the 60,000 training images; the default
here is 20 epochs of the training set (800 iterations on the bundled 5,000 images).
``epochs=50`` gives the textbook's 2,000 iterations on the bundled subset.
"""

import numpy as np

from .. import models
from ..optimizers import get_optimizer
from . import _common, _runner

INITS = {"std=0.01": 0.01, "LeCun": "lecun_normal", "Glorot": "glorot_normal", "He": "he_normal"}

COLUMNS = _common.columns(
    ("activation", "activation", ""),
    ("init", "init", ""),
    ("first_loss", "loss, first 10 iterations", ".3f"),
    ("final_loss", "loss, last epoch", ".4f"),
    "train_acc",
    "test_acc",
    "time",
)


class Initialisation(_runner.Experiment):
    """Train the MLP with each (activation, initialisation) pair, plain SGD.

    Parameters
    ----------
    lr : float
        SGD learning rate.
    activations : sequence of str
        Hidden-layer activations (any fastdl activation).
    inits : dict of str -> str or float
        Label -> initialiser (a name of :mod:`fastdl.initializers` or a normal std).
    hidden : sequence of int

    Rows: one per (activation, init); series keyed ``"<activation> <init label>"``.
    """

    name = "init"
    title = "Weight initialisation"
    defaults = dict(
        epochs=20, batch_size=128, lr=0.01, activations=("sigmoid", "relu"), inits=INITS,
        hidden=(100, 100, 100, 100),
    )  # fmt: skip
    columns = COLUMNS
    progress = "test acc {test_acc:.4f}"
    plots = ("curves",)

    def configurations(self, settings):
        inits = settings["inits"].items()
        return [(act, label, init) for act in settings["activations"] for label, init in inits]

    def train(self, config, settings, data):
        act, label, init = config
        (x, t), test = data
        model = models.mlp(
            784, tuple(settings["hidden"]), 10, activation=act, init=init, rng=settings["seed"]
        )
        opt = get_optimizer("sgd", lr=settings["lr"])
        s = _common.train(model, opt, x, t, settings, sets={"train": (x, t), "test": test})
        row = {
            "activation": act,
            "init": label,
            "first_loss": float(np.mean(s["iteration_loss"][:10])),
            "final_loss": s["loss"][-1],
            "train_acc": s["train_acc"][-1],
            "test_acc": s["test_acc"][-1],
            "time": sum(s["epoch_time"]),
        }
        return _runner.Outcome(f"{act} {label}", row, s)

    def notes(self, settings, data):
        return (
            'LeCun = N(0, 1/n_in), the textbook\'s "Xavier"; Glorot = N(0, 2/(n_in + n_out)); '
            "He = N(0, 2/n_in)."
        )

    def plot_curves(self, rows, series, settings):
        activations, inits = settings["activations"], settings["inits"]
        fig, axes = _common.figure(2, len(activations))
        for col, act in enumerate(activations):
            ax_loss, ax_acc = axes[0, col], axes[1, col]
            for i, label in enumerate(inits):
                s = series[f"{act} {label}"]
                ax_loss.plot(*_common.smooth(s["iteration_loss"]), color=f"C{i}", label=label)
                epochs = np.arange(1, len(s["test_acc"]) + 1)
                ax_acc.plot(epochs, s["test_acc"], color=f"C{i}", label=label)
            ax_loss.set_title(f"{act}: training loss", fontsize="medium")
            ax_loss.set_xlabel("iteration")
            ax_loss.set_ylabel("loss (moving average of 21)")
            ax_loss.set_ylim(0, 2.5)
            ax_loss.grid(alpha=0.3)
            ax_loss.legend(fontsize="small")
            _common.epochs_axis(ax_acc, "test accuracy", f"{act}: test accuracy")
            ax_acc.set_ylim(0, 1)
        return fig


run = Initialisation()
