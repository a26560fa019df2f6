"""im2col / col2im, NumPy reference (the textbook's loop over kernel offsets)."""

import numpy as np

from .._common import out_size, pair


def im2col(x, kh, kw, stride=1, pad=0):
    """Unfold sliding windows of ``x`` into rows.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kh, kw : int
        Window height and width.
    stride, pad : int or (int, int)

    Returns
    -------
    col : ndarray of shape (N*OH*OW, C*KH*KW)
        Rows in (n, oh, ow) order, columns in (c, kh, kw) order.
    """
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    n, c, h, w = x.shape
    oh, ow = out_size(h, w, kh, kw, stride, pad)
    img = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    col = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            col[:, :, i, j] = img[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, -1)  # (N*OH*OW, C*KH*KW)


def col2im(col, x_shape, kh, kw, stride=1, pad=0):
    """Fold rows back into an image, summing overlapping entries (the adjoint of ``im2col``).

    Parameters
    ----------
    col : ndarray of shape (N*OH*OW, C*KH*KW)
    x_shape : tuple (N, C, H, W)
    kh, kw : int
    stride, pad : int or (int, int)

    Returns
    -------
    x : ndarray of shape (N, C, H, W), dtype of ``col``
    """
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    n, c, h, w = x_shape
    oh, ow = out_size(h, w, kh, kw, stride, pad)
    col = col.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)  # (N, C, KH, KW, OH, OW)
    img = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=col.dtype)
    for i in range(kh):
        for j in range(kw):
            img[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] += col[:, :, i, j]
    return img[:, :, ph : ph + h, pw : pw + w].copy()
