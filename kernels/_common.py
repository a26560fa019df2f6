"""Tiny helpers shared by every backend (validation is in fastdl.functional)."""

import numpy as np


def pair(v):
    """Return ``v`` as an ``(h, w)`` tuple of ints: ``3 -> (3, 3)``, ``(2, 1) -> (2, 1)``."""
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def out_size(h, w, kh, kw, stride, pad):
    """Output height and width of a sliding window: ``(h + 2*pad - kh) // stride + 1``."""
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def pool_geometry(x_shape, kh, kw, stride, pad):
    """``(sh, sw, ph, pw, oh, ow)`` of a pooling window on an (N, C, H, W) input.

    ``stride=None`` means the window size (non-overlapping windows).
    """
    (sh, sw), (ph, pw) = pair((kh, kw) if stride is None else stride), pair(pad)
    oh, ow = out_size(x_shape[2], x_shape[3], kh, kw, (sh, sw), (ph, pw))
    return sh, sw, ph, pw, oh, ow


def is_2x2_tiling(kh, kw, sh, sw, ph, pw):
    """True for 2x2 windows at stride 2 without padding: the common case with a fast path.

    Its windows do not overlap, so max pooling's backward writes each covered pixel once.
    """
    return kh == kw == sh == sw == 2 and ph == pw == 0


def pool_backward_setup(x_shape, dtype, kh, kw, stride, pad):
    """``(dx, fast, (sh, sw, ph, pw))`` for a pooling backward of an (N, C, H, W) input.

    ``fast``: the 2x2 stride-2 unpadded loops apply (:func:`is_2x2_tiling`); they write every
    pixel their windows cover, so ``dx`` is left uninitialised when the windows cover the whole
    plane. Otherwise ``dx`` is zeroed (the loops add into it, or skip the last row/column).
    """
    sh, sw, ph, pw, oh, ow = pool_geometry(x_shape, kh, kw, stride, pad)
    x_shape = tuple(int(s) for s in x_shape)
    fast = is_2x2_tiling(kh, kw, sh, sw, ph, pw)
    covered = fast and x_shape[2:] == (2 * oh, 2 * ow)
    dx = (np.empty if covered else np.zeros)(x_shape, dtype=dtype)
    return dx, fast, (sh, sw, ph, pw)


# Activation names and their parameters with PyTorch's defaults (docs/kernels.md). Every backend
# receives canonical names (aliases resolved) and every parameter spelled out.
ACTIVATIONS = {
    "identity": {},
    "relu": {},
    "leaky_relu": {"alpha": 0.01},
    "relu6": {},
    "elu": {"alpha": 1.0},
    "sigmoid": {},
    "tanh": {},
    "softplus": {},
    "swish": {},
    "hswish": {"n": 6.0},
    "mish": {},
    "tanhexp": {},
    "gelu": {},
}
ALIASES = {"silu": "swish"}
