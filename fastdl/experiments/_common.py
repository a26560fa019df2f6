"""What every experiment shares: data, training with per-epoch evaluation, tables, plots, result.

Conventions
-----------
- Every configuration (an optimizer, a scale, a trial...) is one task for :func:`map_tasks`,
  which runs the tasks in single-threaded worker processes, one per core by default.
- Epochs in tables are 1-based ("epoch 3" is the third pass over the training data).
- Accuracies in tables are percentages; in ``rows`` and ``series`` they are fractions in [0, 1].
- ``train_*`` and ``test_*`` series are measured after each epoch in inference mode
  (``train=False``: dropout off, BatchNorm running statistics), as the textbook's ``Trainer``
  does; ``loss`` and ``acc`` are what :func:`fastdl.fit` reports, the means over the epoch's
  mini-batches.
"""

import contextlib
import dataclasses
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

from .. import _backend, datasets
from ..callbacks import Callback
from ..plots import _pyplot, _save
from ..training import evaluate, fit

DEFAULT_OUT = "fastdl-out"
DATASETS = ("mnist", "fashion-mnist")
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)

_SHARED = {}  # in a worker process: the data sent once by _set_shared


@dataclasses.dataclass
class ExperimentResult:
    """What an experiment returns.

    Attributes
    ----------
    name : str
        The experiment's name in :data:`fastdl.experiments.EXPERIMENTS`.
    settings : dict
        Every setting the run used (defaults filled in), JSON-serialisable.
    rows : list of dict
        The table's data, unformatted: one dict per configuration (column key -> value).
    series : dict of str -> dict of str -> list
        Per configuration label: per-epoch lists (``train_acc``, ``test_loss``, ``epoch_time``...,
        one entry per epoch) and ``iteration_loss`` (one entry per mini-batch).
    table : str
        The Markdown table (what the command prints).
    files : list of str
        Paths written: the Markdown file first, then the PNG plots.
    wall_time : float
        Seconds for the whole experiment (data loading, training, evaluation, plots).
    """

    name: str
    settings: dict
    rows: list
    series: dict
    table: str
    files: list
    wall_time: float


class Run:
    """Bookkeeping of one experiment: start time, settings, progress messages, output files.

    Parameters
    ----------
    name : str
    settings : dict
        The experiment's settings, ``out`` (the output directory) among them.
    verbose : bool
        Print one progress line per configuration.
    """

    def __init__(self, name, settings, verbose):
        self.start = time.perf_counter()
        self.name, self.settings, self.verbose = name, dict(settings), verbose
        self.out = self.settings["out"] = os.fspath(settings["out"])
        if settings.get("data") is not None:
            self.settings["data"] = os.fspath(settings["data"])

    def log(self, message):
        if self.verbose:
            print(f"[{self.name} {time.perf_counter() - self.start:6.1f} s] {message}", flush=True)

    def path(self, suffix):
        """Output path ``<out>/<name>-<suffix>``."""
        return os.path.join(self.out, f"{self.name}-{suffix}")

    def finish(self, rows, series, columns, plots, title, notes="", shown=None):
        """Write the plots and the Markdown file; return the :class:`ExperimentResult`.

        Parameters
        ----------
        rows : list of dict
        series : dict
        columns : list of (key, header, format)
            See :func:`markdown_table`.
        plots : list of callable
            Each ``plot(run) -> path`` writes one PNG.
        title : str
            First line of the Markdown file.
        notes : str
            Markdown text after the table.
        shown : list of dict, optional
            The rows the table shows (default: all of ``rows``).
        """
        table = markdown_table(rows if shown is None else shown, columns)
        os.makedirs(self.out, exist_ok=True)
        pngs = [plot(self) for plot in plots]
        described = ", ".join(f"{k}={v}" for k, v in self.settings.items() if k != "out")
        md = os.path.join(self.out, f"{self.name}.md")
        wall = time.perf_counter() - self.start
        with open(md, "w", encoding="utf-8") as fh:
            fh.write(f"# {title}\n\n`fastdl experiment {self.name}`: {described}\n\n{table}\n")
            if notes:
                fh.write(f"\n{notes}\n")
            fh.write(f"\nWall time {wall:.1f} s.\n")
        return ExperimentResult(self.name, self.settings, rows, series, table, [md, *pngs], wall)


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


