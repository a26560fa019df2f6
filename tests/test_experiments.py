"""``fastdl.experiments`` and ``fastdl experiment``: every experiment with tiny settings."""

import math
import os
import pathlib
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

from fastdl import cli, datasets, training
from fastdl.experiments import EXPERIMENTS, run
from fastdl.experiments._common import first_epoch_reaching, markdown_table
from fastdl.experiments._runner import Experiment, Outcome

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Tiny settings per experiment, and the number of table rows they give. The tests use one worker
# process (single-threaded, so fast even when the cores are busy) unless they patch this one.
TINY = {
    "optimizers": ({"train_size": 200, "epochs": 2}, 9),
    "init": ({"train_size": 200, "epochs": 2}, 8),
    "batchnorm": ({"train_size": 200, "epochs": 2, "scales": (1.0, 0.01, 1e-4)}, 3),
    "weight-decay": ({"train_size": 200, "epochs": 2}, 6),
    "dropout": ({"train_size": 200, "epochs": 2}, 5),
    "early-stopping": ({"train_size": 300, "epochs": 2}, 4),
    "activations": ({"train_size": 200, "epochs": 2}, 8),
    "flooding": ({"train_size": 200, "epochs": 2}, 6),
    "hyperparams": ({"train_size": 100, "epochs": 2, "trials": 3}, 3),
}

TIME_KEYS = {"time", "epoch_time"}


def _without_times(result):
    """Rows and series of a result with the wall-clock entries removed."""
    rows = [{k: v for k, v in row.items() if k not in TIME_KEYS} for row in result.rows]
    series = {
        label: {k: v for k, v in s.items() if k not in TIME_KEYS}
        for label, s in result.series.items()
    }
    return rows, series


def _table_body(table):
    """The Markdown table's data rows as lists of cell strings."""
    lines = table.splitlines()
    assert lines[1].startswith("| ---")
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_the_registry_has_the_nine_experiments():
    assert set(EXPERIMENTS) == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_each_experiment_writes_its_table_and_plots(name, tmp_path):
    options, n_rows = TINY[name]
    result = run(name, out=str(tmp_path), workers=1, **options)
    assert result.name == name
    assert len(result.rows) == n_rows
    assert len(result.series) == n_rows * (2 if name == "batchnorm" else 1)  # BN: with, without
    assert len(_table_body(result.table)) == n_rows  # one row per configuration
    assert result.settings["epochs"] == options["epochs"]
    assert result.wall_time > 0
    md, *pngs = result.files
    assert md == str(tmp_path / f"{name}.md")
    assert result.table in (tmp_path / f"{name}.md").read_text()
    assert pngs
    for png in pngs:
        with open(png, "rb") as fh:
            assert fh.read(8) == PNG_MAGIC, png
    epochs = options["epochs"]
    for label, s in result.series.items():
        for key in ("loss", "val_acc", "train_acc", "test_acc", "epoch_time"):
            if key in s:
                assert len(s[key]) == epochs, (label, key)
        if "iteration_loss" in s:
            batch = result.settings["batch_size"]
            assert len(s["iteration_loss"]) == epochs * math.ceil(options["train_size"] / batch)
            if name != "batchnorm":  # there the network without BN may diverge (std 1.0)
                assert np.isfinite(s["iteration_loss"]).all(), label


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path):
    options = {"train_size": 200, "epochs": 2, "l2": (0.1,), "l1": (0.001,), "workers": 1}
    first = run("weight-decay", out=str(tmp_path / "a"), seed=3, **options)
    again = run("weight-decay", out=str(tmp_path / "b"), seed=3, **options)
    other = run("weight-decay", out=str(tmp_path / "c"), seed=4, **options)
    assert _without_times(first) == _without_times(again)
    assert _without_times(first) != _without_times(other)


def test_activation_ts_columns_agree_with_the_per_epoch_test_accuracy(tmp_path, monkeypatch):
    # Testing on the 200 training images makes the 95-98% thresholds reachable within 30 short
    # epochs by some activations (not by sigmoid), so the TS columns hold both epochs and '-'.
    (x, t), _ = datasets.load_mnist()
    x, t = x[:200], t[:200]
    monkeypatch.setattr(datasets, "load_mnist", lambda path=None: ((x, t), (x, t)))
    result = run("activations", out=str(tmp_path), epochs=30, workers=1)
    seen = set()
    for row, cells in zip(result.rows, _table_body(result.table)):
        acc = result.series[row["activation"]]["test_acc"]
        assert row["test_acc"] == acc[-1]
        assert row["best_test_acc"] == max(acc)
        for col, threshold in ((-4, 0.95), (-3, 0.97), (-2, 0.98)):
            key = f"ts{round(100 * threshold)}"
            reached = [epoch for epoch, a in enumerate(acc, 1) if a >= threshold]
            expected = reached[0] if reached else None
            assert row[key] == expected, (row["activation"], key, acc)
            assert cells[col] == ("-" if expected is None else str(expected))
            seen.add(expected is None)
    assert seen == {True, False}  # both cases occurred


