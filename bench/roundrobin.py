"""The training-step comparison of ``bench_train.py``, timed round-robin in one process.

This machine's speed drifts between two levels for seconds at a time, so timing one contender
after the other (as pytest-benchmark does) can put one in a fast phase and the next in a slow
one. Here every round times one step (or one epoch) of every contender, in an order that rotates
from round to round, and the table gives each contender's median over the rounds, with the
ratio to PyTorch's median.

Usage (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/roundrobin.py [--rounds 15]
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/roundrobin.py --fit --rounds 5
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/roundrobin.py --conv --threads 2

``--conv`` times one float32 conv forward + backward of every ``bench_conv.py`` shape: each
compiled backend as the rule picks (``cython``, ``numba``), each algorithm forced
(``cython-im2col``, ``cython-winograd``, ...; Winograd on 3x3 filters only) and PyTorch.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_conv as bc  # noqa: E402 - the conv shapes and cases live there
import bench_train as bt  # noqa: E402 - the step builders live there
import numpy as np  # noqa: E402

import fastdl  # noqa: E402
from fastdl._kernels import _conv_rule, _winograd  # noqa: E402

import conftest  # noqa: E402, F401 - imports PyTorch before fastdl's kernels (see there)


def _rounds(contenders, rounds, reps=1):
    """Median seconds per call of each of ``contenders`` (name -> callable), round-robin.

    Each turn pauses ``PAUSE`` seconds, so that the thread pools of the previous contender
    (PyTorch's OpenMP threads spin after its parallel loops; OpenBLAS's too after a GEMM) have
    gone to sleep and do not take the cores from the next one, makes one untimed call, then
    times ``reps`` calls in a row (as a training loop makes them). The untimed call matters on
    this VM: the first multi-threaded call after an idle pause ran up to twice as slow (a conv
    backward on 2 threads took 15 ms instead of 6.8 ms, each thread as long as one thread doing
    all of it), which no training loop sees.
    """
    names = list(contenders)
    times = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            time.sleep(PAUSE)
            contenders[name]()
            start = time.perf_counter()
            for _ in range(reps):
                contenders[name]()
            times[name].append((time.perf_counter() - start) / reps)
    return {name: statistics.median(t) for name, t in times.items()}


PAUSE = 0.2  # seconds between turns: longer than libgomp's and OpenBLAS's spinning


def _row(label, medians, peer="torch"):
    cells = [f"{medians[n] * 1e3:.3g}" if n in medians else "-" for n in COLUMNS]
    base = medians.get(peer)
    ratios = ", ".join(
        f"{n} {medians[n] / base:.2f}" for n in COLUMNS if n in medians and n != peer and base
    )
    return f"| {label} | " + " | ".join(cells) + f" | {ratios or '-'} |"


COLUMNS = [*bt.FASTDL, "torch"]


def steps(rounds, threads):
    """Rows of the step table at ``threads`` threads."""
    fastdl.set_num_threads(threads)
    if bt.HAVE_TORCH:
        import torch

        torch.set_num_threads(threads)
    rows = []
    for name in bt.NETWORKS:
        contenders = {c: bt._fastdl_step(name, c) for c in bt.FASTDL}
        if bt.HAVE_TORCH:
            contenders["torch"] = bt._torch_step(name)
        for step in contenders.values():  # compile, load caches, warm the allocator
            step()
            step()
        reps = {"mlp": 20, "simple_cnn": 5, "deep_cnn": 1}[name]
        rows.append(_row(f"{name} {threads}T", _rounds(contenders, rounds, reps)))
    return rows


CONV_COLUMNS = [
    f"{backend}{suffix}"
    for backend in ("cython", "numba")
    for suffix in ("", "-im2col", "-winograd")
] + ["torch"]


def _conv_contenders(index):
    """``name -> step`` for ``bench_conv.SHAPES[index]``, each checked against the reference."""
    x, w, b, dy, y_ref, grads_ref = bc._case(index)
    pad = bc.SHAPES[index][2]
    contenders = {}
    for name in CONV_COLUMNS:
        backend, _, algorithm = name.partition("-")
        if name == "torch" and not bt.HAVE_TORCH:
            continue
        if backend in ("cython", "numba") and backend not in fastdl.available_backends():
            continue
        if algorithm == "winograd" and not _winograd.applies(w.shape, 1):
            continue
        plain = bc._step(backend, pad)

        def step(plain=plain, algorithm=algorithm or "auto"):
            with _conv_rule.use_algorithm(algorithm):
                return plain(x, w, b, dy)

        bc._check(*step(), y_ref, grads_ref)
        contenders[name] = step
    return contenders


def convs(rounds, threads):
    """Rows of the conv table at ``threads`` threads."""
    fastdl.set_num_threads(threads)
    if bt.HAVE_TORCH:
        import torch

        torch.set_num_threads(threads)
    rows = []
    for index, label in enumerate(bc.LABELS):
        medians = _rounds(_conv_contenders(index), rounds, reps=2)
        cells = [f"{medians[n] * 1e3:.3g}" if n in medians else "-" for n in CONV_COLUMNS]
        base = medians.get("torch")
        ratios = ", ".join(
            f"{n} {medians[n] / base:.2f}" for n in ("cython", "numba") if n in medians and base
        )
        rows.append(f"| {label} {threads}T | " + " | ".join(cells) + f" | {ratios or '-'} |")
    return rows


def fit_epoch(rounds, threads):
    """``fit`` for one epoch against the same batches stepped by hand plus ``evaluate``."""
    fastdl.set_num_threads(threads)
    (x, t), (x_test, t_test) = fastdl.load_mnist(flatten=False)
    from fastdl import losses, models, optimizers

    def by_fit():
        model, opt = models.simple_cnn(rng=0), optimizers.Adam(0.001)
        fastdl.fit(model, opt, x, t, 1, bt.BATCH, validation_data=(x_test, t_test), verbose=0)

    def by_hand():
        model, opt = models.simple_cnn(rng=0), optimizers.Adam(0.001)
        loss = losses.SoftmaxCrossEntropy()
        order = np.random.default_rng(0).permutation(len(x))
        for start in range(0, len(x), bt.BATCH):
            idx = order[start : start + bt.BATCH]
            loss.forward(model.forward(x[idx], train=True), t[idx])
            model.backward(loss.backward(), input_grad=False)
            opt.step(model.params, model.grads)
        fastdl.evaluate(model, x_test, t_test, batch_size=bt.BATCH)

    by_fit()
    by_hand()
    medians = _rounds({"fit": by_fit, "steps+eval": by_hand}, rounds)
    gap = medians["fit"] / medians["steps+eval"]
    return [
        f"| fit epoch {threads}T | {medians['fit'] * 1e3:.0f} | "
        f"{medians['steps+eval'] * 1e3:.0f} | {gap:.3f} |"
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    parser.add_argument("--fit", action="store_true", help="time fit epochs instead of steps")
    parser.add_argument("--conv", action="store_true", help="time conv layers instead of steps")
    args = parser.parse_args(argv)
    counts = [int(k) for k in args.threads.split(",")]
    if args.conv:
        print("| conv fwd+bwd (ms) | " + " | ".join(CONV_COLUMNS) + " | x/torch |")
        print("| --- |" + " ---: |" * (len(CONV_COLUMNS) + 1))
        for k in counts:
            print("\n".join(convs(args.rounds, k)), flush=True)
        return 0
    if args.fit:
        print("| | fit (ms) | steps+eval (ms) | fit / (steps+eval) |")
        print("| --- | ---: | ---: | ---: |")
        for k in counts:
            print("\n".join(fit_epoch(args.rounds, k)), flush=True)
        return 0
    print("| step | " + " | ".join(COLUMNS) + " | x/torch |")
    print("| --- |" + " ---: |" * (len(COLUMNS) + 1))
    for k in counts:
        print("\n".join(steps(args.rounds, k)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
