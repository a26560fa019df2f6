"""How an experiment's tasks reach the workers: the local spawn pool, any Executor, or Dask.

A task is one configuration: ``experiment.train(config, settings, data)`` on one thread
(:func:`~fastdl.experiments._threads.one_thread`) with the backend in force where the experiment
was started. :func:`completed` yields the tasks' outcomes as they finish; the runner sorts them
by configuration, so nothing depends on the order or on which worker ran what.

The data go to the workers once: the default pool hands them to each process when it starts,
a Dask executor (``Client.get_executor()``) scatters them to every worker; any other Executor
gets them with every task (no copy for a thread pool, one pickle per task for a process pool).
A task whose worker died (the pool is broken, Dask reports ``KilledWorker``, or the executor
cancelled it: Dask cancels every task whose scattered data died with the only worker holding them,
and its active memory manager keeps one copy of data no task is waiting for) is submitted once
more, after the others, to a fresh default pool or to the same executor, with the data placed anew.
"""

import contextlib
import sys
from concurrent.futures import BrokenExecutor, CancelledError, ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any

from .. import _backend
from ._threads import one_thread

_KEPT: dict[str, Any] = {}  # in a process of the default pool: the data handed over when it started


class _Kept:
    """Stands for "the data this worker process was started with" in a task's arguments."""


def completed(experiment, configs, settings, data, *, workers, executor, backend):
    """Yield ``(index, outcome)`` for every configuration, in the order the tasks finish.

    Parameters
    ----------
    experiment : Experiment
        Its ``train(config, settings, data)`` runs each task.
    configs : list
        Picklable configurations.
    settings : dict
    data
        What every task reads (arrays); sent to each worker once where the executor allows.
    workers : int or None
        Processes of the default pool (``executor`` None); 0 runs the tasks in this process, one
        after the other, with its own thread settings.
    executor : concurrent.futures.Executor or None
        Runs the tasks instead of the default pool; not shut down here.
    backend : str
        The fastdl backend the tasks use.
    """
    if executor is None and workers == 0:
        with _backend.use_backend(backend):
            for index, config in enumerate(configs):
                yield index, experiment.train(config, settings, data)
        return
    todo = list(range(len(configs)))
    for attempt in (1, 2):
        lost = []
        with _placed(executor, workers, data) as (pool, ref):
            futures = {
                pool.submit(_task, experiment, configs[i], settings, ref, backend): i for i in todo
            }
            try:
                for future in as_completed(futures):
                    try:
                        outcome = future.result()
                    except _worker_lost() as exc:
                        if attempt == 2:
                            raise RuntimeError(
                                f"{experiment.name}: configuration {configs[futures[future]]!r} "
                                "lost its worker twice"
                            ) from exc
                        lost.append(futures[future])
                        continue
                    yield futures[future], outcome
            finally:  # on an error, do not wait for the remaining tasks
                for future in futures:
                    future.cancel()
        if not lost:
            return
        todo = sorted(lost)


@contextlib.contextmanager
def _placed(executor, workers, data):
    """``(executor, reference to the data)`` for the tasks; the default pool is closed after."""
    if executor is None:
        pool = ProcessPoolExecutor(
            workers, mp_context=get_context("spawn"), initializer=_keep, initargs=(data,)
        )
        with pool:
            yield pool, _Kept()
        return
    client = _dask_client(executor)
    if client is None:
        yield executor, data
        return
    (scattered,) = client.scatter([data], broadcast=True, hash=False)
    try:
        yield executor, scattered
    finally:
        scattered.release()


def _dask_client(executor):
    """The ``distributed.Client`` behind ``executor`` if it is ``Client.get_executor()``, else None.

    ``ClientExecutor`` has no public attribute for its client; it keeps it in ``_client``
    (tests/test_experiments_dask.py checks that the data are scattered once through it).
    """
    if sys.modules.get("distributed") is None:  # then the executor cannot be Dask's
        return None
    from distributed.cfexecutor import ClientExecutor

    return executor._client if isinstance(executor, ClientExecutor) else None


def _worker_lost():
    """The exceptions that say a task's worker died.

    A broken pool, Dask's ``KilledWorker``, or a future its executor cancelled (fastdl cancels its
    own futures only after it has stopped reading them).
    """
    if sys.modules.get("distributed") is None:
        return (BrokenExecutor, CancelledError)
    from distributed import KilledWorker

    return (BrokenExecutor, CancelledError, KilledWorker)


def _keep(data):
    _KEPT["data"] = data


def _task(experiment, config, settings, data, backend):
    """One configuration on one thread, with ``backend``; returns its outcome."""
    if isinstance(data, _Kept):
        data = _KEPT["data"]
    with one_thread(), _backend.use_backend(backend):
        return experiment.train(config, settings, data)
