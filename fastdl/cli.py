"""Command line: ``fastdl demo | train | bench | experiment`` (also ``python -m fastdl ...``).

- ``demo``: trains the textbook's SimpleConvNet on the bundled MNIST subset with a progress bar,
  prints the test accuracy, saves a PNG of the learning curves, then a small backend comparison.
- ``train``: any model / optimizer / initialiser / activation / regularisation / loss on MNIST
  or Fashion-MNIST (the bundled subset, or the full IDX files with ``--data DIR``).
- ``bench``: the kernel comparison table across the available backends, optional PNG chart.
- ``experiment NAME``: a training-technique comparison (optimizers, init, batchnorm, ...), its
  Markdown table and PNG plots; see :mod:`fastdl.experiments`.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any, Callable, TypeVar

import numpy.typing as npt

from . import _backend, benchmark, callbacks, datasets, models, optimizers, plots, regularizers
from ._typing import FloatArray
from .callbacks import Callback
from .experiments import _cli as experiment_cli
from .layers import Sequential
from .serialization import save_model
from .training import evaluate, fit, split_validation

_T = TypeVar("_T")

# --loss names -> fastdl.losses names
_LOSSES = {"cross-entropy": "softmax_cross_entropy", "mse": "mse"}

# What main reports in one line (exit status 2): the errors a user's input causes. Option values
# that fastdl's checks reject (ValueError), files that cannot be read or written (OSError, e.g. a
# FileNotFoundError for --data), a training run that diverged (FloatingPointError, e.g. from a
# too-large --lr), a backend that is not available here (BackendError). Any other exception, a
# TypeError included, is a bug in fastdl and shows its traceback.
_USER_ERRORS = (ValueError, OSError, FloatingPointError, _backend.BackendError)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _checked(
    convert: Callable[[str], _T], ok: Callable[[_T], bool], what: str
) -> Callable[[str], _T]:
    """An argparse type: ``convert(text)``, rejected unless ``ok(value)``; ``what`` says why."""

    def parse(text: str) -> _T:
        value = convert(text)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    parse.__name__ = what  # argparse names it when ``convert`` fails
    return parse


_positive_float = _checked(float, lambda v: math.isfinite(v) and v > 0, "a positive finite number")
_fraction = _checked(float, lambda v: 0 <= v < 1, "in [0, 1)")
_non_negative_float = _checked(float, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(_positive_int(part) for part in text.split(","))
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"must be positive integers separated by commas, such as 100,50; got {text!r}"
        ) from None
    return sizes


def _writable_dir(path: str) -> None:
    """Create ``path`` if needed and check that a file can be written there (before training)."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ValueError(f"--out {path!r} is not a writable directory ({exc})") from exc


