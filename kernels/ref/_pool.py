"""Max and average pooling, NumPy reference built on im2col/col2im.

Max pooling pads with -inf and returns, per output element, the window-local flat index
``i*kw + j`` (int64) of the first maximum in row-major window order.
Average pooling counts padding as zeros and always divides by ``kh*kw``.
"""

import numpy as np

from .._common import out_size, pair
from ._im2col import col2im, im2col


def _windows(x, kh, kw, stride, pad, fill):
    """Windows of ``x`` padded with ``fill``: shape (N, OH, OW, C, KH*KW)."""
    (ph, pw) = pair(pad)
    n, c, h, w = x.shape
    oh, ow = out_size(h, w, kh, kw, stride, pad)
    img = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    col = im2col(img, kh, kw, stride, 0)  # (N*OH*OW, C*KH*KW)
    return col.reshape(n, oh, ow, c, kh * kw)  # (N, OH, OW, C, KH*KW)


def _fold(dwin, x_shape, kh, kw, stride, pad):
    """Scatter-add window gradients (N, OH, OW, C, KH*KW) back to an (N, C, H, W) image."""
    n, oh, ow = dwin.shape[:3]
    dcol = dwin.reshape(n * oh * ow, -1)  # (N*OH*OW, C*KH*KW)
    return col2im(dcol, x_shape, kh, kw, stride, pad)


def maxpool2d_forward(x, kh, kw, stride=None, pad=0):
    """Max pooling.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kh, kw : int
    stride : int or (int, int) or None
        Defaults to the window size.
    pad : int or (int, int)

    Returns
    -------
    y : ndarray of shape (N, C, OH, OW)
    argmax : int64 ndarray of shape (N, C, OH, OW)
        Window-local flat index of each maximum.
    """
    stride = (kh, kw) if stride is None else stride
    win = _windows(x, kh, kw, stride, pad, -np.inf)  # (N, OH, OW, C, KH*KW)
    arg = win.argmax(axis=4)  # (N, OH, OW, C)
    y = np.take_along_axis(win, arg[..., None], axis=4)[..., 0]  # (N, OH, OW, C)
    return y.transpose(0, 3, 1, 2).copy(), arg.transpose(0, 3, 1, 2).astype(np.int64)


def maxpool2d_backward(dy, argmax, x_shape, kh, kw, stride=None, pad=0):
    """Route ``dy`` to the maxima recorded in ``argmax``.

    Parameters
    ----------
    dy, argmax : ndarrays of shape (N, C, OH, OW)
    x_shape : tuple (N, C, H, W)

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    stride = (kh, kw) if stride is None else stride
    n, c, oh, ow = dy.shape
    dwin = np.zeros((n, oh, ow, c, kh * kw), dtype=dy.dtype)
    arg = argmax.transpose(0, 2, 3, 1)[..., None]  # (N, OH, OW, C, 1)
    np.put_along_axis(dwin, arg, dy.transpose(0, 2, 3, 1)[..., None], axis=4)
    return _fold(dwin, x_shape, kh, kw, stride, pad)


def avgpool2d_forward(x, kh, kw, stride=None, pad=0):
    """Average pooling (padding counts as zeros; divisor always ``kh*kw``).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)

    Returns
    -------
    y : ndarray of shape (N, C, OH, OW)
    """
    stride = (kh, kw) if stride is None else stride
    win = _windows(x, kh, kw, stride, pad, 0)  # (N, OH, OW, C, KH*KW)
    return (win.sum(axis=4) / (kh * kw)).transpose(0, 3, 1, 2).copy()


def avgpool2d_backward(dy, x_shape, kh, kw, stride=None, pad=0):
    """Spread ``dy / (kh*kw)`` evenly over each window.

    Parameters
    ----------
    dy : ndarray of shape (N, C, OH, OW)
    x_shape : tuple (N, C, H, W)

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    stride = (kh, kw) if stride is None else stride
    share = dy.transpose(0, 2, 3, 1)[..., None] / (kh * kw)  # (N, OH, OW, C, 1)
    dwin = np.broadcast_to(share, (*share.shape[:4], kh * kw))  # (N, OH, OW, C, KH*KW)
    return _fold(np.ascontiguousarray(dwin), x_shape, kh, kw, stride, pad)
