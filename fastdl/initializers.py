"""Weight initialisers: ``init(shape, rng, dtype=np.float32) -> ndarray``.

Every initialiser draws from the ``numpy.random.Generator`` it is given (never from NumPy's
global RNG), so one ``np.random.default_rng(seed)`` makes a run reproducible. Values are drawn in
float64 and then cast, so float32 and float64 weights from the same seed agree to rounding.

Fans follow the layer shapes of :mod:`fastdl.layers` (and of the textbook):

- Dense/Affine weight ``W`` (in, out): ``fan_in = in``, ``fan_out = out``;
- Conv2D weight ``W`` (F, C, KH, KW): ``fan_in = C*KH*KW``, ``fan_out = F*KH*KW``.

===================  =====================================  ==================================
name                 distribution                           textbook / other libraries
===================  =====================================  ==================================
``normal``           N(0, std**2), ``std=0.01`` by default  ``weight_init_std=0.01``
``lecun_normal``     N(0, 1/fan_in)                         the textbook's "Xavier" (sigmoid)
``lecun_uniform``    U(-sqrt(3/fan_in), +sqrt(3/fan_in))
``glorot_normal``    N(0, 2/(fan_in+fan_out))               ``xavier_normal`` (PyTorch)
``glorot_uniform``   U(+-sqrt(6/(fan_in+fan_out)))          ``xavier_uniform`` (PyTorch)
``he_normal``        N(0, 2/fan_in)                         the textbook's "He" (ReLU);
                                                            ``kaiming_normal_`` (PyTorch)
``he_uniform``       U(+-sqrt(6/fan_in))                    ``kaiming_uniform_`` (PyTorch)
``zeros``/``ones``   constants (biases, BatchNorm gamma)
===================  =====================================  ==================================

Normal draws are not truncated (as in the textbook and PyTorch; Keras truncates). Because
"Xavier" means different things in the textbook and elsewhere, the name ``"xavier"`` alone is
refused with a pointer to both meanings.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from ._typing import FloatArray, Initializer, InitSpec, Shape, ShapeLike

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _check_shape(shape: ShapeLike, fans: bool) -> Shape:
    """Return ``shape`` as a tuple of positive ints; 2-D or 4-D when ``fans`` are needed."""
    dims = (shape,) if isinstance(shape, numbers.Integral) else shape
    if not isinstance(dims, (tuple, list)) or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, (bool, np.bool_)) for d in dims
    ):
        raise TypeError(f"shape must be an int or a tuple of ints, got {shape!r}")
    dims = tuple(int(d) for d in dims)
    if not dims or min(dims) < 1:
        raise ValueError(f"shape must have one or more positive sizes, got {shape!r}")
    if fans and len(dims) not in (2, 4):
        raise ValueError(
            f"shape must be 2-D (in, out) for Dense or 4-D (F, C, KH, KW) for Conv2D to compute "
            f"fan_in/fan_out, got {dims}"
        )
    return dims


def _check_rng(rng: object, optional: bool = False) -> None:
    if optional and rng is None:
        return
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator, e.g. np.random.default_rng(seed), "
            f"got {type(rng).__name__}"
        )


def _check_dtype(dtype: npt.DTypeLike) -> np.dtype[Any]:
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from err
    if dt not in _FLOATS:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def compute_fans(shape: ShapeLike) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight shape.

    Parameters
    ----------
    shape : tuple of int
        (in, out) for a Dense weight, (F, C, KH, KW) for a Conv2D weight.

    Returns
    -------
    (int, int)
        ``(in, out)``, or ``(C*KH*KW, F*KH*KW)``.
    """
    dims = _check_shape(shape, fans=True)
    if len(dims) == 2:
        return dims
    f, c, kh, kw = dims
    return c * kh * kw, f * kh * kw


def _prepare(
    shape: ShapeLike, rng: np.random.Generator, dtype: npt.DTypeLike
) -> tuple[Shape, int, int, np.dtype[Any]]:
    """Check a fan-based initialiser's arguments; return ``(dims, fan_in, fan_out, dtype)``."""
    dims = _check_shape(shape, fans=True)
    _check_rng(rng)
    return (dims, *compute_fans(dims), _check_dtype(dtype))


