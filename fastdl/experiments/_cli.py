"""The ``fastdl experiment NAME`` subcommand: parser and handler, used by :mod:`fastdl.cli`."""

import argparse

from .. import _backend
from . import EXPERIMENTS, run
from ._common import DATASETS, DEFAULT_OUT

# Options passed to the experiment only when given, so each experiment keeps its own defaults.
_OPTIONAL = ("epochs", "train_size", "batch_size", "lr", "trials", "workers")


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _count(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def add_parser(subparsers):
    """Add the ``experiment`` subcommand to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "experiment",
        help="compare training techniques: Markdown table and PNG plots",
        description="Run a training-technique comparison; print its table, write the table "
        "and plots to --out. Options an experiment does not take are an error.",
    )
    p.add_argument("name", choices=list(EXPERIMENTS))
    p.add_argument("--dataset", choices=DATASETS, default="mnist")
    p.add_argument(
        "--data",
        metavar="DIR",
        help="directory with the full IDX .gz files (default: the bundled 5,000/1,000 subset)",
    )
    p.add_argument("--epochs", type=_positive_int, help="default: the experiment's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=DEFAULT_OUT, help="directory for the .md and .png files")
    p.add_argument("--train-size", type=_positive_int, help="use the first N training images")
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--lr", type=float, help="learning rate (not for optimizers)")
    p.add_argument("--trials", type=_positive_int, help="hyperparams: number of trials")
    p.add_argument(
        "--workers",
        type=_count,
        help="single-threaded processes for the configurations (default: one per core; "
        "0: train in this process)",
    )
    p.add_argument("--backend", choices=["auto", *_backend.BACKENDS])
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(run=main)


def main(args):
    """Run the experiment named in ``args``; print its table and the files written."""
    if args.backend:
        _backend.set_backend(args.backend)
    options = {k: getattr(args, k) for k in _OPTIONAL if getattr(args, k) is not None}
    result = run(
        args.name,
        dataset=args.dataset,
        data=args.data,
        seed=args.seed,
        out=args.out,
        verbose=not args.quiet,
        **options,
    )
    print(result.table)
    print(f"\n{result.name}: {result.wall_time:.1f} s; wrote {', '.join(result.files)}")
    return 0
