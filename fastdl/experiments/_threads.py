"""One thread per experiment task, whatever the worker's environment.

A task (one configuration of an experiment) trains small matrices: one thread per task is
fastest, a busy machine or cluster node is not oversubscribed, and the numbers do not depend on
the worker's ``OMP_NUM_THREADS``, ``FASTDL_NUM_THREADS`` & co. :func:`one_thread` is the single
place that sets this, through :func:`fastdl.set_num_threads` (kernels and BLAS).
"""

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from .. import _backend

_lock = threading.Lock()
_state: dict[str, Any] = {
    "tasks": 0,
    "before": None,
}  # the thread count is per process: the first task sets it


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the ``with`` block with fastdl's kernels and BLAS on one thread.

    The count is process-wide: the first task running in this process sets it to 1 and the last
    one to leave sets it back (``fastdl.set_num_threads(count)``, BLAS too), so several tasks may
    run in threads of one process.
    """
    with _lock:
        if _state["tasks"] == 0:
            _state["before"] = _backend.get_num_threads()
            _backend.set_num_threads(1)
        _state["tasks"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["tasks"] -= 1
            if _state["tasks"] == 0:
                _backend.set_num_threads(_state["before"])