def resolve_workers(workers, n_tasks):
    """``workers`` (0 allowed), or by default one per core but no more than ``n_tasks``."""
    if workers is None:
        return max(1, min(n_tasks, os.cpu_count() or 1))
    return check_count("workers", workers, minimum=0)


def map_tasks(fn, tasks, shared, workers):
    """Yield ``fn(task, shared)`` for every task, in the order of ``tasks``.

    With ``workers >= 1`` the tasks run in a pool of ``workers`` processes started with
    ``spawn``: ``shared`` (the data) is sent once to each, the thread-count variables of
    :data:`THREAD_VARIABLES` are 1 there (small matrices run best on one thread per process, and
    a busy machine is not oversubscribed), and the backend in force here is used there. Every
    task seeds its own random numbers, so the results do not depend on ``workers``. With
    ``workers == 0`` the tasks run in this process, with its threads: parallel reductions may
    then round differently in the last bits. ``fn`` must be a module-level function and
    ``task`` picklable.
    """
    if workers == 0:
        for task in tasks:
            yield fn(task, shared)
        return
    backend = _backend.get_backend()
    with ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_set_shared, initargs=(shared,)
    ) as pool:
        with _single_threaded_children():  # the workers start during submit
            futures = [pool.submit(_call_shared, fn, task, backend) for task in tasks]
        try:
            for future in futures:
                yield future.result()
        finally:  # on an error, do not wait for the remaining tasks
            for future in futures:
                future.cancel()


@contextlib.contextmanager
def _single_threaded_children():
    """Set :data:`THREAD_VARIABLES` to 1 for the processes started inside; restore after."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _set_shared(shared):
    _SHARED["data"] = shared


def _call_shared(fn, task, backend):
    with _backend.use_backend(backend):
        return fn(task, _SHARED["data"])


class _Evaluator(Callback):
    """After every epoch, loss and accuracy of the model in inference mode on named sets."""

    def __init__(self, sets):
        self.sets = sets
        self.series = {f"{name}_{m}": [] for name in sets for m in ("loss", "acc")}

    def on_epoch_end(self, trainer, epoch, logs):
        for name, (x, t) in self.sets.items():
            loss, acc = evaluate(trainer.model, x, t)
            self.series[f"{name}_loss"].append(loss)
            self.series[f"{name}_acc"].append(acc)


def train(model, optimizer, x, t, *, epochs, batch_size, seed, sets, callbacks=(), **fit_kwargs):
    """:func:`fastdl.fit` (silent) plus the per-epoch evaluation on ``sets``.

    Parameters
    ----------
    model, optimizer
    x : ndarray (N, 784); t : ndarray (N,)
    epochs, batch_size, seed : int
    sets : dict of str -> (x, t)
        Evaluated after every epoch, e.g. ``{"train": (x, t), "test": (x_test, t_test)}``.
    callbacks : sequence of Callback
        Run before the evaluation.
    **fit_kwargs
        ``loss``, ``regularizer``, ``validation_data``.

    Returns
    -------
    (History, dict)
        The series dict holds ``iteration_loss``, ``loss`` and ``acc`` (means over the epoch's
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
        epochs,
        batch_size,
        seed=seed,
        callbacks=[*callbacks, evaluator],
        verbose=0,
        **fit_kwargs,
    )
    h = history.history
    series = {"iteration_loss": list(history.iteration_loss), "loss": h["loss"], "acc": h["acc"]}
    if "validation_data" in fit_kwargs:
        series.update(val_loss=h["val_loss"], val_acc=h["val_acc"])
    series.update(evaluator.series, epoch_time=h["time"])
    return history, series


def first_epoch_reaching(values, threshold):
    """1-based index of the first value >= ``threshold``, or None if none reaches it."""
    for i, value in enumerate(values):
        if value >= threshold:
            return i + 1
    return None


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


def figure(nrows, ncols, width=5.0, height=3.6, **kwargs):
    """A matplotlib (Agg) figure with an ``(nrows, ncols)`` array of axes."""
    plt = _pyplot()
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kwargs
    )
    return fig, axes


def save(fig, path):
    """Save ``fig`` to the PNG ``path`` and close it; returns the path."""
    return _save(fig, _pyplot(), path)


def integer_ticks(ax):
    """Integer ticks on the x axis (epochs)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def epochs_axis(ax, ylabel, title=""):
    """Label an axis whose x is the 1-based epoch."""
    integer_ticks(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize="medium")
