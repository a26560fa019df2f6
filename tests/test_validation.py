"""Bad input raises TypeError/ValueError naming the argument and the numbers, on every backend."""

import numpy as np
import pytest

import fastdl
from fastdl import functional as F

X = np.zeros((2, 3, 6, 5))
W = np.zeros((4, 3, 3, 3))


def _check(exc, call, patterns):
    """``call()`` must raise ``exc`` with every pattern (plain substring) in its message."""
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    for p in patterns:
        assert p in msg, f"{p!r} not in error message {msg!r}"


@pytest.mark.parametrize(
    ("call", "exc", "patterns"),
    [
        (lambda: F.im2col(np.zeros((3, 6, 5)), 3, 3), ValueError, ["x", "4-D", "(3, 6, 5)"]),
        (lambda: F.im2col(X.astype(np.int64), 3, 3), TypeError, ["x", "int64"]),
        (lambda: F.im2col(X, 0, 3), ValueError, ["kh", ">= 1", "0"]),
        (lambda: F.im2col(X, 3, -1), ValueError, ["kw", ">= 1", "-1"]),
        (lambda: F.im2col(X, 3, 2.5), TypeError, ["kw", "2.5"]),
        (lambda: F.im2col(X, 3, 3, stride=0), ValueError, ["stride", ">= 1", "0"]),
        (lambda: F.im2col(X, 3, 3, stride=(1, 0)), ValueError, ["stride", "(1, 0)"]),
        (lambda: F.im2col(X, 3, 3, stride=(1, 2, 3)), ValueError, ["stride", "pair"]),
        (lambda: F.im2col(X, 3, 3, stride=None), TypeError, ["stride", "None"]),
        (lambda: F.im2col(X, 3, 3, pad=-1), ValueError, ["pad", ">= 0", "-1"]),
        (lambda: F.im2col(X, 3, 3, pad=True), TypeError, ["pad", "True"]),
        (lambda: F.im2col(X, 7, 3), ValueError, ["window 7x3", "6x5", "H=6"]),
        (lambda: F.im2col(X, 3, 8, pad=1), ValueError, ["window 3x8", "8x7", "pad=(1, 1)"]),
        (lambda: F.col2im(np.zeros((5, 27)), (2, 3, 6, 5), 3, 3), ValueError, ["col", "(24, 27)"]),
        (lambda: F.col2im(np.zeros((24, 27)), (2, 3, 6), 3, 3), ValueError, ["x_shape"]),
        (lambda: F.col2im(np.zeros((24, 27)), (2, 0, 6, 5), 3, 3), ValueError, ["x_shape", "0"]),
        (lambda: F.col2im(np.zeros(27), (2, 3, 6, 5), 3, 3), ValueError, ["col", "2-D"]),
        (
            lambda: F.conv2d_forward(X, np.zeros((4, 2, 3, 3)), None),
            ValueError,
            ["channel mismatch", "C=3", "C=2"],
        ),
        (lambda: F.conv2d_forward(X, W[0], None), ValueError, ["w", "4-D"]),
        (
            lambda: F.conv2d_forward(X, W.astype(np.float32), None),
            TypeError,
            ["mixed dtypes", "w", "float32", "float64"],
        ),
        (lambda: F.conv2d_forward(X, W, np.zeros(3)), ValueError, ["b", "(4,)", "(3,)"]),
        (lambda: F.conv2d_forward(X, W, np.zeros(4, np.int32)), TypeError, ["b", "int32"]),
        (lambda: F.conv2d_forward(X, np.zeros((4, 3, 7, 3)), None), ValueError, ["window 7x3"]),
        (
            lambda: F.conv2d_backward(np.zeros((2, 4, 3, 3)), X, W),
            ValueError,
            ["dy", "(2, 4, 4, 3)", "(2, 4, 3, 3)"],
        ),
        (
            lambda: F.conv2d_backward(np.zeros((2, 4, 4, 3), np.float32), X, W),
            TypeError,
            ["mixed dtypes", "dy"],
        ),
        (lambda: F.maxpool2d_forward(X, 2, 2, pad=2), ValueError, ["pad=(2, 2)", "half"]),
        (lambda: F.maxpool2d_forward(X, 7, 2), ValueError, ["window 7x2", "6x5"]),
        (lambda: F.avgpool2d_forward(X, 3, 3, stride=0), ValueError, ["stride", "0"]),
        (lambda: F.avgpool2d_forward(X.astype(np.float16), 2, 2), TypeError, ["x", "float16"]),
        (
            lambda: F.avgpool2d_backward(np.zeros((2, 3, 2, 2)), (2, 3, 6, 5), 2, 2),
            ValueError,
            ["dy", "(2, 3, 3, 2)"],
        ),
        (
            lambda: F.maxpool2d_backward(
                np.zeros((2, 3, 3, 2)), np.zeros((2, 3, 3, 2)), (2, 3, 6, 5), 2, 2
            ),
            TypeError,
            ["argmax", "integer", "float64"],
        ),
        (
            lambda: F.maxpool2d_backward(
                np.zeros((2, 3, 3, 2)), np.full((2, 3, 3, 2), 4), (2, 3, 6, 5), 2, 2
            ),
            ValueError,
            ["argmax", "[0, 4)", "max 4"],
        ),
        (
            lambda: F.maxpool2d_backward(
                np.zeros((2, 3, 3, 2)), np.zeros((2, 3, 2, 2), int), (2, 3, 6, 5), 2, 2
            ),
            ValueError,
            ["argmax", "(2, 3, 3, 2)"],
        ),
        (lambda: F.bias_act_forward(X, None, "relux"), ValueError, ["relux", "relu", "silu"]),
        (lambda: F.bias_act_forward(X, np.zeros(5), "relu"), ValueError, ["b", "(3,)", "(5,)"]),
        (lambda: F.bias_act_forward(X, None, "relu", axis=4), ValueError, ["axis=4", "(2, 3"]),
        (lambda: F.bias_act_forward(X, None, "relu", axis=1.0), TypeError, ["axis"]),
        (lambda: F.bias_act_forward(X, None, "relu", alpha=0.1), TypeError, ["relu", "alpha"]),
        (lambda: F.bias_act_forward(X, None, "elu", beta=1), TypeError, ["elu", "alpha", "beta"]),
        (lambda: F.bias_act_forward(X, None, "elu", alpha=np.nan), ValueError, ["alpha", "nan"]),
        (lambda: F.bias_act_forward(X, None, "hswish", n=0), ValueError, ["n", "> 0"]),
        (lambda: F.bias_act_forward(X.astype(int), None, "relu"), TypeError, ["x", "int64"]),
        (
            lambda: F.bias_act_backward(np.zeros((2, 3)), X, None, "relu"),
            ValueError,
            ["dy", "(2, 3, 6, 5)", "(2, 3)"],
        ),
        (
            lambda: F.bias_act_backward(X.astype(np.float32), X, None, "relu"),
            TypeError,
            ["mixed dtypes", "dy"],
        ),
    ],
)
def test_bad_input_raises_clear_error(backend, call, exc, patterns):
    with fastdl.use_backend(backend):
        _check(exc, call, patterns)


def test_bool_array_is_rejected():
    _check(TypeError, lambda: F.im2col(np.zeros((1, 1, 3, 3), dtype=bool), 2, 2), ["x", "bool"])
