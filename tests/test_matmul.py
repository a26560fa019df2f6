"""``fastdl.functional.matmul``: the reference against a float64 loop of exact sums, every backend
against the reference (split by rows or not, any strides, read-only operands), BLAS held at one
thread inside the compiled backends and given back after, and the argument checks."""

import math

import numpy as np
import pytest

from fastdl import functional as F
from fastdl._kernels import _gemm, _threads

# (M, K, N): tiny, odd, a single row or column, tall, wide, and past the split threshold
SHAPES = [(1, 1, 1), (3, 5, 2), (1, 64, 17), (17, 64, 1), (101, 33, 7), (40, 300, 60)]
LARGE = (1200, 784, 1000)  # 2**31 bytes of multiply-adds in float32: split on 2 threads


def _fsum_product(a, b):
    """``a @ b`` by ``math.fsum`` over float64 products: the oracle (exact sums, rounded once)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return np.array(
        [[math.fsum(a64[i] * b64[:, j]) for j in range(b.shape[1])] for i in range(a.shape[0])]
    )


def _bound(a, b):
    """(K + 1) eps * (|a| @ |b|): how far a float sum of K products may be from the exact one."""
    eps = np.finfo(a.dtype).eps
    return (a.shape[1] + 1) * eps * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)))


def _operands(rng, shape, dtype, layout):
    """``a (M, K)`` and ``b (K, N)`` as C arrays, transposed views, strided views or read-only."""
    m, k, n = shape
    if layout == "transposed":
        return rng.standard_normal((k, m)).astype(dtype).T, rng.standard_normal((n, k)).astype(
            dtype
        ).T
    if layout == "strided":
        return (
            rng.standard_normal((m, 2 * k)).astype(dtype)[:, ::2],
            rng.standard_normal((2 * k, n)).astype(dtype)[::2],
        )
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    if layout == "readonly":
        a.flags.writeable = b.flags.writeable = False
    return a, b


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_reference_is_the_exact_product_to_rounding(shape, dtype, rng):
    a, b = _operands(rng, shape, dtype, "c")
    c = F.matmul(a, b, backend="numpy")
    assert c.dtype == dtype and c.shape == (shape[0], shape[2]) and c.flags.c_contiguous
    assert np.all(np.abs(c - _fsum_product(a, b)) <= _bound(a, b))


@pytest.mark.parametrize("split", [False, True], ids=["serial", "split"])
@pytest.mark.parametrize("layout", ["c", "transposed", "strided", "readonly"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_every_backend_matches_the_reference(backend, shape, layout, split, dtype, rng,
                                             monkeypatch):  # fmt: skip
    monkeypatch.setattr(_gemm, "SPLIT_WORK", 1 if split else 1 << 62)
    monkeypatch.setattr(_threads, "num_threads", lambda: 2)
    monkeypatch.setitem(_threads._state, "split_ran", True)  # as after a convolution
    a, b = _operands(rng, shape, dtype, layout)
    before = a.copy(), b.copy()
    c = F.matmul(a, b, backend=backend)
    assert c.dtype == dtype and c.shape == (shape[0], shape[2]) and c.flags.c_contiguous
    want = F.matmul(a, b, backend="numpy")
    assert np.all(np.abs(c - want) <= _bound(a, b))
    np.testing.assert_array_equal(a, before[0])  # the operands are left alone
    np.testing.assert_array_equal(b, before[1])


def test_the_split_rule(monkeypatch):
    monkeypatch.setattr(_threads, "num_threads", lambda: 2)
    assert _gemm.threads_for(*LARGE, 4) == 2
    assert _gemm.threads_for(100, 784, 100, 4) == 1  # a Dense layer: too small to pay for a thread
    assert _gemm.threads_for(15, 10**6, 100, 8) == 1  # fewer than 8 rows for the second thread
    assert _gemm.threads_for(16, 10**6, 100, 8) == 2
    monkeypatch.setattr(_threads, "num_threads", lambda: 1)
    assert _gemm.threads_for(*LARGE, 4) == 1


@pytest.mark.parametrize("after_parallel", [False, True], ids=["mlp", "after-a-conv"])
@pytest.mark.parametrize("shape", [SHAPES[-1], LARGE], ids=["serial", "split"])
def test_blas_keeps_its_threads_until_a_parallel_kernel_ran_then_one(shape, after_parallel,
                                                                     monkeypatch):  # fmt: skip
    """Products in a process where nothing of fastdl ran on several threads use BLAS's own
    threads; after a parallel kernel they run with BLAS at one thread, split or not, and BLAS
    gets its count back."""
    if _threads.available_cores() < 2:
        pytest.skip("needs 2 cores to tell BLAS's thread counts apart")
    seen = []
    real = np.matmul

    def spying_matmul(*args, **kwargs):
        seen.append(_threads.describe()["blas_threads"])
        return real(*args, **kwargs)

    monkeypatch.setitem(_threads._state, "parallel_ran", False)
    monkeypatch.setitem(_threads._state, "split_ran", after_parallel)
    monkeypatch.setattr(_gemm.np, "matmul", spying_matmul)  # _gemm's calls only: np is shared
    a = np.ones(shape[:2], np.float32)
    b = np.ones(shape[1:], np.float32)
    before = _threads.describe()["blas_threads"]
    with _threads.one_blas_thread():
        pass  # a hold given back leaves the count as it was
    assert _threads.describe()["blas_threads"] == before
    _threads.set_num_threads(2)
    try:
        c = F.matmul(a, b, backend="cython")
        assert _threads.describe()["blas_threads"] == 2
        if after_parallel:
            assert set(seen) == {1}
            assert len(seen) == _gemm.threads_for(*shape, 4)  # one call per thread
        else:
            assert seen == [2]
    finally:
        monkeypatch.undo()
        _threads.set_num_threads(before)
    np.testing.assert_array_equal(c, np.full((shape[0], shape[2]), shape[1], np.float32))


def test_a_split_convolution_marks_the_process_parallel(monkeypatch):
    monkeypatch.setitem(_threads._state, "parallel_ran", False)
    monkeypatch.setitem(_threads._state, "split_ran", False)
    monkeypatch.setattr(_threads, "num_threads", lambda: 2)
    assert not _threads.parallel_kernels_ran()
    x, w = np.ones((2, 1, 4, 4)), np.ones((1, 1, 3, 3))
    F.conv2d_forward(x, w, None, backend="cython")
    assert _threads.parallel_kernels_ran()


@pytest.mark.parametrize("m,k,n", [(0, 3, 4), (3, 0, 4), (3, 4, 0)])
def test_empty_sizes_give_zeros_without_a_kernel(backend, m, k, n):
    c = F.matmul(np.ones((m, k)), np.ones((k, n)), backend=backend)
    assert c.shape == (m, n) and c.dtype == np.float64 and not c.any()


@pytest.mark.parametrize(
    "a,b,error,match",
    [
        (np.ones((2, 3), np.int64), np.ones((3, 2)), TypeError, "a must be a float32 or float64"),
        (np.ones((2, 3)), np.ones((3, 2), np.float16), TypeError, "b must be a float32 or float64"),
        (np.ones((2, 3), np.float32), np.ones((3, 2)), TypeError, "mixed dtypes: a is float32"),
        (np.ones(3), np.ones((3, 2)), ValueError, r"a must be 2-D, got shape \(3,\)"),
        (np.ones((2, 3)), np.ones((1, 3, 2)), ValueError, r"b must be 2-D, got shape \(1, 3, 2\)"),
        (np.ones((2, 3)), np.ones((4, 2)), ValueError, r"\(2, 3\), b is \(4, 2\) \(3 != 4\)"),
    ],
)
def test_bad_operands_are_refused_naming_them(a, b, error, match):
    with pytest.raises(error, match=match):
        F.matmul(a, b)


def test_an_output_above_the_size_limit_is_refused_before_allocating():
    a = np.lib.stride_tricks.as_strided(np.zeros(1), (2**17, 1), (0, 0))  # no memory behind it
    b = np.lib.stride_tricks.as_strided(np.zeros(1), (1, 2**16), (0, 0))
    with pytest.raises(ValueError, match="more than 4,294,967,296"):
        F.matmul(a, b)