def test_early_stopping_rows_agree_with_the_histories(tmp_path):
    result = run(
        "early-stopping", out=str(tmp_path), train_size=500, epochs=15, lr=0.01, patience=(0, 1),
        workers=1,
    )  # fmt: skip
    full = result.series["no early stopping"]
    stopped_any = False
    for row in result.rows:
        s = result.series[row["config"]]
        assert row["epochs_run"] == len(s["val_loss"])
        assert row["best_epoch"] == int(np.argmin(s["val_loss"])) + 1
        assert row["best_val_loss"] == min(s["val_loss"])
        assert s["val_loss"] == full["val_loss"][: len(s["val_loss"])]  # same start, same batches
        if row["patience"] is None:
            assert row["stopped_epoch"] is None
            assert row["test_acc"] == s["test_acc"][-1]
            continue
        # the returned model has the weights of the best epoch
        assert row["test_acc"] == s["test_acc"][row["best_epoch"] - 1]
        if row["stopped_epoch"] is not None:
            stopped_any = True
            assert row["stopped_epoch"] == row["epochs_run"]
            assert row["stopped_epoch"] - row["best_epoch"] == row["patience"] + 1
    assert stopped_any


def test_hyperparams_evaluates_only_the_validation_split(tmp_path, monkeypatch):
    real_load = datasets.load_mnist
    (x, t), (x_test, _) = real_load()
    train_rows = {row.tobytes() for row in x[:100]}

    def poisoned(path=None):  # a test set that would turn any result using it into NaN
        (xa, ta), (xb, tb) = real_load(path)
        return (xa, ta), (np.full_like(xb, np.nan), tb)

    evaluated = []
    real_predict = training.predict

    def spy(model, x_eval, batch_size=1000):
        evaluated.append(np.array(x_eval))
        return real_predict(model, x_eval, batch_size)

    monkeypatch.setattr(datasets, "load_mnist", poisoned)
    monkeypatch.setattr(training, "predict", spy)
    result = run(  # workers=0: in this process, where the patches apply
        "hyperparams", out=str(tmp_path), train_size=100, epochs=2, trials=3, workers=0, top=2
    )
    assert len(evaluated) == 3 * 2  # one validation pass per epoch and trial
    for xe in evaluated:
        assert xe.shape == (20, 784)  # 20% of 100
        np.testing.assert_array_equal(xe, evaluated[0])  # always the same split
        assert {row.tobytes() for row in xe} <= train_rows
    assert [r["rank"] for r in result.rows] == [1, 2, 3]
    assert [int(cells[0]) for cells in _table_body(result.table)] == [1, 2]  # the best ``top``
    assert [r["val_acc"] for r in result.rows] == sorted(
        (r["val_acc"] for r in result.rows), reverse=True
    )
    for r in result.rows:
        assert 1e-6 <= r["lr"] <= 1e-2 and 1e-8 <= r["weight_decay"] <= 1e-4
        assert r["val_acc"] == result.series[f"trial {r['trial']}"]["val_acc"][-1]
        assert np.isfinite(result.series[f"trial {r['trial']}"]["val_loss"]).all()


def test_the_numbers_do_not_depend_on_the_number_of_workers(tmp_path):
    options = {"train_size": 200, "epochs": 2, "activations": ("relu", "tanh")}
    two = run("init", out=str(tmp_path / "two"), workers=2, **options)
    one = run("init", out=str(tmp_path / "one"), workers=1, **options)
    assert two.settings["workers"] == 2
    assert _without_times(two) == _without_times(one)


