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
from . import _common

NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "nadam", "adamw")

COLUMNS = [
    ("optimizer", "optimizer", ""),
    ("lr", "lr", "g"),
    ("final_loss", "train loss (last epoch)", ".4f"),
    ("train_acc", "train acc (%)", "pct"),
    ("test_acc", "test acc (%)", "pct"),
    ("best_test_acc", "best test acc (%)", "pct"),
    ("best_epoch", "at epoch", "d"),
    ("time", "train time (s)", ".1f"),
]


def run(
    *,
    dataset="mnist",
    data=None,
    epochs=20,
    seed=0,
    out=_common.DEFAULT_OUT,
    train_size=None,
    batch_size=128,
    optimizers=NAMES,
    hidden=(100, 100, 100, 100),
    workers=None,
    verbose=False,
):
    """Train the same MLP with each optimizer; loss per iteration, accuracy per epoch.

    Parameters
    ----------
    dataset : {"mnist", "fashion-mnist"}
    data : str, optional
        Directory of the full IDX files (default: the bundled subset).
    epochs, seed : int
    out : str
        Output directory for ``optimizers.md`` and ``optimizers-curves.png``.
    train_size : int, optional
        Use the first ``train_size`` training images.
    batch_size : int
    optimizers : sequence of str
        Names for :func:`fastdl.get_optimizer`, each used with its default hyperparameters.
    hidden : sequence of int
        Hidden layer widths.
    workers : int, optional
        Single-threaded processes for the configurations (default: one per core, at most one
        per configuration); 0 trains them in this process. See
        :func:`fastdl.experiments._common.map_tasks`.
    verbose : bool
        Print a line per finished configuration.

    Returns
    -------
    ExperimentResult
        One row per optimizer; series keyed by the optimizer's class name.
    """
    settings = dict(
        dataset=dataset, data=data, epochs=epochs, seed=seed, out=out, train_size=train_size,
        batch_size=batch_size, optimizers=list(optimizers), hidden=list(hidden),
        workers=_common.resolve_workers(workers, len(optimizers)),
    )  # fmt: skip
    run_ = _common.Run("optimizers", settings, verbose)
    shared = _common.load_data(dataset, data, train_size)
    tasks = [(name, settings) for name in optimizers]
    rows, series = [], {}
    for label, s, row in _common.map_tasks(_train, tasks, shared, settings["workers"]):
        series[label] = s
        rows.append(row)
        run_.log(f"{label}: test acc {row['test_acc']:.4f}")
    return run_.finish(
        rows,
        series,
        COLUMNS,
        [lambda r: _plot(r, series)],
        title="Optimizers on a 5-layer MLP",
        notes=f"Optimizers available: {', '.join(OPTIMIZERS)}. "
        "Train loss: mean mini-batch loss of the last epoch.",
    )


def _train(task, shared):
    """One optimizer: returns (label, series, row)."""
    name, st = task
    (x, t), test = shared
    opt = get_optimizer(name)
    model = models.mlp(
        784, tuple(st["hidden"]), 10, activation="relu", init="he_normal", rng=st["seed"]
    )
    sets = {"train": (x, t), "test": test}
    _, s = _common.train(
        model,
        opt,
        x,
        t,
        epochs=st["epochs"],
        batch_size=st["batch_size"],
        seed=st["seed"],
        sets=sets,
    )
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
    return row["optimizer"], s, row


def _plot(run_, series):
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
    return _common.save(fig, run_.path("curves.png"))
