"""Experiments on a Dask cluster: the same tables as the local pool, on one machine (loopback only).

Skipped without the ``dask`` extra (``pip install -e ".[dask]"``).
"""

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

distributed = pytest.importorskip("distributed")

from test_experiments import _table_body, _without_times  # noqa: E402

from fastdl.experiments import run  # noqa: E402

HYPERPARAMS = {"train_size": 100, "epochs": 2, "trials": 3}
INIT = {"train_size": 200, "epochs": 2, "activations": ("relu",)}
# their HTTP servers listen (on every interface by default) even with --no-dashboard
LOOPBACK_DASHBOARD = ["--no-dashboard", "--dashboard-address", "127.0.0.1:0"]


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:  # fmt: skip
        yield client


@pytest.mark.parametrize("name, options", [("hyperparams", HYPERPARAMS), ("init", INIT)])
def test_a_dask_cluster_gives_the_local_pools_numbers(name, options, client, tmp_path, monkeypatch):
    scatters = []
    real_scatter = distributed.Client.scatter

    def counting_scatter(self, data, **kwargs):
        scatters.append(kwargs)
        return real_scatter(self, data, **kwargs)

    monkeypatch.setattr(distributed.Client, "scatter", counting_scatter)
    with distributed.get_task_stream(client) as stream:
        on_dask = run(name, out=str(tmp_path / "dask"), executor=client.get_executor(), **options)
    local = run(name, out=str(tmp_path / "local"), workers=2, **options)

    n = len(local.rows)
    assert [kwargs.get("broadcast") for kwargs in scatters] == [True]  # the data once, to all
    ran = [task for task in stream.data if task["key"].startswith("_task-")]
    assert len(ran) == n and {task["worker"] for task in ran} <= set(
        client.scheduler_info()["workers"]
    )
    assert on_dask.settings["executor"] == "ClientExecutor" and local.settings["workers"] == 2
    assert _without_times(on_dask) == _without_times(local)
    if name == "hyperparams":  # no time column: the tables are identical
        assert on_dask.table == local.table


def test_workers_and_executor_are_exclusive(client):
    with pytest.raises(ValueError, match="workers .2. or executor, not both"):
        run("flooding", workers=2, executor=client.get_executor())


def _start(*args, log):
    """Start ``python -m dask ARGS`` in its own process group (killed as a group at the end)."""
    command = [sys.executable, "-m", "dask", *args, "--host", "127.0.0.1", *LOOPBACK_DASHBOARD]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(condition, what, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(0.1)


def test_cli_on_a_scheduler_and_two_workers_survives_a_killed_worker(tmp_path):
    options = {"train_size": 500, "epochs": 100, "trials": 6}  # trials of a second or more
    file = str(tmp_path / "scheduler.json")
    processes = []
    log = open(tmp_path / "dask.log", "w")  # closed in finally
    try:
        processes.append(_start("scheduler", "--port", "0", "--scheduler-file", file, log=log))
        _wait_for((tmp_path / "scheduler.json").exists, "the scheduler file", 30)
        for _ in range(2):
            worker = ("worker", "--scheduler-file", file, "--nworkers", "1", "--nthreads", "1")
            processes.append(_start(*worker, log=log))
        with distributed.Client(scheduler_file=file, timeout=30) as watcher:
            watcher.wait_for_workers(2, timeout=60)
            argv = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
            cli = subprocess.Popen(
                [sys.executable, "-m", "fastdl", "experiment", "hyperparams", *argv, "--quiet",
                 "--out", str(tmp_path / "dask"), "--scheduler", file],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
            )  # fmt: skip
            processes.append(cli)

            def busy_worker():  # a worker in the middle of a trial
                processing = watcher.processing()
                return next((w for w, keys in processing.items() if keys), None)

            _wait_for(busy_worker, "a trial to start", 60)
            victim = busy_worker()
            pid = watcher.run(os.getpid, workers=[victim])[victim]  # the worker, not its nanny
            os.kill(pid, signal.SIGKILL)
            out, err = cli.communicate(timeout=120)
            assert cli.returncode == 0, err
            assert victim not in watcher.scheduler_info()["workers"]  # it did die

            def taken_back(dask_scheduler):  # nested: sent by value, the scheduler has no tests
                """Keys of the tasks that went from processing back (their worker died)."""
                log = dask_scheduler.transition_log
                return [
                    key for key, start, end, *_ in log if (start, end) == ("processing", "released")
                ]

            rerun = watcher.run_on_scheduler(taken_back)
            assert rerun, "the killed worker was not running a trial"
    finally:
        for process in processes:  # each with its children (nanny -> worker)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()
    local = run("hyperparams", out=str(tmp_path / "local"), workers=2, **options)
    table = out.split("\n\n")[0]
    assert len(_table_body(table)) == options["trials"]  # every trial, though a worker died
    assert table == local.table
