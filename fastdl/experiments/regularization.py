"""``weight-decay`` and ``dropout``: the textbook's overfitting set-up, with and without.

The set-up of the textbook's ``ch06/overfit_weight_decay.py`` and ``ch06/overfit_dropout.py``:
only the first 300 training images, a deep MLP 784-100-100-100-100-100-100-10 (ReLU, He
initialisation), SGD lr 0.01, mini-batches of 100, train and test accuracy after every epoch.
``overfit_weight_decay`` uses L2 with lambda 0.1 (``loss += 0.5 * lambda * sum(W**2)`` over all
weights) for 201 epochs; ``overfit_dropout`` uses the textbook's dropout (ratio 0.2, units scaled
by ``1 - ratio`` at test time: ``Dropout(mode="textbook")``) for 301 epochs. These are the
defaults (not scaled down: 300 images train fast); the experiments add more lambdas, L1 and more
ratios, and always include the unregularised network for reference. The textbook evaluates on
the 10,000 test images; on the bundled subset the test set is its 1,000 images.
"""

import numpy as np

from .. import models
from ..optimizers import get_optimizer
from ..regularizers import L1, L2
from . import _common, _runner

COLUMNS = _common.columns(
    ("config", "configuration", ""),
    "train_acc",
    "test_acc",
    ("gap", "gap (points)", ".2f"),
    "best_test_acc",
    "time",
)


class _Overfitting(_runner.Experiment):
    """The textbook's overfitting set-up; a configuration is ``(label, mlp kwargs, regularizer)``.

    Rows: one per configuration (``"none"`` first), the series keyed by its label. ``gap`` is
    train minus test accuracy in percentage points.
    """

    columns = COLUMNS
    progress = "train acc {train_acc:.4f}, test acc {test_acc:.4f}"
    plots = ("curves",)
    _shared_defaults = dict(
        train_size=300, batch_size=100, lr=0.01, hidden=(100, 100, 100, 100, 100, 100)
    )

    def train(self, config, settings, data):
        label, kwargs, regularizer = config
        (x, t), test = data
        model = models.mlp(784, tuple(settings["hidden"]), 10, rng=settings["seed"], **kwargs)
        s = _common.train(
            model, get_optimizer("sgd", lr=settings["lr"]), x, t, settings,
            sets={"train": (x, t), "test": test}, regularizer=regularizer,
        )  # fmt: skip
        train_acc, test_acc = s["train_acc"][-1], s["test_acc"][-1]
        row = {
            "config": label,
            "train_acc": train_acc,
            "test_acc": test_acc,
            "gap": 100 * (train_acc - test_acc),
            "best_test_acc": max(s["test_acc"]),
            "time": sum(s["epoch_time"]),
        }
        return _runner.Outcome(label, row, s)

    def notes(self, settings, data):
        return (
            f"Training on the first {len(data[0][0])} images; accuracies after the last epoch, "
            "measured in inference mode; gap = train - test accuracy."
        )

    def plot_curves(self, rows, series, settings):
        ncols = min(3, len(series))
        nrows = -(-len(series) // ncols)
        fig, axes = _common.figure(nrows, ncols, width=4.0, height=3.0, sharey=True)
        for ax, (label, s) in zip(axes.flat, series.items()):
            epochs = np.arange(1, len(s["train_acc"]) + 1)
            ax.plot(epochs, s["train_acc"], label="train")
            ax.plot(epochs, s["test_acc"], "--", label="test")
            _common.epochs_axis(ax, "accuracy", label)
            ax.set_ylim(0, 1.02)
            ax.legend(fontsize="small", loc="lower right")
        for ax in list(axes.flat)[len(series) :]:
            ax.set_visible(False)
        return fig


class WeightDecay(_Overfitting):
    """Overfitting with and without weight decay: no decay, L2 for each ``l2``, L1 for each ``l1``.

    ``train_size`` defaults to the textbook's 300.

    Parameters
    ----------
    lr : float
        SGD learning rate.
    l2, l1 : sequence of float
        Decay strengths ``lambda`` (see :mod:`fastdl.regularizers`).
    hidden : sequence of int

    Rows: ``"none"``, ``"L2 0.1"``, ``"L1 0.001"``...
    """

    name = "weight-decay"
    title = "Weight decay against overfitting"
    defaults = dict(
        epochs=201, **_Overfitting._shared_defaults, l2=(0.01, 0.03, 0.1), l1=(0.003, 0.01)
    )

    def configurations(self, settings):
        return [
            ("none", {}, None),
            *((f"L2 {lam:g}", {}, L2(lam)) for lam in settings["l2"]),
            *((f"L1 {lam:g}", {}, L1(lam)) for lam in settings["l1"]),
        ]


class Dropout(_Overfitting):
    """Overfitting with and without dropout after every hidden layer, for each ratio.

    ``lr`` and ``hidden`` as for :class:`WeightDecay`.

    Parameters
    ----------
    ratios : sequence of float in (0, 1)
        Dropout ratios (the textbook: 0.2).
    mode : {"textbook", "inverted"}
        See :class:`fastdl.layers.Dropout`.

    Rows: ``"none"``, ``"dropout 0.2"``...
    """

    name = "dropout"
    title = "Dropout against overfitting"
    defaults = dict(
        epochs=301, **_Overfitting._shared_defaults, ratios=(0.1, 0.2, 0.3, 0.5), mode="textbook"
    )

    def configurations(self, settings):
        mode = settings["mode"]
        dropouts = (
            (f"dropout {r:g}", {"dropout": r, "dropout_mode": mode}, None)
            for r in settings["ratios"]
        )
        return [("none", {}, None), *dropouts]


weight_decay = WeightDecay()
dropout = Dropout()
