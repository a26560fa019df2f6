"""One runner for every experiment: the shared options, the task loop, the table, plots and files.

An experiment is a subclass of :class:`Experiment` that states only what differs: its own options
and defaults, its configurations, how one configuration trains (returning an :class:`Outcome`),
its table columns and its plots. Calling an instance runs it (``EXPERIMENTS["init"](epochs=5)``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, ClassVar

from tqdm.auto import tqdm

from .. import _backend
from ._common import DEFAULT_OUT, check_count, load_data, markdown_table, save
from ._executors import completed

# The options every experiment takes, and their defaults (an experiment may change those of
# epochs, train_size and batch_size). The first seven are settings recorded with the results;
# the last four say where and how the tasks run and do not change the numbers.
SHARED: dict[str, Any] = {
    "dataset": "mnist",
    "data": None,
    "epochs": None,
    "seed": 0,
    "out": DEFAULT_OUT,
    "train_size": None,
    "batch_size": 100,
    "workers": None,
    "executor": None,
    "backend": None,
    "verbose": False,
}
_HOW = ("workers", "executor", "backend", "verbose")


@dataclasses.dataclass
class Outcome:
    """What training one configuration returns, in every experiment.

    Attributes
    ----------
    label : str
        The configuration's name: its key in ``ExperimentResult.series``.
    row : dict
        Its results, column key -> value (an experiment may merge or rank rows afterwards).
    series : dict of str -> list
        Per-epoch lists (``train_acc``, ``test_loss``, ``epoch_time``...) and
        ``iteration_loss`` (one entry per mini-batch).
    """

    label: str
    row: dict[str, Any]
    series: dict[str, list[Any]]


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
    settings: dict[str, Any]
    rows: list[dict[str, Any]]
    series: dict[str, dict[str, list[Any]]]
    table: str
    files: list[str]
    wall_time: float


class Experiment:
    """Base class of the experiments; subclasses set the class attributes and the methods.

    A subclass's docstring lists its own options; the options every experiment takes are those
    of :meth:`__call__`.

    Attributes
    ----------
    name, title : str
        The experiment's name (``fastdl experiment NAME``) and the Markdown file's title.
    defaults : dict
        The experiment's own options with their defaults, and its defaults for ``epochs``,
        ``train_size`` and ``batch_size``.
    columns : list of (key, header, format)
        The table's columns (see :func:`fastdl.experiments._common.markdown_table`).
    progress : str
        Format of the line printed for a finished configuration, filled from its row.
    plots : tuple of str
        For each ``suffix``, the method ``plot_<suffix>(rows, series, settings)`` returns a
        matplotlib figure, saved as ``<out>/<name>-<suffix>.png``.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    columns: ClassVar[list[tuple[str, str, str]]] = []
    progress: ClassVar[str] = ""
    plots: ClassVar[tuple[str, ...]] = ()

    def check(self, settings):
        """Validate or normalise the experiment's own settings (in place)."""

    def load(self, settings):
        """The data every task reads: by default ``((x_train, t_train), (x_test, t_test))``."""
        return load_data(settings["dataset"], settings["data"], settings["train_size"])

    def configurations(self, settings):
        """The picklable configurations, one task each, in table order."""
        raise NotImplementedError

    def train(self, config, settings, data):
        """Train one configuration; returns its :class:`Outcome`. Runs in a worker."""
        raise NotImplementedError

    def table(self, outcomes, settings):
        """The result rows from the outcomes (in configuration order): by default their rows."""
        return [outcome.row for outcome in outcomes]

    def shown(self, rows, settings):
        """The rows the printed table shows: by default all."""
        return rows

    def notes(self, settings, data):
        """Markdown text written after the table."""
        return ""

    def __call__(self, **options: Any) -> ExperimentResult:
        """Run the experiment; return its :class:`ExperimentResult`.

        Parameters
        ----------
        dataset : {"mnist", "fashion-mnist"}
        data : str or os.PathLike, optional
            Directory of the full IDX files (default: the bundled 5,000/1,000 subset).
        epochs, seed : int
        out : str or os.PathLike
            Output directory for ``<name>.md`` and ``<name>-*.png``.
        train_size : int, optional
            Use the first ``train_size`` training images.
        batch_size : int
        workers : int, optional
            Single-threaded ``spawn`` processes for the configurations (default: one per core,
            at most one per configuration); 0 trains them in this process, with its threads.
        executor : concurrent.futures.Executor, optional
            Runs the configurations instead (e.g. ``dask.distributed.Client.get_executor()``);
            not with ``workers``. Every task limits itself to one thread.
        backend : str, optional
            The fastdl backend of every task (default: the one in force here).
        verbose : bool
            A progress bar and a line per finished configuration.
        **options
            The experiment's own options (see its class).

        Raises
        ------
        TypeError
            An option the experiment does not take.
        ValueError
            A bad option value, or both ``workers`` and ``executor``.
        """
        accepted = [*SHARED, *(k for k in self.defaults if k not in SHARED)]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise TypeError(
                f"experiment {self.name!r} takes no option {', '.join(unknown)}; "
                f"its options: {', '.join(accepted)}"
            )
        start = time.perf_counter()
        given = {**SHARED, **self.defaults, **options}
        settings = {k: _plain(given[k]) for k in accepted if k not in _HOW}
        settings["out"] = os.fspath(settings["out"])
        if settings["data"] is not None:
            settings["data"] = os.fspath(settings["data"])
        check_count("epochs", settings["epochs"])
        check_count("batch_size", settings["batch_size"])
        self.check(settings)
        configs = self.configurations(settings)
        workers, executor = given["workers"], given["executor"]
        if executor is None:
            settings["workers"] = workers = _resolve_workers(workers, len(configs))
        elif workers is not None:
            raise ValueError(f"give workers ({workers}) or executor, not both")
        else:
            settings["executor"] = type(executor).__name__
        backend = given["backend"] or _backend.get_backend()
        with _backend.use_backend(backend):  # checks the name and that it is available here
            settings["backend"] = backend
        data = self.load(settings)

        outcomes: list[Any] = [None] * len(configs)
        tasks = completed(
            self, configs, settings, data, workers=workers, executor=executor, backend=backend
        )
        with tqdm(total=len(configs), desc=self.name, disable=not given["verbose"]) as bar:
            for index, outcome in tasks:
                outcomes[index] = outcome
                bar.update()
                if given["verbose"]:
                    message = self.progress.format(**outcome.row)
                    elapsed = time.perf_counter() - start
                    bar.write(f"[{self.name} {elapsed:6.1f} s] {outcome.label}: {message}")
        rows = self.table(outcomes, settings)
        series = {outcome.label: outcome.series for outcome in outcomes}
        return self._write(settings, rows, series, self.notes(settings, data), start)

    def _write(self, settings, rows, series, notes, start):
        """Write the plots and the Markdown file; return the :class:`ExperimentResult`."""
        table = markdown_table(self.shown(rows, settings), self.columns)
        out = settings["out"]
        os.makedirs(out, exist_ok=True)
        pngs = [
            save(
                getattr(self, f"plot_{suffix}")(rows, series, settings),
                os.path.join(out, f"{self.name}-{suffix}.png"),
            )
            for suffix in self.plots
        ]
        described = ", ".join(f"{k}={v}" for k, v in settings.items() if k != "out")
        md = os.path.join(out, f"{self.name}.md")
        wall = time.perf_counter() - start
        with open(md, "w", encoding="utf-8") as fh:
            fh.write(f"# {self.title}\n\n`fastdl experiment {self.name}`: {described}\n\n{table}\n")
            if notes:
                fh.write(f"\n{notes}\n")
            fh.write(f"\nWall time {wall:.1f} s.\n")
        return ExperimentResult(self.name, settings, rows, series, table, [md, *pngs], wall)


def _plain(value):
    """Tuples as lists and mappings as dicts, so that the settings are JSON-serialisable."""
    if isinstance(value, (tuple, list)):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def _resolve_workers(workers, n_tasks):
    """``workers`` (0 allowed), or by default one per core but no more than ``n_tasks``."""
    if workers is None:
        return max(1, min(n_tasks, os.cpu_count() or 1))
    return check_count("workers", workers, minimum=0)