def _check_std(std: float) -> float:
    if isinstance(std, (bool, np.bool_)) or not isinstance(std, numbers.Real):
        raise TypeError(f"std must be a real number, got {type(std).__name__}")
    if not (np.isfinite(std) and std >= 0):
        raise ValueError(f"std must be finite and >= 0, got {std!r}")
    return float(std)


def _normal(shape: Shape, rng: np.random.Generator, dtype: np.dtype[Any], std: float) -> FloatArray:
    return (rng.standard_normal(shape) * std).astype(dtype)


def _uniform(
    shape: Shape, rng: np.random.Generator, dtype: np.dtype[Any], limit: float
) -> FloatArray:
    return rng.uniform(-limit, limit, shape).astype(dtype)


def normal(
    shape: ShapeLike,
    rng: np.random.Generator,
    dtype: npt.DTypeLike = np.float32,
    *,
    std: float = 0.01,
) -> FloatArray:
    """N(0, std**2) weights of any shape (the textbook's ``weight_init_std * randn``).

    Parameters
    ----------
    shape : int or tuple of int
    rng : numpy.random.Generator
    dtype : float32 (default) or float64
    std : float >= 0

    Returns
    -------
    ndarray of ``shape`` and ``dtype``
    """
    dims = _check_shape(shape, fans=False)
    _check_rng(rng)
    return _normal(dims, rng, _check_dtype(dtype), _check_std(std))


def lecun_normal(
    shape: ShapeLike, rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
) -> FloatArray:
    """LeCun normal N(0, 1/fan_in): the textbook's "Xavier" (``sqrt(1/n)``, for sigmoid/tanh).

    ``shape`` (in, out) or (F, C, KH, KW); ``rng`` a ``numpy.random.Generator``; ``dtype``
    float32 or float64. Returns an array of ``shape`` and ``dtype``.
    """
    dims, fan_in, _, dtype = _prepare(shape, rng, dtype)
    return _normal(dims, rng, dtype, np.sqrt(1.0 / fan_in))


def lecun_uniform(
    shape: ShapeLike, rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
) -> FloatArray:
    """LeCun uniform U(-sqrt(3/fan_in), +sqrt(3/fan_in)), variance 1/fan_in.

    ``shape`` (in, out) or (F, C, KH, KW); ``rng`` a ``numpy.random.Generator``; ``dtype``
    float32 or float64. Returns an array of ``shape`` and ``dtype``.
    """
    dims, fan_in, _, dtype = _prepare(shape, rng, dtype)
    return _uniform(dims, rng, dtype, np.sqrt(3.0 / fan_in))


def glorot_normal(
    shape: ShapeLike, rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
) -> FloatArray:
    """Glorot/Xavier normal N(0, 2/(fan_in + fan_out)) (PyTorch's ``xavier_normal_``).

    ``shape`` (in, out) or (F, C, KH, KW); ``rng`` a ``numpy.random.Generator``; ``dtype``
    float32 or float64. Returns an array of ``shape`` and ``dtype``.
    """
    dims, fan_in, fan_out, dtype = _prepare(shape, rng, dtype)
    return _normal(dims, rng, dtype, np.sqrt(2.0 / (fan_in + fan_out)))


def glorot_uniform(
    shape: ShapeLike, rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
) -> FloatArray:
    """Glorot/Xavier uniform U(+-sqrt(6/(fan_in + fan_out))) (PyTorch's ``xavier_uniform_``).

    ``shape`` (in, out) or (F, C, KH, KW); ``rng`` a ``numpy.random.Generator``; ``dtype``
    float32 or float64. Returns an array of ``shape`` and ``dtype``.
    """
    dims, fan_in, fan_out, dtype = _prepare(shape, rng, dtype)
    return _uniform(dims, rng, dtype, np.sqrt(6.0 / (fan_in + fan_out)))


def he_normal(
    shape: ShapeLike, rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
) -> FloatArray:
    """He/Kaiming normal N(0, 2/fan_in): the textbook's "He" (``sqrt(2/n)``, for ReLU).

    ``shape`` (in, out) or (F, C, KH, KW); ``rng`` a ``numpy.random.Generator``; ``dtype``
    float32 or float64. Returns an array of ``shape`` and ``dtype``.
    """
    dims, fan_in, _, dtype = _prepare(shape, rng, dtype)
    return _normal(dims, rng, dtype, np.sqrt(2.0 / fan_in))


