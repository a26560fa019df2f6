"""fastdl's thread model (``kernels/_threads.py``): one count, set once or by the user; serial
small loops; passive OpenMP waiting; forked children and concurrent Python threads stay correct.

Every kernel family runs on both compiled backends with inputs large enough for their parallel
loops (above ``SERIAL_BELOW``) and small ones (serial twins), and must match the reference.
"""

import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastdl
from fastdl import functional as F
from fastdl._kernels import _threads

from helpers import assert_close

COMPILED = [b for b in ("numba", "cython") if b in fastdl.available_backends()]


@pytest.fixture
def restore_threads():
    """Put the thread count (and BLAS's) back as it was after the test."""
    before = fastdl.get_num_threads()
    yield
    fastdl.set_num_threads(before)


def _run_python(code, **env):
    """Run ``code`` in a fresh interpreter with ``env`` added; return its stdout (bounded wait)."""
    full = {**os.environ, **env}
    for name, value in env.items():
        if value is None:
            full.pop(name)
    done = subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


COUNT = "import fastdl; print(fastdl.get_num_threads(), fastdl.thread_info()['source'])"


def test_default_is_the_cores_this_process_may_use():
    want = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    got = _run_python(COUNT, FASTDL_NUM_THREADS=None, OMP_NUM_THREADS=None)
    assert got == f"{want} cores"


@pytest.mark.parametrize(
    "env, want",
    [
        ({"FASTDL_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"}, "3 FASTDL_NUM_THREADS"),
        ({"FASTDL_NUM_THREADS": None, "OMP_NUM_THREADS": "1"}, "1 OMP_NUM_THREADS"),
        ({"FASTDL_NUM_THREADS": None, "OMP_NUM_THREADS": "2,1"}, "2 OMP_NUM_THREADS"),
    ],
)
def test_environment_sets_the_count(env, want):
    assert _run_python(COUNT, **env) == want


def test_fastdl_num_threads_sets_blas_too():
    code = "import fastdl; print(fastdl.get_num_threads(), fastdl.thread_info()['blas_threads'])"
    assert _run_python(code, FASTDL_NUM_THREADS="1", OMP_NUM_THREADS=None) == "1 1"


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_a_bad_environment_value_is_named(raw):
    code = "import fastdl\ntry:\n    fastdl.get_num_threads()\nexcept ValueError as e:\n  print(e)"
    assert _run_python(code, FASTDL_NUM_THREADS=raw) == (
        f"FASTDL_NUM_THREADS must be a positive integer, got {raw!r}"
    )


def test_importing_fastdl_asks_openmp_to_wait_passively():
    code = "import os, fastdl; fastdl.get_num_threads(); print(os.environ['OMP_WAIT_POLICY'])"
    assert _run_python(code, OMP_WAIT_POLICY=None) == "PASSIVE"
    assert _run_python(code, OMP_WAIT_POLICY="active") == "active"  # the user's choice stays


def test_import_fastdl_does_not_load_openmp():
    """The wait policy only takes effect if libgomp is loaded after it was set."""
    code = (
        "import fastdl, fastdl.functional, fastdl.layers\n"
        "maps = open('/proc/self/maps').read()\n"
        "print('gomp' in maps, 'numba' in __import__('sys').modules)"
    )
    if not os.path.exists("/proc/self/maps"):
        pytest.skip("no /proc/self/maps on this system")
    assert _run_python(code) == "False False"


def test_set_num_threads(restore_threads):
    fastdl.set_num_threads(1)
    assert fastdl.get_num_threads() == 1
    info = fastdl.thread_info()
    assert (info["source"], info["blas_threads"]) == ("set_num_threads", 1)
    fastdl.set_num_threads(2)
    assert fastdl.get_num_threads() == 2 and fastdl.thread_info()["blas_threads"] == 2


def _in_a_thread(fn):
    """``fn()`` run in a new Python thread; its result."""
    out = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join()
    return out[0]


def _blas_in_a_conv_split():
    """BLAS's thread count seen by each thread of a split convolution."""
    return _threads.over_samples(4, lambda lo, hi: fastdl.thread_info()["blas_threads"])


def test_set_num_threads_from_another_python_thread_reaches_blas(restore_threads):
    # threadpoolctl 3.8 lets only the first Python thread that set a limit change OpenBLAS's
    # process-wide count and ignores the others: the main thread sets it first here
    fastdl.set_num_threads(2)
    _blas_in_a_conv_split()  # and limits BLAS while it splits a convolution
    _in_a_thread(lambda: fastdl.set_num_threads(1))
    assert fastdl.thread_info()["blas_threads"] == 1  # process-wide, seen by the main thread
    _in_a_thread(lambda: fastdl.set_num_threads(2))
    assert fastdl.thread_info()["blas_threads"] == 2
    if fastdl.get_num_threads() > 1:  # a split run from a worker thread holds BLAS at 1 too
        assert set(_in_a_thread(_blas_in_a_conv_split)) == {1}
        assert fastdl.thread_info()["blas_threads"] == 2


