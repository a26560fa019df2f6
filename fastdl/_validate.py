"""Input checks for ``fastdl.functional``: every error is raised here, before any kernel runs.

Each check names the argument and the numbers, raises ``TypeError`` for wrong kinds (integer or
mixed dtypes, non-integer sizes) and ``ValueError`` for wrong values (ndim, sizes, shapes), and
returns the normalised value (C-contiguous arrays, ``(h, w)`` int pairs).

Sizes: a batch of N = 0 images is valid (the callers return empty results, as PyTorch does);
every other axis of an (N, C, H, W) array or a filter bank must be >= 1. Sizes, strides and pads
must be at most ``MAX_INT``, and no output or workspace may hold more than ``MAX_ELEMENTS``
entries (the reference's im2col workspace ``N*OH*OW x C*KH*KW`` counts): such calls raise
``ValueError`` before anything is allocated.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ._typing import FloatArray, IntArray, Shape

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
MAX_INT = 2**31 - 1  # largest size, stride or pad (the compiled loops index with C integers)
MAX_ELEMENTS = 2**32  # largest output or workspace, in entries (16 GiB of float32)


def array(
    name: str, a: npt.ArrayLike, ndim: int | None = None, dtype: npt.DTypeLike | None = None
) -> FloatArray:
    """Return ``a`` as a C-contiguous float32/float64 array (a copy only if it must be).

    Parameters
    ----------
    name : str
        Argument name used in error messages.
    a : array_like
    ndim : int, optional
        Required number of dimensions.
    dtype : numpy dtype, optional
        Required dtype (that of the first array of the call): mixed dtypes are a ``TypeError``.
    """
    a = np.asarray(a)
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(
            f"mixed dtypes: {name} is {a.dtype} but the other arrays are {np.dtype(dtype)}; "
            f"cast them to one dtype"
        )
    if ndim is not None and a.ndim != ndim:
        legend = " (N, C, H, W)" if ndim == 4 else ""
        raise ValueError(f"{name} must be {ndim}-D{legend}, got shape {a.shape}")
    if ndim == 4 and 0 in a.shape[1:]:
        raise ValueError(f"{name} has an empty axis, shape {a.shape}: only axis 0 may be 0")
    # (np.ascontiguousarray would turn a 0-d array into shape (1,))
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def matrices(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Check the operands of a product ``a @ b``: 2-D, one float dtype, inner sizes equal, an
    output of at most ``MAX_ELEMENTS`` entries. Returns them as arrays, strides kept."""
    a, b = np.asarray(a), np.asarray(b)
    for name, m in (("a", a), ("b", b)):
        if m.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name} must be a float32 or float64 array, got dtype {m.dtype}")
        if m.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {m.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"mixed dtypes: a is {a.dtype} but b is {b.dtype}; cast them to one dtype")
    if a.shape[1] != b.shape[0]:
        raise ValueError(
            f"a's columns must equal b's rows: a is {a.shape}, b is {b.shape} "
            f"({a.shape[1]} != {b.shape[0]})"
        )
    if a.shape[0] * b.shape[1] > MAX_ELEMENTS:
        raise ValueError(
            f"the product of a {a.shape} and b {b.shape} has more than {MAX_ELEMENTS:,} (2**32) "
            "entries"
        )
    return a, b


def _int(name: str, v: Any) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an int or a pair of ints, got {v!r}")
    if int(v) > MAX_INT:
        raise ValueError(f"{name} must be at most 2**31 - 1, got {v!r}")
    return int(v)


