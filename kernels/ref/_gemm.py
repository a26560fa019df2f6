"""Matrix product, NumPy reference: ``a @ b`` with BLAS at whatever thread count NumPy runs it."""


def matmul(a, b):
    """``a @ b``.

    Parameters
    ----------
    a : float32 or float64 ndarray of shape (M, K), any strides
    b : ndarray of shape (K, N) and ``a``'s dtype, any strides

    Returns
    -------
    c : C-contiguous ndarray of shape (M, N), ``a``'s dtype
    """
    return a @ b
