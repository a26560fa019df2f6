"""fastdl's thread model: one decision of how many threads the kernels use, in one place.

Who runs threads
----------------
- **OpenMP** (GNU libgomp): the Cython ``prange`` loops, and Numba's ``parallel=True`` loops
  (Numba's ``omp`` threading layer calls the same libgomp, so both share one team of threads).
- **fastdl's convolution split** (:func:`over_samples`): a range of samples per Python thread,
  each running serial compiled loops and BLAS on one thread.
- **BLAS** (NumPy's OpenBLAS): the GEMMs of the Dense layers and of any user code.

The rules
---------
1. One count, :func:`num_threads`: ``set_num_threads(n)``, else ``FASTDL_NUM_THREADS``, else
   ``OMP_NUM_THREADS`` (its first entry), else the cores this process may run on. Every parallel
   loop, and the convolution split, uses at most that many threads. ``set_num_threads`` (and
   ``FASTDL_NUM_THREADS``) also set BLAS's thread count, as PyTorch's ``set_num_threads`` does.
2. Small loops stay serial (:func:`threads_for`): below ``SERIAL_BELOW`` elements a parallel
   region costs more (waking a thread, splitting the work) than it saves.
3. OpenMP threads wait passively: ``fastdl._kernels`` sets ``OMP_WAIT_POLICY=PASSIVE`` (unless the
   user set it) before any kernel loads libgomp. By default libgomp's threads spin for a while
   after each parallel loop; on a machine without spare cores they then take the cores from the
   BLAS threads of the next GEMM (a Dense forward after a compiled kernel ran many times slower:
   bench/README.md, "Design notes (thread model)").
4. BLAS runs on one thread while a convolution splits the batch (no pool inside a pool), and in
   fastdl's own products (``kernels/_gemm.py``) once a fastdl kernel has run on several threads
   in the process (:func:`parallel_kernels_ran`, :func:`one_blas_thread`): OpenBLAS's threads
   busy-wait after every multi-threaded call and then take the cores from the parallel kernels
   that follow (bench/README.md, "Design notes (thread model)"). Until then (an MLP whose
   loops are all small) BLAS keeps its own threads.
5. A child made by ``fork`` after the parent ran a parallel loop runs every kernel serially:
   libgomp's threads do not survive ``fork`` (a parallel loop in the child would hang) and
   Numba's ``omp`` layer kills such a child.
"""

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from threadpoolctl import OpenBLASController, ThreadpoolController

# Below this many elements a loop runs in the calling thread: waking a thread costs more than it
# saves (bench/README.md, "Design notes (thread model)").
SERIAL_BELOW = 1 << 16
ENV = "FASTDL_NUM_THREADS"

_lock = threading.Lock()
_state = {
    "blas": None,  # threadpoolctl controller of the BLAS libraries
    "pool": None,  # the convolution split's ThreadPoolExecutor
    "workers": 0,
    "running": 0,  # convolutions and GEMMs holding BLAS at one thread now
    "limiter": None,  # BLAS limit of 1 thread while any of them runs
    "threads": None,  # the decided count (None: not decided yet)
    "source": None,  # where the count came from
    "parallel_ran": False,  # a parallel loop (OpenMP or Numba) has run in this process
    "split_ran": False,  # a convolution or a product has been split over threads (over_samples)
    "forked": False,  # this process was forked after a parallel loop ran
}


def _reset_after_fork():
    """A forked child has no worker threads and no running convolution; after a parallel loop
    in the parent it must not start OpenMP threads (rule 5)."""
    global _lock
    _lock = threading.Lock()
    forked = _state["forked"] or _state["parallel_ran"]
    _state.update(pool=None, workers=0, running=0, limiter=None, forked=forked)


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_reset_after_fork)


def _blas():
    """The ``threadpoolctl`` controller of the loaded BLAS libraries (found once)."""
    if _state["blas"] is None:
        _state["blas"] = ThreadpoolController().select(user_api="blas")
    return _state["blas"]


@contextlib.contextmanager
def _controlling_blas():
    """The BLAS controller, for setting BLAS's thread count from whichever Python thread runs.

    OpenBLAS's count is process-wide. threadpoolctl (3.8 and later) lets only one Python thread,
    the first to set a limit, change it for as long as that thread lives, and silently ignores
    the others: after the main thread had split one convolution, ``set_num_threads(1)`` in a
    worker thread left BLAS on two threads. fastdl's changes are serialised by ``_lock``: each
    takes control, sets, and gives control back.
    """
    release = getattr(OpenBLASController, "clear_controlling_thread", None)  # threadpoolctl 3.8+
    if release is not None:
        release(force=True)
    try:
        yield _blas()
    finally:
        if release is not None:
            release()


