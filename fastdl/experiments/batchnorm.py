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

import numpy as np

from .. import models
from ..optimizers import get_optimizer
from . import _common

SCALES = tuple(float(w) for w in np.logspace(0, -4, num=16))

COLUMNS = [
    ("scale", "weight std", ".2e"),
    ("train_acc", "train acc, no BN (%)", "pct"),
    ("train_acc_bn", "train acc, BN (%)", "pct"),
    ("test_acc", "test acc, no BN (%)", "pct"),
    ("test_acc_bn", "test acc, BN (%)", "pct"),
]


def run(
    *,
    dataset="mnist",
    data=None,
    epochs=20,
    seed=0,
    out=_common.DEFAULT_OUT,
    train_size=1000,
    batch_size=100,
    lr=0.01,
    scales=SCALES,
    hidden=(100, 100, 100, 100, 100),
    workers=None,
    verbose=False,
):
    """Train the MLP with and without BatchNorm for every initial weight scale.

    Parameters
    ----------
    dataset, data, epochs, seed, out, batch_size, workers, verbose
        As for :func:`fastdl.experiments.optimizers.run`.
    train_size : int
        The first ``train_size`` training images (the textbook: 1,000).
    lr : float
        SGD learning rate.
    scales : sequence of float
        Weight standard deviations (the textbook's 16 by default).
    hidden : sequence of int

    Returns
    -------
    ExperimentResult
        One row per scale (both variants); series keyed ``"<scale> BN"`` and ``"<scale> no BN"``
        with the scale formatted ``.2e``.
    """
    scales = [float(w) for w in scales]
    settings = dict(
        dataset=dataset, data=data, epochs=epochs, seed=seed, out=out, train_size=train_size,
        batch_size=batch_size, lr=lr, scales=scales, hidden=list(hidden),
        workers=_common.resolve_workers(workers, 2 * len(scales)),
    )  # fmt: skip
    run_ = _common.Run("batchnorm", settings, verbose)
    shared = _common.load_data(dataset, data, train_size)
    tasks = [(scale, bn, settings) for scale in scales for bn in (False, True)]
    rows, series = [], {}
    for scale, bn, s in _common.map_tasks(_train, tasks, shared, settings["workers"]):
        series[f"{scale:.2e} {'BN' if bn else 'no BN'}"] = s
        if not bn:  # the first of the pair
            rows.append({"scale": scale})
        suffix = "_bn" if bn else ""
        rows[-1]["train_acc" + suffix] = s["train_acc"][-1]
        rows[-1]["test_acc" + suffix] = s["test_acc"][-1]
        run_.log(f"std {scale:.2e}, {'BN' if bn else 'no BN'}: train acc {s['train_acc'][-1]:.3f}")
    return run_.finish(
        rows,
        series,
        COLUMNS,
        [lambda r: _plot_grid(r, series, scales), lambda r: _plot_summary(r, rows)],
        title="Batch normalisation vs initial weight scale",
        notes=f"Accuracies after the last epoch; training on the first {len(shared[0][0])} images.",
    )


def _train(task, shared):
    """One (scale, batchnorm) pair: returns (scale, batchnorm, series)."""
    scale, bn, st = task
    (x, t), test = shared
    model = models.mlp(
        784, tuple(st["hidden"]), 10, activation="relu", init=scale, batchnorm=bn, rng=st["seed"]
    )
    with np.errstate(over="ignore", invalid="ignore"):  # unnormalised nets may blow up
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
    return scale, bn, s


def _plot_grid(run_, series, scales):
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
    return _common.save(fig, run_.path("grid.png"))


def _plot_summary(run_, rows):
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
    return _common.save(fig, run_.path("summary.png"))
