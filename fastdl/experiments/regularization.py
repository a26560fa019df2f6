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
from . import _common

COLUMNS = [
    ("config", "configuration", ""),
    ("train_acc", "train acc (%)", "pct"),
    ("test_acc", "test acc (%)", "pct"),
    ("gap", "gap (points)", ".2f"),
    ("best_test_acc", "best test acc (%)", "pct"),
    ("time", "train time (s)", ".1f"),
]


def weight_decay(
    *,
    dataset="mnist",
    data=None,
    epochs=201,
    seed=0,
    out=_common.DEFAULT_OUT,
    train_size=300,
    batch_size=100,
    lr=0.01,
    l2=(0.01, 0.03, 0.1),
    l1=(0.003, 0.01),
    hidden=(100, 100, 100, 100, 100, 100),
    workers=None,
    verbose=False,
):
    """Overfitting with and without weight decay: no decay, L2 for each ``l2``, L1 for each ``l1``.

    Parameters
    ----------
    dataset, data, epochs, seed, out, batch_size, workers, verbose
        As for :func:`fastdl.experiments.optimizers.run`.
    train_size : int
        The first ``train_size`` training images (the textbook: 300).
    lr : float
        SGD learning rate.
    l2, l1 : sequence of float
        Decay strengths ``lambda`` (see :mod:`fastdl.regularizers`).
    hidden : sequence of int

    Returns
    -------
    ExperimentResult
        One row per configuration (``"none"``, ``"L2 0.1"``, ``"L1 0.001"``...), the series keyed
        the same way. ``gap`` is train minus test accuracy in percentage points.
    """
    configs = [("none", {}, None)]
    configs += [(f"L2 {lam:g}", {}, L2(lam)) for lam in l2]
    configs += [(f"L1 {lam:g}", {}, L1(lam)) for lam in l1]
    settings = dict(
        dataset=dataset, data=data, epochs=epochs, seed=seed, out=out, train_size=train_size,
        batch_size=batch_size, lr=lr, l2=list(l2), l1=list(l1), hidden=list(hidden),
        workers=_common.resolve_workers(workers, len(configs)),
    )  # fmt: skip
    return _compare("weight-decay", settings, configs, verbose, "Weight decay against overfitting")


def dropout(
    *,
    dataset="mnist",
    data=None,
    epochs=301,
    seed=0,
    out=_common.DEFAULT_OUT,
    train_size=300,
    batch_size=100,
    lr=0.01,
    ratios=(0.1, 0.2, 0.3, 0.5),
    mode="textbook",
    hidden=(100, 100, 100, 100, 100, 100),
    workers=None,
    verbose=False,
):
    """Overfitting with and without dropout after every hidden layer, for each ratio.

    Parameters
    ----------
    dataset, data, epochs, seed, out, train_size, batch_size, lr, hidden, workers, verbose
        As for :func:`weight_decay`.
    ratios : sequence of float in (0, 1)
        Dropout ratios (the textbook: 0.2).
    mode : {"textbook", "inverted"}
        See :class:`fastdl.layers.Dropout`.

    Returns
    -------
    ExperimentResult
        One row per configuration (``"none"``, ``"dropout 0.2"``...), series keyed the same way.
    """
    configs = [("none", {}, None)]
    configs += [(f"dropout {r:g}", {"dropout": r, "dropout_mode": mode}, None) for r in ratios]
    settings = dict(
        dataset=dataset, data=data, epochs=epochs, seed=seed, out=out, train_size=train_size,
        batch_size=batch_size, lr=lr, ratios=list(ratios), mode=mode, hidden=list(hidden),
        workers=_common.resolve_workers(workers, len(configs)),
    )  # fmt: skip
    return _compare("dropout", settings, configs, verbose, "Dropout against overfitting")


def _compare(name, settings, configs, verbose, title):
    """Train one network per ``(label, mlp kwargs, regularizer)`` config; table and plot."""
    run_ = _common.Run(name, settings, verbose)
    shared = _common.load_data(settings["dataset"], settings["data"], settings["train_size"])
    tasks = [(*config, settings) for config in configs]
    rows, series = [], {}
    for label, s, row in _common.map_tasks(_train, tasks, shared, settings["workers"]):
        series[label] = s
        rows.append(row)
        run_.log(f"{label}: train acc {row['train_acc']:.4f}, test acc {row['test_acc']:.4f}")
    return run_.finish(
        rows,
        series,
        COLUMNS,
        [lambda r: _plot(r, series)],
        title=title,
        notes=f"Training on the first {len(shared[0][0])} images; accuracies after the last "
        "epoch, measured in inference mode; gap = train - test accuracy.",
    )


def _train(task, shared):
    """One configuration: returns (label, series, row)."""
    label, kwargs, reg, st = task
    (x, t), test = shared
    model = models.mlp(784, tuple(st["hidden"]), 10, rng=st["seed"], **kwargs)
    _, s = _common.train(
        model,
        get_optimizer("sgd", lr=st["lr"]),
        x,
        t,
        epochs=st["epochs"],
        batch_size=st["batch_size"],
        seed=st["seed"],
        sets={"train": (x, t), "test": test},
        regularizer=reg,
    )
    train_acc, test_acc = s["train_acc"][-1], s["test_acc"][-1]
    row = {
        "config": label,
        "train_acc": train_acc,
        "test_acc": test_acc,
        "gap": 100 * (train_acc - test_acc),
        "best_test_acc": max(s["test_acc"]),
        "time": sum(s["epoch_time"]),
    }
    return label, s, row


def _plot(run_, series):
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
    return _common.save(fig, run_.path("curves.png"))
