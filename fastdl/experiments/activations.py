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
from . import _common

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

COLUMNS = [
    ("activation", "activation", ""),
    ("train_acc", "train acc (%)", "pct"),
    ("test_acc", "test acc (%)", "pct"),
    ("best_test_acc", "best test acc (%)", "pct"),
    *((f"ts{round(100 * th)}", f"TS{round(100 * th)}", "d") for th in THRESHOLDS),
    ("time", "wall time (s)", ".1f"),
]


def run(
    *,
    dataset="mnist",
    data=None,
    epochs=20,
    seed=0,
    out=_common.DEFAULT_OUT,
    train_size=None,
    batch_size=100,
    lr=0.1,
    activations=ACTIVATIONS,
    hidden=(100, 50),
    init="he_normal",
    workers=None,
    verbose=False,
):
    """Train the MLP once per activation; accuracies, TS95/TS97/TS98 and wall time.

    Parameters
    ----------
    dataset, data, epochs, seed, out, train_size, batch_size, workers, verbose
        As for :func:`fastdl.experiments.optimizers.run`.
    lr : float
        SGD learning rate.
    activations : dict of str -> str
        Label -> fastdl activation name.
    hidden : sequence of int
    init : str or float
        Weight initialiser of every layer.

    Returns
    -------
    ExperimentResult
        One row per activation. ``ts95``, ``ts97``, ``ts98``: 1-based first epoch whose test
        accuracy (series ``test_acc``) is >= 0.95, 0.97, 0.98, or None. ``time``: seconds of
        training (the sum of ``epoch_time``, without the per-epoch evaluation for the curves).
    """
    settings = dict(
        dataset=dataset, data=data, epochs=epochs, seed=seed, out=out, train_size=train_size,
        batch_size=batch_size, lr=lr, activations=dict(activations), hidden=list(hidden),
        init=init, workers=_common.resolve_workers(workers, len(activations)),
    )  # fmt: skip
    run_ = _common.Run("activations", settings, verbose)
    shared = _common.load_data(dataset, data, train_size)
    tasks = [(label, act, settings) for label, act in activations.items()]
    rows, series = [], {}
    for s, row in _common.map_tasks(_train, tasks, shared, settings["workers"]):
        series[row["activation"]] = s
        rows.append(row)
        run_.log(f"{row['activation']}: test acc {row['test_acc']:.4f} ({row['time']:.1f} s)")
    return run_.finish(
        rows,
        series,
        COLUMNS,
        [lambda r: _plot(r, series)],
        title="Activation functions on an MLP 784-100-50-10",
        notes="TSxx: first epoch (1-based) at which the test accuracy reaches xx%; "
        "'-': never within the run. Wall time: training only.",
    )


def _train(task, shared):
    """One activation: returns (series, row)."""
    label, act, st = task
    (x, t), test = shared
    model = models.mlp(
        784, tuple(st["hidden"]), 10, activation=act, init=st["init"], rng=st["seed"]
    )
    _, s = _common.train(
        model,
        get_optimizer("sgd", lr=st["lr"]),
        x,
        t,
        epochs=st["epochs"],
        batch_size=st["batch_size"],
        seed=st["seed"],
        sets={"train": (x, t), "test": test},
    )
    row = {
        "activation": label,
        "train_acc": s["train_acc"][-1],
        "test_acc": s["test_acc"][-1],
        "best_test_acc": max(s["test_acc"]),
    }
    for th in THRESHOLDS:
        row[f"ts{round(100 * th)}"] = _common.first_epoch_reaching(s["test_acc"], th)
    row["time"] = sum(s["epoch_time"])
    return s, row


def _plot(run_, series):
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
    return _common.save(fig, run_.path("curves.png"))