def he_uniform(
    shape: ShapeLike, rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
) -> FloatArray:
    """He/Kaiming uniform U(+-sqrt(6/fan_in)), variance 2/fan_in.

    ``shape`` (in, out) or (F, C, KH, KW); ``rng`` a ``numpy.random.Generator``; ``dtype``
    float32 or float64. Returns an array of ``shape`` and ``dtype``.
    """
    dims, fan_in, _, dtype = _prepare(shape, rng, dtype)
    return _uniform(dims, rng, dtype, np.sqrt(6.0 / fan_in))


def zeros(
    shape: ShapeLike, rng: np.random.Generator | None = None, dtype: npt.DTypeLike = np.float32
) -> FloatArray:
    """All-zero array of any shape (biases, BatchNorm beta); ``rng`` is accepted and unused."""
    _check_rng(rng, optional=True)
    return np.zeros(_check_shape(shape, fans=False), _check_dtype(dtype))


def ones(
    shape: ShapeLike, rng: np.random.Generator | None = None, dtype: npt.DTypeLike = np.float32
) -> FloatArray:
    """All-one array of any shape (BatchNorm gamma); ``rng`` is accepted and unused."""
    _check_rng(rng, optional=True)
    return np.ones(_check_shape(shape, fans=False), _check_dtype(dtype))


INITIALIZERS: dict[str, Initializer] = {
    "normal": normal,
    "lecun_normal": lecun_normal,
    "lecun_uniform": lecun_uniform,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "xavier_normal": glorot_normal,
    "xavier_uniform": glorot_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "zeros": zeros,
    "ones": ones,
}

# The textbook's weight_init_std strings are not names here ("xavier" means two things): the
# error for them names the initialiser to use instead.
_TEXTBOOK = {
    "xavier": "'lecun_normal' (std sqrt(1/fan_in))",
    "sigmoid": "'lecun_normal' (std sqrt(1/fan_in))",
    "he": "'he_normal' (std sqrt(2/fan_in))",
    "relu": "'he_normal' (std sqrt(2/fan_in))",
}


def get_initializer(init: InitSpec, **kwargs: float) -> Initializer:
    """Return an initialiser ``f(shape, rng, dtype=np.float32)``.

    Parameters
    ----------
    init : str, float or callable
        A name in :data:`INITIALIZERS`; a float ``s`` for ``normal`` with ``std=s`` (the textbook's
        ``weight_init_std=0.01``); or a callable, returned as is.
    **kwargs
        Keyword parameters of the named initialiser (only ``std`` for ``"normal"``).

    Returns
    -------
    callable
    """
    if isinstance(init, str):
        if init not in INITIALIZERS:
            hint = ""
            if init.lower() in _TEXTBOOK:
                hint = (
                    f"; the textbook's {init!r} is {_TEXTBOOK[init.lower()]} here, Glorot's "
                    f"Xavier (PyTorch's) is 'xavier_normal' or 'xavier_uniform'"
                )
            raise ValueError(
                f"unknown initializer {init!r}; choose one of {sorted(INITIALIZERS)}{hint}"
            )
        fn = INITIALIZERS[init]
        accepted = {
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }
        unknown = sorted(set(kwargs) - accepted)
        if unknown:
            raise TypeError(
                f"initializer {init!r} takes no parameter(s) {unknown}; "
                f"it accepts {sorted(accepted)}"
            )
        if "std" in kwargs:
            kwargs["std"] = _check_std(kwargs["std"])
        return functools.partial(fn, **kwargs) if kwargs else fn
    if kwargs:
        raise TypeError(
            f"keyword parameters {sorted(kwargs)} need an initializer name, got {init!r}"
        )
    if isinstance(init, numbers.Real) and not isinstance(init, (bool, np.bool_)):
        return functools.partial(normal, std=_check_std(init))
    if callable(init):
        return init
    raise TypeError(
        f"init must be an initializer name, a float std or a callable, got {type(init).__name__}"
    )
