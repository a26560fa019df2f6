"""One thread per experiment task, whatever the worker's environment.

A task (one configuration of an experiment) trains small matrices: one thread per task is
fastest, a busy machine or cluster node is not oversubscribed, and the numbers do not depend on
the worker's ``OMP_NUM_THREADS`` & co. :func:`one_thread` is the single place that sets this;
when :func:`fastdl.set_num_threads` exists it should replace the body below.
"""

import contextlib
import threading

from threadpoolctl import ThreadpoolController

from .. import _backend

_lock = threading.Lock()
_blas = {"tasks": 0, "limits": None}  # BLAS threads are per process: the first task limits them


@contextlib.contextmanager
def one_thread():
    """Run the ``with`` block on one thread: BLAS, OpenMP and Numba.

    The backends are probed first so that their thread pools (OpenMP through the Cython
    extension, Numba) are loaded and can be limited. OpenMP and Numba limits apply to the calling
    thread; the BLAS limit is process-wide and is lifted when the last task running in this
    process leaves the block, so several tasks may run in threads of one process.
    """
    _backend.available_backends()
    import numba  # a dependency of fastdl; probed above

    numba_threads = numba.get_num_threads()  # starts Numba's threads (which may set OpenMP's)
    controller = ThreadpoolController()
    with _lock:
        if _blas["tasks"] == 0:
            _blas["limits"] = controller.select(user_api="blas").limit(limits=1)
        _blas["tasks"] += 1
    openmp = controller.select(user_api="openmp").limit(limits=1)
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(numba_threads)
        openmp.restore_original_limits()
        with _lock:
            _blas["tasks"] -= 1
            if _blas["tasks"] == 0:
                _blas["limits"].restore_original_limits()