@pytest.mark.parametrize(
    "bad, error",
    [(0, ValueError), (-1, ValueError), (1.0, TypeError), (True, TypeError), ("2", TypeError)],
)
def test_set_num_threads_rejects(bad, error):
    with pytest.raises(error, match="set_num_threads: n must be"):
        fastdl.set_num_threads(bad)


def test_small_loops_are_serial_large_ones_use_the_count(restore_threads):
    fastdl.set_num_threads(2)
    assert _threads.threads_for(_threads.SERIAL_BELOW - 1) == 1
    assert _threads.threads_for(_threads.SERIAL_BELOW) == 2
    fastdl.set_num_threads(1)
    assert _threads.threads_for(10**9) == 1


def _every_family(backend, big):
    """One call of every kernel family; ``big`` inputs take the parallel loops."""
    rng = np.random.default_rng(5)
    n = 40 if big else 2
    x = rng.standard_normal((n, 8, 24, 24))  # (N, C, H, W): 184,320 elements when big
    w = rng.standard_normal((6, 8, 3, 3))
    b = rng.standard_normal(6)
    y = F.conv2d_forward(x, w, b, 1, 1, backend=backend)
    dy = rng.standard_normal(y.shape)
    conv = F.conv2d_backward(dy, x, w, 1, 1, backend=backend)
    col = F.im2col(x, 3, 3, 1, 1, backend=backend)
    back = F.col2im(col, x.shape, 3, 3, 1, 1, backend=backend)
    pooled, argmax = F.maxpool2d_forward(x, 2, 2, backend=backend)
    unpooled = F.maxpool2d_backward(pooled, argmax, x.shape, 2, 2, backend=backend)
    pooled3, argmax3 = F.maxpool2d_forward(x, 3, 3, 2, 1, backend=backend)
    unpooled3 = F.maxpool2d_backward(pooled3, argmax3, x.shape, 3, 3, 2, 1, backend=backend)
    avg = F.avgpool2d_forward(x, 2, 2, backend=backend)
    avg_back = F.avgpool2d_backward(avg, x.shape, 2, 2, backend=backend)
    act = F.bias_act_forward(y, b, "mish", backend=backend)
    act_back = F.bias_act_backward(dy, y, b, "mish", backend=backend)
    dense = F.bias_act_forward(x.reshape(n, -1), None, "relu", axis=1, backend=backend)
    return [
        y,
        *conv,
        col,
        back,
        pooled,
        argmax,
        unpooled,
        pooled3,
        argmax3,
        unpooled3,
        avg,
        avg_back,
        act,
        *act_back,
        dense,
    ]


def _assert_like_reference(results, big):
    for i, (got, want) in enumerate(zip(results, _every_family("numpy", big))):
        assert_close(got, want, exact=want.dtype.kind == "i", err_msg=f"result {i}")


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("count", [1, 2])
def test_fixed_thread_count_gives_identical_results_twice(backend, count, restore_threads):
    fastdl.set_num_threads(count)
    first = _every_family(backend, big=True)
    second = _every_family(backend, big=True)
    for i, (a, b) in enumerate(zip(first, second)):
        np.testing.assert_array_equal(a, b, err_msg=f"result {i}")
    _assert_like_reference(first, big=True)


def _family_in_child(args):
    backend, big = args
    return _threads.num_threads(), _every_family(backend, big)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("backend", COMPILED)
def test_forked_child_after_parallel_kernels_is_correct(backend, restore_threads):
    """libgomp's threads do not survive fork; the child runs serially instead of hanging."""
    fastdl.set_num_threads(2)
    _every_family(backend, big=True)  # the parent's parallel loops start the OpenMP team
    assert _threads._state["parallel_ran"]
    with multiprocessing.get_context("fork").Pool(1) as pool:
        for big in (True, False):
            count, results = pool.apply_async(_family_in_child, ((backend, big),)).get(60)
            assert count == 1
            _assert_like_reference(results, big)


@pytest.mark.parametrize("backend", COMPILED)
def test_four_python_threads_at_once(backend, restore_threads):
    fastdl.set_num_threads(2)
    want = _every_family(backend, big=True)
    results, errors = [None] * 4, []

    def work(i):
        try:
            for _ in range(3):
                results[i] = _every_family(backend, big=i % 2 == 0)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(120)
    assert not errors, errors
    for i, got in enumerate(results):
        if i % 2 == 0:
            for a, b in zip(got, want):
                np.testing.assert_array_equal(a, b)
        else:
            _assert_like_reference(got, big=False)


def test_training_steps_repeat_bit_for_bit_in_new_processes():
    """Two processes with the same thread count train to the same bits (auto backend)."""
    code = (
        "import numpy as np, fastdl\n"
        "from fastdl import models, optimizers\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.random((64, 1, 28, 28), dtype=np.float32); t = rng.integers(0, 10, 64)\n"
        "m = models.simple_cnn(rng=0)\n"
        "h = fastdl.fit(m, optimizers.Adam(1e-3), x, t, 2, 16, verbose=0)\n"
        "print(h.iteration_loss[-1].hex(), m.params['3.W'].sum(dtype=np.float64).hex())\n"
    )
    first = _run_python(code, FASTDL_NUM_THREADS="2")
    assert first == _run_python(code, FASTDL_NUM_THREADS="2")
