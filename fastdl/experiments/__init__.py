"""Training-technique comparisons, each one command: ``fastdl experiment NAME`` or :func:`run`.

Every experiment trains a few networks on MNIST or Fashion-MNIST (the bundled 5,000/1,000
subset by default, the full IDX files with ``data=DIR``), writes a Markdown table and PNG plots
to ``out``, and returns an :class:`ExperimentResult` with the table's rows, the per-epoch and
per-iteration series, the table text, the files written and the wall time. The same ``seed``
gives the same numbers. Each module's docstring states the set-up and the published experiment it
mirrors.

The configurations of an experiment (optimizers, scales, trials...) train in parallel, each on
one thread, in ``workers`` processes (default: one per core) started with ``spawn``, or on any
``concurrent.futures.Executor`` given as ``executor`` (a Dask cluster's
``Client.get_executor()``), so the numbers do not depend on the number of workers or where they
run; a script that runs an experiment this way needs an ``if __name__ == "__main__":`` guard.
``workers=0`` trains them in the calling process instead, with its thread settings (the last bits
of the results may then differ). One runner (:mod:`fastdl.experiments._runner`) holds the options
every experiment shares; each module states only its configurations, how one trains, its
columns and plots.

==================  =================================================================
name                what it compares
==================  =================================================================
``optimizers``      SGD ... AdamW on the textbook's 5-layer MLP
``init``            std 0.01 vs LeCun ("Xavier") vs Glorot vs He, sigmoid and ReLU
``batchnorm``       with vs without BatchNorm over 16 initial weight scales
``weight-decay``    L2 and L1 against overfitting (300 images, 7-layer MLP)
``dropout``         dropout ratios against overfitting (same set-up)
``early-stopping``  without vs with early stopping, several patiences
``activations``     ReLU, Swish, h-swish, Mish, TanhExp, sigmoid, tanh, GELU
``flooding``        Flooding's flood level b
``hyperparams``     random search over learning rate and weight decay
==================  =================================================================
"""

from typing import Any

from . import (
    activations,
    batchnorm,
    early_stopping,
    flooding,
    hyperparams,
    init,
    optimizers,
    regularization,
)
from ._runner import ExperimentResult

EXPERIMENTS = {
    "optimizers": optimizers.run,
    "init": init.run,
    "batchnorm": batchnorm.run,
    "weight-decay": regularization.weight_decay,
    "dropout": regularization.dropout,
    "early-stopping": early_stopping.run,
    "activations": activations.run,
    "flooding": flooding.run,
    "hyperparams": hyperparams.run,
}


def run(name: str, **options: Any) -> ExperimentResult:
    """Run the experiment ``name`` and return its :class:`ExperimentResult`.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS`.
    **options
        The options every experiment takes, e.g. ``dataset="fashion-mnist"``,
        ``data="path/to/full/mnist"``, ``epochs=5``, ``seed=1``, ``out="results"``,
        ``train_size=1000``, ``workers=2`` or ``executor=client.get_executor()``,
        ``backend="numba"``, ``verbose=True`` (see
        :meth:`fastdl.experiments._runner.Experiment.__call__`), and the experiment's own (see
        its class); unset ones keep the experiment's defaults.

    Raises
    ------
    ValueError
        Unknown experiment name, or a bad option value.
    TypeError
        An option the experiment does not take.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name](**options)


__all__ = ["EXPERIMENTS", "ExperimentResult", "run"]
