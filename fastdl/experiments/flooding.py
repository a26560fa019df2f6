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
from . import _common

LEVELS = (0.0, 0.001, 0.005, 0.01, 0.05, 0.1)

COLUMNS = [
    ("b", "b", "g"),
    ("train_loss", "train loss", ".4f"),
    ("test_loss", "test loss", ".4f"),
    ("min_test_loss", "min test loss", ".4f"),
    ("min_test_loss_epoch", "at epoch", "d"),
    ("train_acc", "train acc (%)", "pct"),
    ("test_acc", "test acc (%)", "pct"),
    ("best_test_acc", "best test acc (%)", "pct"),
]


def run(
    *,
    dataset="mnist",
    data=None,
    epochs=30,
    seed=0,
    out=_common.DEFAULT_OUT,
    train_size=None,
    batch_size=100,
    optimizer="adam",
    lr=0.001,
    levels=LEVELS,
    hidden=(100, 100),
    workers=None,
    verbose=False,
):
    """Train one MLP per flood level ``b``; train/test loss and accuracy per epoch.

    Parameters
    ----------
    dataset, data, epochs, seed, out, train_size, batch_size, workers, verbose
        As for :func:`fastdl.experiments.optimizers.run`.
    optimizer : str
        A name for :func:`fastdl.get_optimizer`.
    lr : float
    levels : sequence of float >= 0
        Flood levels ``b``.
    hidden : sequence of int

    Returns
    -------
    ExperimentResult
        One row per ``b`` (values after the last epoch, plus the minimum test loss and the
        best test accuracy over the epochs); series keyed ``"b=<b>"``.
    """
    levels = [float(b) for b in levels]
    settings = dict(
        dataset=dataset, data=data, epochs=epochs, seed=seed, out=out, train_size=train_size,
        batch_size=batch_size, optimizer=optimizer, lr=lr, levels=levels, hidden=list(hidden),
        workers=_common.resolve_workers(workers, len(levels)),
    )  # fmt: skip
    run_ = _common.Run("flooding", settings, verbose)
    shared = _common.load_data(dataset, data, train_size)
    tasks = [(b, settings) for b in levels]
    rows, series = [], {}
    for s, row in _common.map_tasks(_train, tasks, shared, settings["workers"]):
        series[f"b={row['b']:g}"] = s
        rows.append(row)
        run_.log(
            f"b={row['b']:g}: train loss {row['train_loss']:.4f}, test acc {row['test_acc']:.4f}"
        )
    return run_.finish(
        rows,
        series,
        COLUMNS,
        [lambda r: _plot(r, series)],
        title="Flooding",
        notes="Losses: plain cross-entropy after the last epoch, in inference mode.",
    )


def _train(task, shared):
    """One flood level: returns (series, row)."""
    b, st = task
    (x, t), test = shared
    model = models.mlp(784, tuple(st["hidden"]), 10, rng=st["seed"])
    _, s = _common.train(
        model,
        get_optimizer(st["optimizer"], lr=st["lr"]),
        x,
        t,
        epochs=st["epochs"],
        batch_size=st["batch_size"],
        seed=st["seed"],
        sets={"train": (x, t), "test": test},
        loss=Flooding(SoftmaxCrossEntropy(), b),
    )
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
    return s, row


def _plot(run_, series):
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
    return _common.save(fig, run_.path("curves.png"))
