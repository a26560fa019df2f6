"""Matrix product on fastdl's threads, for the compiled backends (Numba and Cython share it).

``matmul(a, b)`` is NumPy's ``a @ b``. Once a fastdl kernel has run on several threads in the
process (a convolution split over the batch, a parallel loop), it runs with BLAS held at one
thread (rule 4 of ``kernels/_threads.py``): OpenBLAS's threads busy-wait after every
multi-threaded call and then take the cores from the parallel kernels that follow, so in a CNN a
Dense layer's GEMM slowed the convolutions after it down. Before that (an MLP whose loops are all
small and serial) BLAS keeps its own threads, which are faster than any split of ours on small
products. A held product large enough to pay for a second thread is split by rows over fastdl's
threads (:func:`fastdl._kernels._threads.over_samples`), each running a one-thread BLAS call on
its own rows. Results agree with NumPy's to rounding: OpenBLAS picks its kernel by the matrix
sizes and thread count, so the last bits may differ. bench/README.md, "Design notes (thread
model)", has the measurements behind these rules.
"""

import numpy as np

from . import _threads

# Split a product over threads when it moves at least this many bytes of multiply-adds
# (m * k * n * itemsize) and every thread gets at least ROWS_PER_THREAD rows.
SPLIT_WORK = 1 << 31
ROWS_PER_THREAD = 8


def threads_for(m, k, n, itemsize):
    """Threads that compute an (m, k) @ (k, n) product: 1 unless it is large enough to split."""
    count = _threads.num_threads()
    if count < 2 or m * k * n * itemsize < SPLIT_WORK:
        return 1
    return max(1, min(count, m // ROWS_PER_THREAD))


def matmul(a, b):
    """``a @ b`` by BLAS on fastdl's threads.

    Parameters
    ----------
    a : float32 or float64 ndarray of shape (M, K), any strides
    b : ndarray of shape (K, N) and ``a``'s dtype, any strides

    Returns
    -------
    c : C-contiguous ndarray of shape (M, N), ``a``'s dtype
    """
    if not _threads.parallel_kernels_ran():
        return np.matmul(a, b)
    m, k = a.shape
    n = b.shape[1]
    c = np.empty((m, n), dtype=a.dtype)
    threads = threads_for(m, k, n, a.itemsize)
    if threads < 2:
        with _threads.one_blas_thread():
            np.matmul(a, b, out=c)
        return c

    def rows(lo, hi):
        np.matmul(a[lo:hi], b, out=c[lo:hi])

    _threads.over_samples(m, rows, threads)  # BLAS on one thread in every range
    return c
