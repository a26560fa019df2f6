"""Comparison helpers shared by the kernel tests."""

import numpy as np

# Tolerances for results that are sums (conv, pooling averages, reductions), per dtype.
SUM_TOL = {
    np.dtype(np.float32): {"rtol": 2e-5, "atol": 2e-5},
    np.dtype(np.float64): {"rtol": 1e-12, "atol": 1e-12},
}


def assert_close(actual, expected, *, exact=False, err_msg=""):
    """Assert ``actual`` equals ``expected`` in dtype and shape, exactly or within SUM_TOL."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype} {err_msg}"
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape} {err_msg}"
    if exact:
        np.testing.assert_array_equal(actual, expected, err_msg=err_msg)
    else:
        np.testing.assert_allclose(actual, expected, err_msg=err_msg, **SUM_TOL[expected.dtype])


def numerical_grad(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function ``f`` at float64 array ``x``.

    ``x`` is perturbed in place and restored; ``f`` must read ``x`` afresh on every call.
    """
    grad = np.zeros_like(x)
    flat_x = x.reshape(-1)  # (x.size,) view
    flat_g = grad.reshape(-1)  # (x.size,) view
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + eps
        f_plus = f()
        flat_x[i] = old - eps
        f_minus = f()
        flat_x[i] = old
        flat_g[i] = (f_plus - f_minus) / (2 * eps)
    return grad