def _init(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _load(
    args: argparse.Namespace, flatten: bool
) -> tuple[FloatArray, npt.NDArray[Any], FloatArray, npt.NDArray[Any]]:
    """``(x_train, t_train, x_test, t_test)``; labels (N,) int64, or (N, 10) one-hot for MSE."""
    loader = datasets.load_fashion_mnist if args.dataset == "fashion-mnist" else datasets.load_mnist
    one_hot = args.loss == "mse"  # MSE compares the outputs with one-hot rows
    (x_train, t_train), (x_test, t_test) = loader(args.data, flatten=flatten, one_hot_label=one_hot)
    if args.train_size:
        x_train, t_train = x_train[: args.train_size], t_train[: args.train_size]
    return x_train, t_train, x_test, t_test


def _build(args: argparse.Namespace) -> Sequential:
    kwargs: dict[str, Any] = {"activation": args.activation, "rng": args.seed}
    if args.init is not None:
        kwargs["init"] = args.init
    output_activation = None if args.output_activation == "none" else args.output_activation
    if output_activation is not None and args.loss == "cross-entropy":
        raise ValueError(
            f"--output-activation {output_activation} with --loss cross-entropy: the "
            "cross-entropy loss applies softmax to the raw scores itself; use --loss mse, "
            "or --output-activation none"
        )
    if args.model == "mlp":
        return models.mlp(
            784,
            args.hidden,
            10,
            output_activation=output_activation,
            batchnorm=args.batchnorm,
            dropout=args.dropout,
            **kwargs,
        )
    if args.batchnorm:
        raise ValueError("--batchnorm is available for --model mlp only")
    if output_activation is not None:
        raise ValueError("--output-activation is available for --model mlp only")
    if args.model == "deep-cnn":
        return models.deep_cnn(dropout=args.dropout, **kwargs)
    return models.simple_cnn(**kwargs)


def _train(args: argparse.Namespace) -> int:
    # every option is checked (the model, optimizer and output directory made) before the data
    # is read and training starts
    _writable_dir(args.out)
    if args.backend:
        _backend.set_backend(args.backend)
    model = _build(args)
    lr = {} if args.lr is None else {"lr": args.lr}
    opt = optimizers.get_optimizer(args.optimizer, **lr)
    reg = (
        regularizers.get_regularizer(args.regularizer, args.weight_decay)
        if args.weight_decay
        else None
    )
    loss = _LOSSES[args.loss]
    x_train, t_train, x_test, t_test = _load(args, flatten=args.model == "mlp")
    cbs: list[Callback] = []
    if args.early_stopping:
        cbs.append(
            callbacks.EarlyStopping("val_loss", args.early_stopping, restore_best_weights=True)
        )
    if args.validation_split:
        (x_train, t_train), val_data = split_validation(x_train, t_train, args.validation_split)
        held_out = f", {len(val_data[0])} for validation"
    else:
        val_data, held_out = (x_test, t_test), ""
    print(
        f"fastdl train: {args.model} on {args.dataset} ({len(x_train)} training images"
        f"{held_out}), {args.loss} loss, {opt!r}, backend {_backend.get_backend()}"
    )
    start = time.perf_counter()
    hist = fit(
        model,
        opt,
        x_train,
        t_train,
        args.epochs,
        args.batch_size,
        loss=loss,
        seed=args.seed,
        callbacks=cbs,
        regularizer=reg,
        verbose=0 if args.quiet else 1,
        validation_data=val_data,
    )
    test_loss, acc = evaluate(model, x_test, t_test, loss=loss)
    print(
        f"test accuracy {acc:.4f} (loss {test_loss:.4f}) after {hist.epochs} epochs, "
        f"{time.perf_counter() - start:.1f} s"
    )
    png = plots.learning_curves(
        hist,
        os.path.join(args.out, f"{args.model}-curves.png"),
        title=f"{args.model} on {args.dataset}",
        val_label="validation" if args.validation_split else "test",
    )
    saved = os.path.join(args.out, f"{args.model}.npz")
    save_model(model, saved)
    print(f"learning curves: {png}\nmodel: {saved}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    print(f"fastdl demo: backends available here: {', '.join(_backend.available_backends())}")
    (x_train, t_train), (x_test, t_test) = datasets.load_mnist(flatten=False)
    model = models.simple_cnn(init="he_normal", rng=args.seed)
    opt = optimizers.get_optimizer("adam", lr=0.001)
    print(
        f"training SimpleConvNet on the bundled MNIST subset ({len(x_train)} train / "
        f"{len(x_test)} test images), Adam lr 0.001, batch 100, {args.epochs} epochs"
    )
    start = time.perf_counter()
    hist = fit(
        model,
        opt,
        x_train,
        t_train,
        args.epochs,
        100,
        seed=args.seed,
        validation_data=(x_test, t_test),
        verbose=1,
    )
    _, acc = evaluate(model, x_test, t_test)
    print(f"test accuracy: {acc:.4f}  ({time.perf_counter() - start:.1f} s of training)")
    png = plots.learning_curves(
        hist,
        os.path.join(args.out, "demo-learning-curves.png"),
        title="SimpleConvNet, bundled MNIST subset",
        val_label="test",
    )
    print(f"learning curves saved to {png}\n")
    print("kernel comparison (float32, quick shapes, median of 3 calls, checked against numpy):")
    print(benchmark.format_table(benchmark.compare_backends(quick=True, repeat=3)))
    return 0


def _bench(args: argparse.Namespace) -> int:
    kernels = set(args.kernels.split(",")) if args.kernels else None
    if kernels and not kernels <= set(_backend.FAMILIES):
        raise SystemExit(
            f"fastdl bench: unknown kernels {sorted(kernels - set(_backend.FAMILIES))}"
        )
    rows = benchmark.compare_backends(kernels, quick=args.quick, repeat=args.repeat)
    print(benchmark.format_table(rows))
    if args.png:
        labels = [f"{r['kernel']} {r['backend']}\n{r['shape']}" for r in rows]
        plots.bar_chart(
            labels,
            [r["median_s"] * 1e3 for r in rows],
            args.png,
            ylabel="median time (ms)",
            title="fastdl kernels",
            log=True,
        )
        print(f"chart saved to {args.png}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastdl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="train SimpleConvNet on bundled MNIST, compare backends")
    demo.add_argument("--epochs", type=_positive_int, default=8)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out", default="fastdl-out", help="directory for the PNG")
    demo.set_defaults(run=_demo)

    train = sub.add_parser("train", help="train a model")
    train.add_argument("--model", choices=sorted(models.MODELS), default="simple-cnn")
    train.add_argument("--dataset", choices=["mnist", "fashion-mnist"], default="mnist")
    train.add_argument(
        "--data",
        metavar="DIR",
        help="directory with the full IDX .gz files (default: the bundled 5,000/1,000 subset)",
    )
    train.add_argument("--epochs", type=_positive_int, default=20)
    train.add_argument("--batch-size", type=_positive_int, default=100)
    train.add_argument(
        "--optimizer",
        default="adam",
        help="sgd, momentum, nesterov, adagrad, rmsprop, adadelta, adam, adamw, nadam",
    )
    train.add_argument(
        "--lr", type=_positive_float, help="learning rate > 0 (default: the optimizer's)"
    )
    train.add_argument(
        "--init",
        type=_init,
        help="initialiser name or a normal std such as 0.01 "
        "(default: the model's: 0.01 for simple-cnn, he_normal otherwise)",
    )
    train.add_argument("--activation", default="relu", help="hidden layers' activation")
    train.add_argument(
        "--output-activation",
        default="none",
        metavar="ACTIVATION",
        help="mlp output layer: none (raw scores, default) or an activation such as sigmoid "
        "(with --loss mse)",
    )
    train.add_argument(
        "--loss",
        choices=list(_LOSSES),
        default="cross-entropy",
        help="cross-entropy (softmax of the scores, default) or mse (against one-hot labels)",
    )
    train.add_argument(
        "--hidden", type=_sizes, default=(100, 50), help="mlp hidden sizes, comma-separated"
    )
    train.add_argument("--batchnorm", action="store_true", help="BatchNorm (mlp)")
    train.add_argument("--dropout", type=_fraction, default=0.0, help="dropout ratio in [0, 1)")
    train.add_argument("--weight-decay", type=_non_negative_float, default=0.0, help="lambda")
    train.add_argument("--regularizer", choices=["l2", "l1"], default="l2")
    train.add_argument(
        "--early-stopping", type=experiment_cli._count, default=0, metavar="PATIENCE"
    )
    train.add_argument(
        "--validation-split",
        type=_fraction,
        default=0.0,
        help="hold out this fraction for validation (default: use the test set)",
    )
    train.add_argument("--train-size", type=_positive_int, help="use the first N training images")
    train.add_argument("--backend", choices=["auto", *_backend.BACKENDS])
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default="fastdl-out")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)

    bench = sub.add_parser("bench", help="kernel comparison table across backends")
    bench.add_argument("--kernels", help="comma-separated kernel names (default: all)")
    bench.add_argument("--quick", action="store_true", help="a few shapes only")
    bench.add_argument("--repeat", type=_positive_int, default=5)
    bench.add_argument("--png", help="also save a bar chart here")
    bench.set_defaults(run=_bench)

    experiment_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fastdl`` console script; returns the exit status.

    Errors caused by the user's input (see ``_USER_ERRORS``) print one line
    ``fastdl COMMAND: error: ...`` and return 2; other exceptions propagate with their traceback.
    """
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except _USER_ERRORS as exc:
        print(f"fastdl {args.command}: error: {exc}", file=sys.stderr)
        return 2
