"""Degenerate and huge sizes: one behaviour on every backend, decided in validation.

N = 0 gives empty results (PyTorch does too); C, F, H or W = 0 a ValueError; sizes, strides and
pads above 2**31 - 1 a ValueError; outputs or workspaces above 2**32 entries a ValueError raised
before anything is allocated.
"""

import numpy as np
import pytest

from fastdl import functional as F


def _x(*shape):
    return np.ones(shape, np.float32)


def test_empty_batch_gives_empty_results(backend):
    x, w, b = _x(0, 2, 5, 5), _x(3, 2, 3, 3), _x(3)
    y = F.conv2d_forward(x, w, b, 1, 1, backend=backend)
    assert y.shape == (0, 3, 5, 5) and y.dtype == np.float32
    dx, dw, db = F.conv2d_backward(y, x, w, 1, 1, backend=backend)
    assert dx.shape == (0, 2, 5, 5)
    np.testing.assert_array_equal(dw, np.zeros((3, 2, 3, 3), np.float32))
    np.testing.assert_array_equal(db, np.zeros(3, np.float32))
    assert F.im2col(x, 3, 3, backend=backend).shape == (0, 18)
    assert F.col2im(np.ones((0, 18), np.float32), (0, 2, 5, 5), 3, 3, backend=backend).shape == (
        0,
        2,
        5,
        5,
    )
    y, argmax = F.maxpool2d_forward(x, 2, 2, backend=backend)
    assert y.shape == argmax.shape == (0, 2, 2, 2) and argmax.dtype == np.int64
    assert F.maxpool2d_backward(y, argmax, x.shape, 2, 2, backend=backend).shape == x.shape
    y = F.avgpool2d_forward(x, 2, 2, backend=backend)
    assert y.shape == (0, 2, 2, 2)
    assert F.avgpool2d_backward(y, x.shape, 2, 2, backend=backend).shape == x.shape
    y = F.bias_act_forward(_x(0, 4), _x(4), "relu", backend=backend)
    assert y.shape == (0, 4)
    dx, db = F.bias_act_backward(y, _x(0, 4), _x(4), "relu", backend=backend)
    assert dx.shape == (0, 4)
    np.testing.assert_array_equal(db, np.zeros(4, np.float32))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda be: F.conv2d_forward(_x(1, 0, 5, 5), _x(3, 0, 3, 3), None, backend=be), "x has"),
        (lambda be: F.conv2d_forward(_x(1, 2, 5, 5), _x(0, 2, 3, 3), None, backend=be), "w has"),
        (lambda be: F.conv2d_forward(_x(1, 2, 0, 5), _x(3, 2, 1, 1), None, backend=be), "x has"),
        (lambda be: F.maxpool2d_forward(_x(1, 0, 4, 4), 2, 2, backend=be), "x has"),
        (lambda be: F.avgpool2d_forward(_x(1, 2, 4, 0), 1, 1, backend=be), "x has"),
        (lambda be: F.im2col(_x(2, 0, 4, 4), 2, 2, backend=be), "x has"),
        (lambda be: F.col2im(_x(0, 4), (1, 0, 4, 4), 2, 2, backend=be), "x_shape"),
        (lambda be: F.avgpool2d_backward(_x(1, 1, 2, 2), (1, 1, 0, 4), 2, 2, backend=be), "x_sh"),
    ],
    ids=["C=0", "F=0", "H=0", "pool C=0", "pool W=0", "im2col C=0", "col2im C=0", "H=0 shape"],
)
def test_empty_channels_filters_or_image_are_rejected(backend, call, match):
    with pytest.raises(ValueError, match=match):
        call(backend)


@pytest.mark.parametrize("kernel", ["conv", "im2col", "maxpool", "avgpool"])
def test_huge_pad_is_refused_before_allocating(backend, kernel):
    x = _x(1, 1, 2, 2)
    calls = {
        "conv": lambda: F.conv2d_forward(x, _x(1, 1, 3, 3), None, 1, 10**6, backend=backend),
        "im2col": lambda: F.im2col(x, 3, 3, 1, 10**6, backend=backend),
        "maxpool": lambda: F.maxpool2d_forward(_x(1, 1, 4, 4), 2**20, 2**20, 1, 2**19),
        "avgpool": lambda: F.avgpool2d_forward(_x(1, 1, 4, 4), 2**20, 2**20, 1, 2**19),
    }
    with pytest.raises(ValueError, match=r"limit is 4,294,967,296 \(2\*\*32\)"):
        calls[kernel]()


@pytest.mark.parametrize("big", [2**31, 2**70])
def test_huge_stride_and_pad_values_are_rejected(backend, big):
    x, w = _x(1, 1, 4, 4), _x(1, 1, 2, 2)
    with pytest.raises(ValueError, match=r"stride must be at most 2\*\*31 - 1"):
        F.conv2d_forward(x, w, None, big, 0, backend=backend)
    with pytest.raises(ValueError, match=r"pad must be at most 2\*\*31 - 1"):
        F.avgpool2d_forward(x, 2, 2, 2, (0, big), backend=backend)


def test_largest_accepted_stride_works(backend):
    x, w = _x(1, 1, 4, 4), _x(1, 1, 2, 2)
    y = F.conv2d_forward(x, w, None, 2**31 - 1, 0, backend=backend)
    np.testing.assert_array_equal(y, np.full((1, 1, 1, 1), 4, np.float32))


def test_huge_col2im_shape_is_refused(backend):
    with pytest.raises(ValueError, match="2\\*\\*32"):
        F.col2im(_x(1, 1), (1, 1, 2**20, 2**20), 1, 1, stride=2**20, backend=backend)