def _parse(name, raw):
    """A thread count from environment variable ``name`` (``OMP_NUM_THREADS`` may be a list)."""
    first = raw.split(",")[0].strip()
    try:
        value = int(first)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return value


def available_cores():
    """Cores this process may run on (its CPU affinity), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _decide():
    """Decide the thread count once, from the environment; apply ``FASTDL_NUM_THREADS`` to BLAS."""
    for name in (ENV, "OMP_NUM_THREADS"):
        raw = os.environ.get(name, "").strip()
        if raw:
            count = _parse(name, raw)
            if name == ENV:
                with _lock, _controlling_blas() as blas:
                    blas.limit(limits=count)
            return count, name
    return available_cores(), "cores"


def num_threads():
    """Threads the kernels may use now (1 in a child forked after a parallel loop ran)."""
    if _state["threads"] is None:
        _state["threads"], _state["source"] = _decide()
    return 1 if _state["forked"] else _state["threads"]


def set_num_threads(n):
    """Use ``n`` threads in every kernel and in BLAS from now on (process-wide).

    Raises
    ------
    TypeError, ValueError
        ``n`` is not an int >= 1.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int >= 1, got {type(n).__name__} {n!r}")
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    with _lock:
        _state["threads"], _state["source"] = n, "set_num_threads"
        if _state["running"] == 0:
            with _controlling_blas() as blas:
                blas.limit(limits=n)
        else:  # BLAS is held at 1 thread: the last holder sets n when it returns
            _state["restore_to"] = n


def describe():
    """A dict for users: the thread count, where it came from, BLAS's and OpenMP's settings."""
    count = num_threads()
    return {
        "num_threads": count,
        "source": "fork (serial)" if _state["forked"] else _state["source"],
        "blas_threads": max([0] + [lib["num_threads"] for lib in _blas().info()]),
        "serial_below": SERIAL_BELOW,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
    }


def threads_for(work):
    """Threads for one parallel loop over ``work`` elements: 1 below ``SERIAL_BELOW``.

    A caller that gets more than one starts a parallel region; that is recorded so that a forked
    child knows to stay serial.
    """
    if work < SERIAL_BELOW:
        return 1
    count = num_threads()
    if count > 1:
        _state["parallel_ran"] = True
    return count


def parallel_kernels_ran():
    """Whether a fastdl kernel has run on more than one thread in this process (a parallel loop
    or a split over threads); fastdl's products then keep BLAS at one thread (rule 4)."""
    return _state["parallel_ran"] or _state["split_ran"]


def over_samples(n, run, threads=None):
    """Run ``run(lo, hi)`` on contiguous ranges of ``range(n)``, one per thread.

    Parameters
    ----------
    n : int
        Number of samples.
    run : callable
        ``run(lo, hi)`` handles samples ``lo:hi`` and returns a result; ranges never overlap,
        so runs may write disjoint slices of shared outputs.
    threads : int, optional
        At most this many threads (default :func:`num_threads`).

    Returns
    -------
    results : list
        ``run``'s results, in sample order (one element when it ran in the calling thread).
    """
    k = min(n, num_threads() if threads is None else threads)
    if k <= 1:
        return [run(0, n)]
    cuts = [n * i // k for i in range(k + 1)]
    _state["split_ran"] = True
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


@contextlib.contextmanager
def one_blas_thread():
    """Run the block with BLAS on one thread; the last block to leave restores BLAS's count.

    Blocks may nest and run in several Python threads at once (rule 4).
    """
    with _lock:
        _hold_blas()
    try:
        yield
    finally:
        _leave()


def _hold_blas():
    """Count one more holder of BLAS at one thread (the first sets the limit); ``_lock`` held."""
    if _state["running"] == 0:
        with _controlling_blas() as blas:
            _state["limiter"] = blas.limit(limits=1)
    _state["running"] += 1


def _enter(workers):
    """Count a running convolution (holding BLAS at one thread); return the pool.

    A pool too small for ``workers`` is replaced, not shut down: a convolution running at the
    same moment may still submit to it.
    """
    with _lock:
        if _state["workers"] < workers:
            _state["pool"] = ThreadPoolExecutor(workers, thread_name_prefix="fastdl-conv")
            _state["workers"] = workers
        _hold_blas()
        return _state["pool"]


def _leave():
    """The last holder of BLAS at one thread restores BLAS's thread count."""
    with _lock:
        _state["running"] -= 1
        if _state["running"] == 0:
            with _controlling_blas() as blas:
                _state["limiter"].restore_original_limits()
                restore_to = _state.pop("restore_to", None)
                if restore_to is not None:
                    blas.limit(limits=restore_to)
            _state["limiter"] = None
