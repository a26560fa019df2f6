"""The textbook's ``common/util.py``: im2col/col2im on fastdl's kernels, plus its small helpers.

``im2col`` and ``col2im`` return float64 whatever the input dtype, as the textbook's do (they
write into ``np.zeros(...)``), and the same numbers: they only move data.
"""

import numpy as np

from .. import functional as F

__all__ = ["im2col", "col2im", "conv_output_size", "smooth_curve", "shuffle_dataset"]


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """Unfold the sliding windows of a batch of images into rows.

    Parameters
    ----------
    input_data : array_like of shape (N, C, H, W)
    filter_h, filter_w : int
    stride, pad : int

    Returns
    -------
    col : float64 ndarray of shape (N*OH*OW, C*FH*FW)
        Rows in (n, oh, ow) order, columns in (c, fh, fw) order.
    """
    x = np.asarray(input_data, dtype=np.float64)
    return F.im2col(x, filter_h, filter_w, stride, pad)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """Fold rows back into images, summing where windows overlap (the adjoint of ``im2col``).

    Parameters
    ----------
    col : array_like of shape (N*OH*OW, C*FH*FW)
    input_shape : tuple (N, C, H, W)
    filter_h, filter_w : int
    stride, pad : int

    Returns
    -------
    img : float64 ndarray of shape input_shape
    """
    col = np.asarray(col, dtype=np.float64)
    return F.col2im(col, tuple(input_shape), filter_h, filter_w, stride, pad)


def conv_output_size(input_size, filter_size, stride=1, pad=0):
    """``(input_size + 2*pad - filter_size) / stride + 1`` with true division, as the textbook.

    Returns a float (``24.0`` for 28, 5); an integral value means the windows fit exactly.
    """
    return (input_size + 2 * pad - filter_size) / stride + 1


def smooth_curve(x):
    """Smooth a loss curve with an 11-tap Kaiser window (beta 2), reflecting at both ends.

    Parameters
    ----------
    x : array_like of shape (L,), L >= 11

    Returns
    -------
    y : ndarray of shape (L,)
    """
    x = np.asarray(x)
    if x.ndim != 1 or x.size < 11:
        raise ValueError(f"smooth_curve needs a 1-D curve of at least 11 values, got {x.shape}")
    taps = np.kaiser(11, 2)
    padded = np.concatenate([x[10:0:-1], x, x[-1:-11:-1]])  # (L + 20,)
    y = np.convolve(taps / taps.sum(), padded, mode="valid")  # (L + 10,)
    return y[5:-5]


def shuffle_dataset(x, t):
    """Shuffle samples and labels together with NumPy's global random state.

    Parameters
    ----------
    x : ndarray of shape (N, ...)
    t : ndarray of shape (N, ...)

    Returns
    -------
    x, t : shuffled copies, the same permutation for both
    """
    if len(x) != len(t):
        raise ValueError(f"x and t must hold as many samples, got {len(x)} and {len(t)}")
    order = np.random.permutation(len(x))  # noqa: NPY002 (the textbook's global state)
    return x[order], t[order]