def pair(name: str, v: Any, minimum: int) -> tuple[int, int]:
    """Normalise an int or ``(h, w)`` pair to a tuple of two ints ``>= minimum``."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair (h, w), got {v!r}")
        out = (_int(name, v[0]), _int(name, v[1]))
    else:
        out = (_int(name, v),) * 2
    if min(out) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v!r}")
    return out


def kernel_size(kh: Any, kw: Any) -> tuple[int, int]:
    """Check window sizes: positive ints."""
    return pair("kh", kh, 1)[0], pair("kw", kw, 1)[0]


def shape4(name: str, shape: Any) -> Shape:
    """Check an ``(N, C, H, W)`` shape tuple of ints, N >= 0 and the others >= 1."""
    if not isinstance(shape, (tuple, list)) or len(shape) != 4:
        raise ValueError(f"{name} must be a tuple (N, C, H, W), got {shape!r}")
    dims = tuple(_int(name, d) for d in shape)
    if dims[0] < 0 or min(dims[1:]) < 1:
        raise ValueError(f"{name} must have N >= 0 and C, H, W >= 1, got {shape!r}")
    if dims[0] * dims[1] * dims[2] * dims[3] > MAX_ELEMENTS:
        raise ValueError(f"{name} {shape!r} has more than {MAX_ELEMENTS:,} (2**32) entries")
    return dims


def window(
    x_shape: Sequence[int],
    kh: int,
    kw: int,
    stride: tuple[int, int],
    pad: tuple[int, int],
    what: str = "window",
) -> tuple[int, int]:
    """Check that a ``kh x kw`` window fits the padded input; return ``(oh, ow)``."""
    h, w = x_shape[2], x_shape[3]
    hp, wp = h + 2 * pad[0], w + 2 * pad[1]
    if kh > hp or kw > wp:
        raise ValueError(
            f"{what} {kh}x{kw} is larger than the padded input {hp}x{wp} (H={h}, W={w}, pad={pad})"
        )
    oh, ow = (hp - kh) // stride[0] + 1, (wp - kw) // stride[1] + 1
    n, c = x_shape[0], x_shape[1]
    workspace = n * oh * ow * c * kh * kw  # the reference's im2col matrix
    if max(workspace, n * c * oh * ow) > MAX_ELEMENTS:
        raise ValueError(
            f"{what} {kh}x{kw} (stride={stride}, pad={pad}) on x of shape {tuple(x_shape)} needs "
            f"an output of {n * c * oh * ow:,} and a workspace of {workspace:,} entries; the "
            f"limit is {MAX_ELEMENTS:,} (2**32)"
        )
    return oh, ow


def pool_pad(kh: int, kw: int, pad: tuple[int, int]) -> None:
    """Pooling padding may be at most half the window (PyTorch's rule): no all-padding window."""
    if pad[0] > kh // 2 or pad[1] > kw // 2:
        raise ValueError(
            f"pad={pad} must be at most half the pooling window {kh}x{kw}, "
            f"i.e. <= ({kh // 2}, {kw // 2})"
        )


def shape_is(name: str, a: npt.NDArray[Any], expected: Sequence[int], why: str) -> None:
    """Check ``a.shape == expected``."""
    if tuple(a.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)} ({why}), got {a.shape}")


def updated(name: str, a: Any, p: npt.NDArray[Any]) -> None:
    """Check an array that an optimizer update writes in place: ``p``'s shape and dtype,
    writeable (``p`` itself: ``a is p``, which must be a float32/float64 ndarray)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be an ndarray updated in place, got {type(a).__name__}")
    if a is p and a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {a.dtype}")
    if a.dtype != p.dtype:
        raise TypeError(f"mixed dtypes: {name} is {a.dtype} but p is {p.dtype}")
    if a.shape != p.shape:
        raise ValueError(f"{name} must have p's shape {p.shape}, got {a.shape}")
    if not a.flags.writeable:
        raise ValueError(f"{name} is read-only, but the update writes it in place")


def real(name: str, x: Any, positive: bool = False) -> float:
    """Return ``x`` as a float after checking it is a finite real number (``> 0`` if asked)."""
    if type(x) is not float and (
        isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real)
    ):
        raise TypeError(f"{name} must be a real number, got {x!r}")
    x = float(x)
    if not math.isfinite(x) or (positive and x <= 0):
        raise ValueError(f"{name} must be a finite number{' > 0' if positive else ''}, got {x!r}")
    return x


def labels(name: str, t: npt.ArrayLike, shape: Sequence[int]) -> IntArray:
    """Check class labels ``t`` of shape (N,) for scores of ``shape`` (N, K); return them as a
    C-contiguous int64 array."""
    n, k = shape
    t = np.asarray(t)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of class labels, got dtype {t.dtype}")
    if t.shape != (n,):
        raise ValueError(
            f"{name} must have shape ({n},) to match scores {tuple(shape)}, got {t.shape}"
        )
    if not labels_in_range(t, k):
        i = int(np.flatnonzero((t < 0) | (t >= k))[0])
        raise ValueError(f"{name}[{i}] = {t[i]} is not a class index in [0, {k})")
    if t.dtype == np.int64 and t.flags.c_contiguous:
        return t
    return np.ascontiguousarray(t, dtype=np.int64)


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def labels_in_range(t: IntArray, k: int) -> bool:
    """True if every entry of the integer array ``t`` is in ``[0, k)``, with one reduction.

    Viewed as unsigned, a negative b-bit label is ``>= 2**(b - 1)``, so ``max >= k`` catches it
    too whenever ``k <= 2**(b - 1)`` (else the minimum is checked as well).
    """
    if not t.size:
        return True
    if t.dtype.kind == "i" and k > 2 ** (8 * t.itemsize - 1):
        return t.min() >= 0 and t.max() < k
    return t.view(_UNSIGNED[t.itemsize]).max() < k
