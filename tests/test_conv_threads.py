"""The compiled convolutions split the batch over threads (``kernels/_threads.py``).

Whatever the number of threads, results match the reference; BLAS runs on one thread while a
convolution runs and gets its own setting back afterwards, also after an error, with convolutions
running concurrently, and in a forked child.
"""

import multiprocessing
import threading

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

import fastdl
from fastdl import functional
from fastdl._kernels import _threads

from helpers import assert_close

COMPILED = ["numba", "cython"]


def _blas_threads():
    return [lib["num_threads"] for lib in ThreadpoolController().select(user_api="blas").info()]


@pytest.fixture
def problem():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((7, 3, 9, 8))  # (N, C, H, W): 7 samples split unevenly
    w = rng.standard_normal((4, 3, 3, 2))  # (F, C, KH, KW)
    b = rng.standard_normal(4)
    dy = rng.standard_normal((7, 4, 5, 9))  # (N, F, OH, OW) for stride (2, 1), pad 1
    return x, w, b, dy


@pytest.mark.parametrize("threads", [1, 2, 3, 7, 16])
@pytest.mark.parametrize("backend", COMPILED, indirect=True)  # conftest skips a missing one
def test_any_thread_count_gives_the_reference(backend, threads, problem, monkeypatch):
    monkeypatch.setattr(_threads, "num_threads", lambda: threads)
    x, w, b, dy = problem
    y = functional.conv2d_forward(x, w, b, (2, 1), 1, backend=backend)
    grads = functional.conv2d_backward(dy, x, w, (2, 1), 1, backend=backend)
    assert_close(y, functional.conv2d_forward(x, w, b, (2, 1), 1, backend="numpy"))
    want = functional.conv2d_backward(dy, x, w, (2, 1), 1, backend="numpy")
    for got, expected, name in zip(grads, want, ("dx", "dw", "db")):
        assert_close(got, expected, err_msg=name)


def test_blas_runs_on_one_thread_inside_and_is_restored_after():
    before = _blas_threads()
    seen = _threads.over_samples(6, lambda lo, hi: (lo, hi, _blas_threads()))
    assert _blas_threads() == before
    if _threads.num_threads() > 1:
        assert [s[:2] for s in seen][0] == (0, 6 // len(seen))
        assert all(s[2] == [1] * len(before) for s in seen)
    assert sorted(i for s in seen for i in range(s[0], s[1])) == list(range(6))


def test_an_error_in_a_thread_propagates_and_restores_blas(monkeypatch):
    monkeypatch.setattr(_threads, "num_threads", lambda: 3)
    before = _blas_threads()

    def run(lo, hi):
        if lo > 0:
            raise RuntimeError(f"samples {lo}:{hi}")
        return lo

    with pytest.raises(RuntimeError, match="samples"):
        _threads.over_samples(9, run)
    assert _blas_threads() == before
    assert _threads._state["running"] == 0


@pytest.mark.parametrize("backend", COMPILED, indirect=True)  # conftest skips a missing one
def test_concurrent_convolutions_from_python_threads(backend, problem):
    x, w, b, _ = problem
    before = _blas_threads()
    want = functional.conv2d_forward(x, w, b, 1, 1, backend="numpy")
    results = [None] * 4

    def work(i):
        for _ in range(20):
            results[i] = functional.conv2d_forward(x, w, b, 1, 1, backend=backend)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    for got in results:
        assert_close(got, want)
    assert _blas_threads() == before


def _conv_in_child(args):
    x, w, b = args
    return functional.conv2d_forward(x, w, b, 1, 1, backend="cython")


@pytest.mark.skipif(
    "cython" not in fastdl.available_backends(), reason="the cython backend is not built"
)
def test_forked_child_can_convolve_after_the_parent_did(problem, monkeypatch):
    """The parent's worker threads do not exist in a fork; the child must not wait for them."""
    monkeypatch.setattr(_threads, "num_threads", lambda: 2)
    x, w, b, _ = problem
    parent = functional.conv2d_forward(x, w, b, 1, 1, backend="cython")  # pool made here
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply_async(_conv_in_child, ((x, w, b),)).get(timeout=60)
    np.testing.assert_array_equal(child, parent)
