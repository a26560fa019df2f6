"""``hyperparams``: random search over learning rate and weight decay, on a validation split.

The set-up of the textbook's ``ch06/hyperparameter_optimization.py``: the first 500 training
images, shuffled, 20% of them held out for validation (the test set is never used), the MLP
784-100-100-100-100-100-100-10 (ReLU, He initialisation) trained with SGD and L2 weight decay,
mini-batches of 100, 50 epochs per trial, the learning rate drawn as ``10**U(-6, -2)`` and the
weight decay as ``10**U(-8, -4)`` (log-uniform), trials ranked by the final validation accuracy.
These are the defaults (not scaled down: 400 training images train fast), except that the trials
run in parallel over the local cores (``workers``) where the textbook runs them one by one.

Reproducibility: trial ``i`` draws its hyperparameters and its seed (weights and batch order)
from the ``i``-th child of ``numpy.random.SeedSequence(seed).spawn(trials)``, so the results do
not depend on the number of workers or on scheduling (the workers are those of every experiment,
see :mod:`fastdl.experiments._executors`).
"""

import numpy as np

from .. import models
from ..optimizers import get_optimizer
from ..regularizers import L2
from ..training import split_validation
from . import _common, _runner

COLUMNS = _common.columns(
    ("rank", "rank", "d"),
    ("trial", "trial", "d"),
    ("lr", "learning rate", ".2e"),
    ("weight_decay", "weight decay", ".2e"),
    ("val_acc", "val acc (%)", "pct"),
    ("best_val_acc", "best val acc (%)", "pct"),
    "train_acc",
)


class RandomSearch(_runner.Experiment):
    """Random search: ``trials`` networks, each with a log-uniform learning rate and weight decay.

    The first ``train_size`` training images are shuffled with ``seed``, then split.

    Parameters
    ----------
    trials : int
    validation_split : float in (0, 1)
        Fraction of the ``train_size`` images held out for validation.
    lr_exponents, weight_decay_exponents : (float, float)
        ``lr = 10**U(a, b)`` and ``weight_decay = 10**U(a, b)``.
    hidden : sequence of int
    top : int
        Rows of the printed table (the best trials).

    Rows: every trial, best first (by final validation accuracy, then trial number); the table
    shows the first ``top``. Series keyed ``"trial <n>"`` (1-based) with ``loss``, ``val_loss``,
    ``val_acc`` and ``acc`` (mini-batch training accuracy) per epoch.
    """

    name = "hyperparams"
    title = "Random search over learning rate and weight decay"
    defaults = dict(
        epochs=50, train_size=500, batch_size=100, trials=100, validation_split=0.2,
        lr_exponents=(-6.0, -2.0), weight_decay_exponents=(-8.0, -4.0),
        hidden=(100, 100, 100, 100, 100, 100), top=10,
    )  # fmt: skip
    columns = COLUMNS
    progress = "lr {lr:.2e}, weight decay {weight_decay:.2e}: val acc {val_acc:.4f}"
    plots = ("scatter", "best")

    def check(self, settings):
        _common.check_count("trials", settings["trials"])
        _common.check_count("top", settings["top"])

    def load(self, settings):
        """``(train, validation)`` from the shuffled first ``train_size`` training images."""
        (x, t), _ = super().load(settings)  # the test set stays unused
        order = np.random.default_rng(settings["seed"]).permutation(len(x))
        return split_validation(x[order], t[order], settings["validation_split"])

    def configurations(self, settings):
        """``(trial, lr, weight decay, seed)``: trial ``i`` draws from the ``i``-th child seed."""
        configs = []
        children = np.random.SeedSequence(settings["seed"]).spawn(settings["trials"])
        for i, child in enumerate(children):
            rng = np.random.default_rng(child)
            lr = 10 ** rng.uniform(*settings["lr_exponents"])
            weight_decay = 10 ** rng.uniform(*settings["weight_decay_exponents"])
            trial_seed = int(rng.integers(2**32))  # weights and batch order
            configs.append((i + 1, float(lr), float(weight_decay), trial_seed))
        return configs

    def train(self, config, settings, data):
        trial, lr, weight_decay, trial_seed = config
        (x, t), val = data
        model = models.mlp(784, tuple(settings["hidden"]), 10, rng=trial_seed)
        s = _common.train(
            model, get_optimizer("sgd", lr=lr), x, t, settings, sets={}, seed=trial_seed,
            regularizer=L2(weight_decay), validation_data=val,
            check_finite=False,  # a diverging trial ranks low; the search goes on
        )  # fmt: skip
        row = {
            "trial": trial,
            "lr": lr,
            "weight_decay": weight_decay,
            "val_acc": s["val_acc"][-1],
            "best_val_acc": max(s["val_acc"]),
            "train_acc": s["acc"][-1],
        }
        series = {k: s[k] for k in ("loss", "acc", "val_loss", "val_acc", "epoch_time")}
        return _runner.Outcome(f"trial {trial}", row, series)

    def table(self, outcomes, settings):
        """Every trial, ranked by the final validation accuracy (then by trial number)."""
        rows = sorted((o.row for o in outcomes), key=lambda r: (-r["val_acc"], r["trial"]))
        for rank, row in enumerate(rows, 1):
            row["rank"] = rank
        return rows

    def shown(self, rows, settings):
        return rows[: settings["top"]]

    def notes(self, settings, data):
        (x, _), (x_val, _) = data
        return (
            f"The best {min(settings['top'], settings['trials'])} of {settings['trials']} "
            f"trials; {len(x)} training and {len(x_val)} validation images (carved from the "
            "training data; the test set is not used). Ranked by the validation accuracy after "
            "the last epoch."
        )

    def plot_scatter(self, rows, series, settings):
        shown = self.shown(rows, settings)
        fig, axes = _common.figure(1, 1, width=6.5, height=4.8)
        ax = axes[0, 0]
        points = ax.scatter(
            [r["lr"] for r in rows],
            [r["weight_decay"] for r in rows],
            c=[r["val_acc"] for r in rows],
            cmap="viridis",
            vmin=0,
            vmax=1,
        )
        ax.scatter(
            [r["lr"] for r in shown],
            [r["weight_decay"] for r in shown],
            s=120,
            facecolors="none",
            edgecolors="red",
            label=f"best {len(shown)}",
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("weight decay")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        fig.colorbar(points, ax=ax, label="validation accuracy (last epoch)")
        return fig

    def plot_best(self, rows, series, settings):
        shown = self.shown(rows, settings)
        ncols = min(5, len(shown))
        nrows = -(-len(shown) // ncols)
        fig, axes = _common.figure(nrows, ncols, width=2.6, height=2.2, sharex=True, sharey=True)
        for ax, row in zip(axes.flat, shown):
            s = series[f"trial {row['trial']}"]
            epochs = np.arange(1, len(s["val_acc"]) + 1)
            ax.plot(epochs, s["val_acc"], label="validation")
            ax.plot(epochs, s["acc"], "--", label="train")
            ax.set_title(
                f"#{row['rank']}: lr {row['lr']:.1e}, wd {row['weight_decay']:.0e}", fontsize=8
            )
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
            _common.integer_ticks(ax)
        for ax in list(axes.flat)[len(shown) :]:
            ax.set_visible(False)
        axes[0, 0].legend(fontsize="x-small")
        fig.supxlabel("epoch")
        fig.supylabel("accuracy")
        return fig


run = RandomSearch()
