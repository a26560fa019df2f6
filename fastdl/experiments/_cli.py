"""The ``fastdl experiment NAME`` subcommand: parser and handler, used by :mod:`fastdl.cli`."""

import argparse
import contextlib
import os
import sys
from typing import Any

from .. import _backend
from . import EXPERIMENTS, run
from ._common import DATASETS, DEFAULT_OUT
from ._runner import SHARED

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
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_count,
        help="single-threaded processes for the configurations (default: one per core; "
        "0: train in this process)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS|FILE",
        help="run the configurations on a Dask cluster: its scheduler's address "
        "(tcp://HOST:PORT) or scheduler file; needs pip install 'fastdl[dask]'",
    )
    p.add_argument("--backend", choices=["auto", *_backend.BACKENDS])
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(run=main)


def main(args):
    """Run the experiment named in ``args``; print its table and the files written."""
    options = {k: getattr(args, k) for k in _OPTIONAL if getattr(args, k) is not None}
    # run() raises TypeError for an option the experiment does not take, as Python does for a
    # keyword; here it is the user's input, reported in one line (fastdl.cli lets a TypeError
    # show its traceback, as a bug)
    foreign = sorted(set(options) - set(SHARED) - set(EXPERIMENTS[args.name].defaults))
    if foreign:
        given = ", ".join("--" + k.replace("_", "-") for k in foreign)
        print(f"fastdl experiment: error: {args.name} takes no option {given}", file=sys.stderr)
        return 2
    try:
        client: Any = _dask_client(args.scheduler) if args.scheduler else contextlib.nullcontext()
    except (ImportError, OSError) as exc:  # no Dask; no scheduler answering at that address
        print(f"fastdl experiment: error: {exc}", file=sys.stderr)
        return 2
    with client:
        if args.scheduler:
            options["executor"] = client.get_executor()
        result = run(
            args.name,
            dataset=args.dataset,
            data=args.data,
            seed=args.seed,
            out=args.out,
            backend=args.backend,
            verbose=not args.quiet,
            **options,
        )
    print(result.table)
    print(f"\n{result.name}: {result.wall_time:.1f} s; wrote {', '.join(result.files)}")
    return 0


def _dask_client(scheduler):
    """A ``distributed.Client`` of the scheduler at ``tcp://HOST:PORT`` or in a scheduler file."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError(
            f"--scheduler runs on a Dask cluster and needs Dask's distributed scheduler ({exc}); "
            "install it with: pip install 'fastdl[dask]'"
        ) from exc
    if "://" in scheduler:
        return Client(scheduler)
    if not os.path.isfile(scheduler):
        raise FileNotFoundError(
            f"--scheduler {scheduler!r} is neither an address (tcp://HOST:PORT) nor a file"
        )
    return Client(scheduler_file=scheduler)
