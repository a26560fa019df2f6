"""2-D convolution (cross-correlation, as PyTorch's ``conv2d``), NumPy reference: im2col + GEMM."""

from .._common import out_size
from ._im2col import col2im, im2col


def conv2d_forward(x, w, b, stride=1, pad=0):
    """Convolve ``x`` with filters ``w`` and add bias ``b``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (F, C, KH, KW)
    b : ndarray of shape (F,) or None
    stride, pad : int or (int, int)

    Returns
    -------
    y : ndarray of shape (N, F, OH, OW)
    """
    n = x.shape[0]
    f, _, kh, kw = w.shape
    oh, ow = out_size(x.shape[2], x.shape[3], kh, kw, stride, pad)
    col = im2col(x, kh, kw, stride, pad)  # (N*OH*OW, C*KH*KW)
    y = col @ w.reshape(f, -1).T  # (N*OH*OW, F)
    if b is not None:
        y += b
    return y.reshape(n, oh, ow, f).transpose(0, 3, 1, 2).copy()  # (N, F, OH, OW)


def conv2d_backward(dy, x, w, stride=1, pad=0, need_dx=True):
    """Gradients of ``conv2d_forward`` with respect to its inputs.

    Parameters
    ----------
    dy : ndarray of shape (N, F, OH, OW)
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (F, C, KH, KW)
    stride, pad : int or (int, int)
    need_dx : bool
        With ``False`` the input gradient is not computed (a network's first layer does not
        need it) and ``dx`` is ``None``.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), or None
    dw : ndarray of shape (F, C, KH, KW)
    db : ndarray of shape (F,)
    """
    f, _, kh, kw = w.shape
    dy2 = dy.transpose(0, 2, 3, 1).reshape(-1, f)  # (N*OH*OW, F)
    col = im2col(x, kh, kw, stride, pad)  # (N*OH*OW, C*KH*KW)
    dw = (dy2.T @ col).reshape(w.shape)  # (F, C, KH, KW)
    db = dy2.sum(axis=0)
    if not need_dx:
        return None, dw, db
    dcol = dy2 @ w.reshape(f, -1)  # (N*OH*OW, C*KH*KW)
    dx = col2im(dcol, x.shape, kh, kw, stride, pad)
    return dx, dw, db
