"""What the experiments' training and plotting share: data, training with per-epoch evaluation,
tables, figures. The runner (options, task loop, files) is :mod:`fastdl.experiments._runner`.

Conventions
-----------
- Every configuration (an optimizer, a scale, a trial...) is one task, trained on one thread;
  see :mod:`fastdl.experiments._executors`.
- Epochs in tables are 1-based ("epoch 3" is the third pass over the training data).
- Accuracies in tables are percentages; in ``rows`` and ``series`` they are fractions in [0, 1].
- ``train_*`` and ``test_*`` series are measured after each epoch in inference mode
  (``train=False``: dropout off, BatchNorm running statistics), as the textbook's ``Trainer``
  does; ``loss`` and ``acc`` are what :func:`fastdl.fit` reports, the means over the epoch's
  mini-batches.
"""

from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import datasets
from ..callbacks import Callback
from ..plots import _figure, _Path, _save
from ..training import evaluate, fit

DEFAULT_OUT = "fastdl-out"
DATASETS = ("mnist", "fashion-mnist")


def load_data(dataset, data=None, train_size=None):
    """Load MNIST or Fashion-MNIST flattened to (N, 784) float32 in [0, 1].

    Parameters
    ----------
    dataset : {"mnist", "fashion-mnist"}
    data : str or os.PathLike, optional
        Directory of the full IDX files; None for the bundled 5,000/1,000 subset.
    train_size : int, optional
        Keep the first ``train_size`` training images.

    Returns
    -------
    ((x_train, t_train), (x_test, t_test))
        x of shape (N, 784) float32, t of shape (N,) int64.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    loader = datasets.load_fashion_mnist if dataset == "fashion-mnist" else datasets.load_mnist
    (x_train, t_train), test = loader(data)
    if train_size is not None:
        if check_count("train_size", train_size) > len(x_train):
            raise ValueError(f"train_size must be in [1, {len(x_train)}], got {train_size}")
        x_train, t_train = x_train[:train_size], t_train[:train_size]
    return (x_train, t_train), test


def check_count(name, value, minimum=1):
    """Return ``value`` as an int, or raise ``ValueError`` if it is not an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


class _Evaluator(Callback):
    """After every epoch, loss and accuracy of the model in inference mode on named sets."""

    def __init__(self, sets):
        self.sets = sets
        self.series: dict[str, list[float]] = {
            f"{name}_{m}": [] for name in sets for m in ("loss", "acc")
        }

    def on_epoch_end(self, trainer, epoch, logs):
        for name, (x, t) in self.sets.items():
            loss, acc = evaluate(trainer.model, x, t)
            self.series[f"{name}_loss"].append(loss)
            self.series[f"{name}_acc"].append(acc)


def train(model, optimizer, x, t, settings, *, sets, seed=None, callbacks=(), **fit_kwargs):
    """:func:`fastdl.fit` (silent) plus the per-epoch evaluation on ``sets``.

    Parameters
    ----------
    model, optimizer
    x : ndarray (N, 784); t : ndarray (N,)
    settings : dict
        The experiment's settings: ``epochs``, ``batch_size`` and ``seed`` are used.
    sets : dict of str -> (x, t)
        Evaluated after every epoch, e.g. ``{"train": (x, t), "test": (x_test, t_test)}``.
    seed : int, optional
        The batch order's seed, if not ``settings["seed"]``.
    callbacks : sequence of Callback
        Run before the evaluation.
    **fit_kwargs
        ``loss``, ``regularizer``, ``validation_data``.

    Returns
    -------
    dict
        The series: ``iteration_loss``, ``loss`` and ``acc`` (means over the epoch's
        mini-batches, in training mode), ``epoch_time`` (training seconds per epoch, without the
        evaluation on ``sets``), ``<set>_loss``/``<set>_acc`` per set, and
        ``val_loss``/``val_acc`` when ``validation_data`` is given.
    """
    evaluator = _Evaluator(sets)
    history = fit(
        model,
        optimizer,
        x,
        t,
        settings["epochs"],
        settings["batch_size"],
        seed=settings["seed"] if seed is None else seed,
        callbacks=[*callbacks, evaluator],
        verbose=0,
        **fit_kwargs,
    )
    h = history.history
    series = {"iteration_loss": list(history.iteration_loss), "loss": h["loss"], "acc": h["acc"]}
    if "validation_data" in fit_kwargs:
        series.update(val_loss=h["val_loss"], val_acc=h["val_acc"])
    series.update(evaluator.series, epoch_time=h["time"])
    return series


def first_epoch_reaching(values, threshold):
    """1-based index of the first value >= ``threshold``, or None if none reaches it."""
    for i, value in enumerate(values):
        if value >= threshold:
            return i + 1
    return None


# Columns that several experiments show: key -> (header, format); see markdown_table.
SHARED_COLUMNS = {
    "train_acc": ("train acc (%)", "pct"),
    "test_acc": ("test acc (%)", "pct"),
    "best_test_acc": ("best test acc (%)", "pct"),
    "time": ("train time (s)", ".1f"),
}


def columns(*specs):
    """Table columns for :func:`markdown_table`: each a key of :data:`SHARED_COLUMNS` or a
    ``(key, header, format)`` triple."""
    return [(spec, *SHARED_COLUMNS[spec]) if isinstance(spec, str) else spec for spec in specs]


def markdown_table(rows, columns):
    """Format ``rows`` as a Markdown pipe table.

    Parameters
    ----------
    rows : list of dict
    columns : list of (key, header, format)
        ``format`` is a format spec such as ``".2f"``, ``"pct"`` (a fraction shown as a
        percentage with two decimals) or ``""`` (``str``). None values are shown as ``-``.

    Returns
    -------
    str, without a trailing newline
    """
    lines = [
        "| " + " | ".join(header for _, header, _ in columns) + " |",
        "| " + " | ".join("---" if fmt == "" else "---:" for _, _, fmt in columns) + " |",
    ]
    for row in rows:
        cells = [_cell(row[key], fmt) for key, _, fmt in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value, fmt):
    if value is None:
        return "-"
    if fmt == "pct":
        return f"{100 * value:.2f}"
    return format(value, fmt) if fmt else str(value)


def smooth(values, window=21):
    """Moving average of a 1-D sequence ("valid" part, so ``len - window + 1`` points).

    Returns
    -------
    (x, y) : (ndarray, ndarray)
        ``x`` the 0-based index of each window's centre, ``y`` the average.
    """
    values = np.asarray(values, dtype=np.float64)
    window = max(1, min(window, len(values)))
    y = np.convolve(values, np.ones(window) / window, mode="valid")
    return np.arange(len(y)) + (window - 1) / 2, y


def figure(
    nrows: int, ncols: int, width: float = 5.0, height: float = 3.6, **kwargs: Any
) -> tuple[Figure, npt.NDArray[Any]]:
    """A matplotlib ``Figure`` (not pyplot's) with an ``(nrows, ncols)`` array of axes.

    ``width`` and ``height`` are inches per axes; ``kwargs`` go to ``Figure.subplots``.
    """
    return _figure(nrows, ncols, width, height, **kwargs)


def save(fig: Figure, path: _Path) -> str:
    """Save ``fig`` to the PNG ``path``; returns the path."""
    return _save(fig, path)


def integer_ticks(ax: Axes) -> None:
    """Integer ticks on the x axis (epochs)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def epochs_axis(ax: Axes, ylabel: str, title: str = "") -> None:
    """Label an axis whose x is the 1-based epoch."""
    integer_ticks(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize="medium")