def test_cli_entry_point_runs_hyperparams_on_two_workers(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "fastdl", "experiment", "hyperparams", "--train-size", "100",
         "--epochs", "2", "--trials", "3", "--workers", "2", "--quiet", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    body = _table_body(proc.stdout.split("\n\n")[0])
    assert [cells[0] for cells in body] == ["1", "2", "3"]
    assert sorted(cells[1] for cells in body) == ["1", "2", "3"]
    assert (tmp_path / "hyperparams.md").read_text().count("\n| ") == 2 + 3
    for png in ("hyperparams-scatter.png", "hyperparams-best.png"):
        assert (tmp_path / png).read_bytes()[:8] == PNG_MAGIC


def test_cli_experiment_prints_the_table_and_rejects_foreign_options(tmp_path, capsys):
    argv = ["experiment", "flooding", "--epochs", "1", "--train-size", "200", "--workers", "1"]
    argv.append("--quiet")
    assert cli.main([*argv, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| b | train loss |")
    assert (tmp_path / "flooding.md").exists() and (tmp_path / "flooding-curves.png").exists()
    assert cli.main([*argv, "--trials", "3", "--out", str(tmp_path)]) == 2
    assert "trials" in capsys.readouterr().err


def test_bad_names_and_options_are_errors():
    with pytest.raises(ValueError, match="unknown experiment 'optimiser'"):
        run("optimiser")
    with pytest.raises(TypeError, match="takes no option lr"):
        run("optimizers", lr=0.1)
    with pytest.raises(ValueError, match="dataset"):
        run("activations", dataset="cifar10")
    with pytest.raises(ValueError, match="train_size"):
        run("activations", train_size=10**6)
    with pytest.raises(ValueError, match="workers must be an int >= 0"):
        run("flooding", workers=-1)


def test_helpers():
    assert first_epoch_reaching([0.5, 0.95, 0.99], 0.95) == 2
    assert first_epoch_reaching([0.5, 0.94], 0.95) is None
    rows = [{"a": "x", "b": 0.12345, "c": None}]
    table = markdown_table(rows, [("a", "A", ""), ("b", "B", "pct"), ("c", "C", "d")])
    assert table == "| A | B | C |\n| --- | ---: | ---: |\n| x | 12.35 | - |"


def test_fashion_mnist_is_used_when_asked(tmp_path):
    options = {"train_size": 100, "epochs": 1, "levels": (0.0,), "workers": 1}
    mnist = run("flooding", out=str(tmp_path), **options)
    fashion = run("flooding", out=str(tmp_path), dataset="fashion-mnist", **options)
    assert fashion.settings["dataset"] == "fashion-mnist"
    assert _without_times(mnist) != _without_times(fashion)


class _DiesOnce(Experiment):
    """A stand-in experiment whose configuration 2 kills its worker process (once, or always)."""

    name = "dies"
    defaults = {"epochs": 1, "marker": "", "always": False}
    columns = [("n", "n", "d")]

    def load(self, settings):
        return None

    def configurations(self, settings):
        return [1, 2, 3]

    def train(self, config, settings, data):
        marker = pathlib.Path(settings["marker"])
        if config == 2 and (settings["always"] or not marker.exists()):
            marker.touch()
            os._exit(1)  # the worker dies as if killed
        return Outcome(f"n {config}", {"n": config}, {})


def test_a_task_whose_worker_died_is_retried_once_in_a_fresh_pool(tmp_path):
    result = _DiesOnce()(out=str(tmp_path), workers=2, marker=str(tmp_path / "died"))
    assert (tmp_path / "died").exists()  # the worker did die
    assert result.rows == [{"n": 1}, {"n": 2}, {"n": 3}]
    with pytest.raises(RuntimeError, match="lost its worker twice"):
        _DiesOnce()(out=str(tmp_path), workers=1, marker=str(tmp_path / "m"), always=True)


class _CancelsFirst(ThreadPoolExecutor):
    """Cancels the first task it is given, as Dask cancels tasks whose scattered data died."""

    def __init__(self):
        super().__init__(1)
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        if self.submitted > 1:
            return super().submit(fn, *args, **kwargs)
        future = Future()
        future.cancel()
        future.set_running_or_notify_cancel()  # what an executor does to a cancelled task
        return future


def test_a_task_its_executor_cancelled_is_submitted_once_more(tmp_path):
    with _CancelsFirst() as pool:
        result = _DiesOnce()(out=str(tmp_path), executor=pool)
        assert pool.submitted == 4  # three configurations, the cancelled one again
    assert result.rows == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_any_executor_runs_the_tasks_and_rows_follow_the_configurations(tmp_path):
    options = {"train_size": 200, "epochs": 2, "trials": 4}
    with ThreadPoolExecutor(2) as pool:
        threads = run("hyperparams", out=str(tmp_path / "t"), executor=pool, **options)
    spawned = run("hyperparams", out=str(tmp_path / "p"), workers=2, **options)
    assert threads.settings["executor"] == "ThreadPoolExecutor"
    assert _without_times(threads) == _without_times(spawned)  # bit for bit
    assert threads.table == spawned.table
    assert list(threads.series) == [f"trial {i}" for i in (1, 2, 3, 4)]  # configuration order


def test_cli_scheduler_needs_the_dask_extra_and_excludes_workers(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    argv = ["experiment", "flooding", "--scheduler", "tcp://127.0.0.1:8786"]
    assert cli.main(argv) == 2
    assert "pip install 'fastdl[dask]'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main([*argv, "--workers", "2"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_one_thread_runs_kernels_and_blas_on_one_thread_inside_and_restores_after():
    import fastdl
    from fastdl.experiments._threads import one_thread

    def threads():
        info = fastdl.thread_info()
        return info["num_threads"], info["blas_threads"]

    count = fastdl.get_num_threads()
    with one_thread():
        assert threads() == (1, 1)
        with one_thread():  # a second task in another thread of the process
            assert threads() == (1, 1)
        assert threads() == (1, 1)  # still one thread while the first task runs
    assert threads() == (count, count)  # fastdl.set_num_threads(count): the kernels and BLAS
