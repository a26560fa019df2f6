"""Plots with matplotlib's Agg backend (no display needed): learning curves and bar charts."""

import os


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def learning_curves(histories, path, title="", val_label="validation"):
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
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
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
    return _save(fig, plt, path)


def bar_chart(labels, values, path, *, ylabel="", title="", log=False):
    """Save a bar chart of ``values`` (one bar per label) to a PNG; returns the path."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(labels)), 4))
    ax.bar(range(len(values)), values, color=[f"C{i % 10}" for i in range(len(values))])
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize="small")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, plt, path)


def _save(fig, plt, path):
    path = os.fspath(path)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
