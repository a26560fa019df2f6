"""Sample-parallel convolution for the compiled backends: a thread per range of samples, each
running its GEMMs on one BLAS thread.

A convolution step alternates compiled data movement (im2col, col2im) with small per-sample
GEMMs. Run in the calling thread with a multi-threaded BLAS, the data movement is serial and the
GEMMs are too small to keep the BLAS threads busy; a parallel loop for the data movement between
the GEMMs was slower still (OpenMP's and OpenBLAS's threads fought over the cores). Splitting
the *batch* instead gives each thread whole samples (its data movement and its GEMMs) while BLAS
runs single-threaded for the duration: measured on 2 cores (bench/README.md), 1.1-1.8x faster.

How many threads: as many as BLAS itself was set to use (``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS``, a ``threadpoolctl`` limit or the core count), found with ``threadpoolctl``.
With one BLAS thread, or a BLAS that ``threadpoolctl`` does not know, everything runs in the
calling thread as before. While any convolution is running, the BLAS limit of one thread is
process-wide: a GEMM that another Python thread makes at that moment runs single-threaded too.
The previous setting is restored when the last running convolution returns.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_state = {"blas": None, "pool": None, "workers": 0, "running": 0, "limiter": None}


def _reset_after_fork():
    """A forked child has no worker threads and no running convolution: start afresh."""
    global _lock
    _lock = threading.Lock()
    _state.update(pool=None, workers=0, running=0, limiter=None)


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_reset_after_fork)


def _blas():
    """The ``threadpoolctl`` controller of the loaded BLAS libraries (found once)."""
    if _state["blas"] is None:
        _state["blas"] = ThreadpoolController().select(user_api="blas")
    return _state["blas"]


def thread_count():
    """Threads a convolution uses now: BLAS's own thread count, 1 if BLAS is unknown."""
    return max([1] + [lib["num_threads"] for lib in _blas().info()])


def over_samples(n, run):
    """Run ``run(lo, hi)`` on contiguous ranges of ``range(n)``, one per thread.

    Parameters
    ----------
    n : int
        Number of samples.
    run : callable
        ``run(lo, hi)`` handles samples ``lo:hi`` and returns a result; ranges never overlap,
        so runs may write disjoint slices of shared outputs.

    Returns
    -------
    results : list
        ``run``'s results, in sample order (one element when it ran in the calling thread).
    """
    k = min(n, thread_count())
    if k <= 1:
        return [run(0, n)]
    cuts = [n * i // k for i in range(k + 1)]
    pool = _enter(k - 1)
    try:
        futures = [pool.submit(run, cuts[i], cuts[i + 1]) for i in range(1, k)]
        try:
            first = run(cuts[0], cuts[1])
        finally:
            wait(futures)  # never leave a worker running on our buffers
        return [first] + [future.result() for future in futures]
    finally:
        _leave()


def _enter(workers):
    """Count a running convolution (the first limits BLAS to one thread); return the pool.

    A pool too small for ``workers`` is replaced, not shut down: a convolution running at the
    same moment may still submit to it.
    """
    with _lock:
        if _state["workers"] < workers:
            _state["pool"] = ThreadPoolExecutor(workers, thread_name_prefix="fastdl-conv")
            _state["workers"] = workers
        if _state["running"] == 0:
            _state["limiter"] = _blas().limit(limits=1)
        _state["running"] += 1
        return _state["pool"]


def _leave():
    """The last running convolution restores BLAS's thread count."""
    with _lock:
        _state["running"] -= 1
        if _state["running"] == 0:
            _state["limiter"].restore_original_limits()
            _state["limiter"] = None
