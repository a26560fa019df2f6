"""``batchnorm``: with vs without batch normalisation across 16 initial weight scales.

The set-up of the textbook's ``ch06/batch_norm_test.py``: the first 1,000 training images,
MultiLayerNetExtend 784-100-100-100-100-100-10 (ReLU; with BatchNorm between each hidden Affine
and its ReLU), every weight drawn from N(0, w**2) for the 16 scales
``w = np.logspace(0, -4, num=16)``, SGD lr 0.01, mini-batches of 100, 20 epochs, training
accuracy (on the 1,000 images) after every epoch. These are the default settings: this
experiment is not scaled down. Test accuracy is recorded as well. Both networks of a scale see
the same mini-batches (fastdl shuffles per epoch; the textbook draws batches with replacement).

With large scales the network without BatchNorm can overflow to inf/NaN; its accuracy is then
that of constant predictions, which is the point of the comparison.
"""

from typing import Any

import numpy as np

from .. import models
from ..optimizers import get_optimizer
from . import _common, _runner

SCALES = tuple(float(w) for w in np.logspace(0, -4, num=16))

COLUMNS = [
    ("scale", "weight std", ".2e"),
    ("train_acc", "train acc, no BN (%)", "pct"),
    ("train_acc_bn", "train acc, BN (%)", "pct"),
    ("test_acc", "test acc, no BN (%)", "pct"),
    ("test_acc_bn", "test acc, BN (%)", "pct"),
]


class BatchNorm(_runner.Experiment):
    """Train the MLP with and without BatchNorm for every initial weight scale.

    ``train_size`` defaults to the textbook's 1,000.

    Parameters
    ----------
    lr : float
        SGD learning rate.
    scales : sequence of float
        Weight standard deviations (the textbook's 16 by default).
    hidden : sequence of int

    Rows: one per scale (both variants); series keyed ``"<scale> BN"`` and ``"<scale> no BN"``
    with the scale formatted ``.2e``.
    """

    name = "batchnorm"
    title = "Batch normalisation vs initial weight scale"
    defaults = dict(
        epochs=20, train_size=1000, batch_size=100, lr=0.01, scales=SCALES,
        hidden=(100, 100, 100, 100, 100),
    )  # fmt: skip
    columns = COLUMNS
    progress = "train acc {train_acc:.3f}"
    plots = ("grid", "summary")

    def check(self, settings):
        settings["scales"] = [float(w) for w in settings["scales"]]

    def configurations(self, settings):
        return [(scale, bn) for scale in settings["scales"] for bn in (False, True)]

    def train(self, config, settings, data):
        scale, bn = config
        (x, t), test = data
        model = models.mlp(
            784, tuple(settings["hidden"]), 10, activation="relu", init=scale, batchnorm=bn,
            rng=settings["seed"],
        )  # fmt: skip
        opt = get_optimizer("sgd", lr=settings["lr"])
        sets = {"train": (x, t), "test": test}
        # an unnormalised net may blow up to inf/NaN: that is the comparison, so train on
        with np.errstate(over="ignore", invalid="ignore"):
            s = _common.train(model, opt, x, t, settings, sets=sets, check_finite=False)
        row = {
            "scale": scale,
            "bn": bn,
            "train_acc": s["train_acc"][-1],
            "test_acc": s["test_acc"][-1],
        }
        return _runner.Outcome(f"{scale:.2e} {'BN' if bn else 'no BN'}", row, s)

    def table(self, outcomes, settings):
        """One row per scale: the accuracies without BatchNorm, then with (suffix ``_bn``)."""
        rows: dict[float, dict[str, Any]] = {}
        for outcome in outcomes:
            scale, bn = outcome.row["scale"], outcome.row["bn"]
            row = rows.setdefault(scale, {"scale": scale})
            suffix = "_bn" if bn else ""
            row["train_acc" + suffix] = outcome.row["train_acc"]
            row["test_acc" + suffix] = outcome.row["test_acc"]
        return list(rows.values())

    def notes(self, settings, data):
        return f"Accuracies after the last epoch; training on the first {len(data[0][0])} images."

    def plot_grid(self, rows, series, settings):
        scales = settings["scales"]
        ncols = min(4, len(scales))
        nrows = -(-len(scales) // ncols)
        fig, axes = _common.figure(nrows, ncols, width=3.0, height=2.4, sharex=True, sharey=True)
        for i, ax in enumerate(axes.flat):
            if i >= len(scales):
                ax.set_visible(False)
                continue
            for name, style in (("BN", "-"), ("no BN", "--")):
                acc = series[f"{scales[i]:.2e} {name}"]["train_acc"]
                ax.plot(np.arange(1, len(acc) + 1), acc, style, label=name)
            ax.set_title(f"W std {scales[i]:.2e}", fontsize="small")
            _common.integer_ticks(ax)
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
        axes[0, 0].legend(fontsize="x-small", loc="lower right")
        fig.supxlabel("epoch")
        fig.supylabel("training accuracy")
        return fig

    def plot_summary(self, rows, series, settings):
        fig, axes = _common.figure(1, 1, width=6.0, height=4.0)
        ax = axes[0, 0]
        scales = [r["scale"] for r in rows]
        for key, label, style in (
            ("train_acc_bn", "train, BN", "C0-o"),
            ("train_acc", "train, no BN", "C1--o"),
            ("test_acc_bn", "test, BN", "C0:s"),
            ("test_acc", "test, no BN", "C1:s"),
        ):
            ax.plot(scales, [r[key] for r in rows], style, label=label, markersize=4)
        ax.set_xscale("log")
        ax.set_xlabel("initial weight std")
        ax.set_ylabel("accuracy after the last epoch")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        return fig


run = BatchNorm()
