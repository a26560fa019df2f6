"""Plots saved as PNG files: learning curves and bar charts.

Figures are drawn on :class:`matplotlib.figure.Figure` objects made directly, not through
``matplotlib.pyplot``, and written with ``Figure.savefig``: no display is needed, and the
caller's matplotlib backend and open pyplot figures are left as they were (in a notebook or a
GUI too).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from .training import History

_Path = Union[str, "os.PathLike[str]"]


def _figure(
    nrows: int, ncols: int, width: float, height: float, **kwargs: Any
) -> tuple[Figure, npt.NDArray[Any]]:
    """A new figure of ``(width * ncols, height * nrows)`` inches with a grid of axes.

    Parameters
    ----------
    nrows, ncols : int
    width, height : float
        Inches per axes.
    **kwargs
        Passed to :meth:`matplotlib.figure.Figure.subplots` (``sharex``, ``sharey``...).

    Returns
    -------
    (fig, axes) : (Figure, ndarray of Axes of shape (nrows, ncols))
    """
    fig = Figure(figsize=(width * ncols, height * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def _save(fig: Figure, path: _Path) -> str:
    """Write ``fig`` to the PNG ``path`` (its directory created if needed); returns the path."""
    path = os.fspath(path)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def learning_curves(
    histories: History | Mapping[str, History],
    path: _Path,
    title: str = "",
    val_label: str = "validation",
) -> str:
    """Save loss and accuracy per epoch, train (solid) and validation (dashed), to a PNG.

    Parameters
    ----------
    histories : dict of str -> History, or a single History
    path : str or os.PathLike
        Output PNG file; its directory is created if needed.
    title : str
    val_label : str
        Legend name of the ``val_*`` curves (e.g. ``"test"`` when the test set was monitored).

    Returns
    -------
    str : the path written
    """
    from .training import History

    if isinstance(histories, History):
        histories = {"": histories}
    fig, axes = _figure(1, 2, width=5.0, height=4.0)
    ax_loss, ax_acc = axes[0]
    for i, (label, hist) in enumerate(histories.items()):
        color = f"C{i % 10}"
        epochs = range(1, hist.epochs + 1)
        for ax, key in ((ax_loss, "loss"), (ax_acc, "acc")):
            name = f"{label} " if label else ""
            ax.plot(epochs, hist.history[key], color=color, label=f"{name}train")
            val = hist.history["val_" + key]
            if any(v is not None for v in val):
                ax.plot(epochs, val, color=color, linestyle="--", label=f"{name}{val_label}")
    for ax, ylabel in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float] | npt.NDArray[np.floating[Any]],
    path: _Path,
    *,
    ylabel: str = "",
    title: str = "",
    log: bool = False,
) -> str:
    """Save a bar chart of ``values`` (one bar per label) to a PNG; returns the path.

    Parameters
    ----------
    labels : sequence of str, length K
    values : sequence of float, length K
    path : str or os.PathLike
        Output PNG file; its directory is created if needed.
    ylabel, title : str
    log : bool
        A logarithmic y axis.
    """
    fig, axes = _figure(1, 1, width=max(6.0, 0.5 * len(labels)), height=4.0)
    ax = axes[0, 0]
    ax.bar(range(len(values)), values, color=[f"C{i % 10}" for i in range(len(values))])
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize="small")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)
