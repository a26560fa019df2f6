"""The layer protocol shared by every layer (the textbook's, made explicit).

A layer has
- ``params``: dict name -> ndarray of its trainable parameters (``W``, ``b``, ``gamma``...);
- ``grads``: dict with the same keys, written by ``backward``;
- ``buffers``: dict of non-trainable state saved with the model (BatchNorm running statistics);
- ``forward(x, train=True)`` and ``backward(dout) -> dx``; a layer whose class sets
  ``accepts_input_grad = True`` also takes ``backward(dout, input_grad=False)``, which skips
  computing dx and returns None (a network's first layer: nothing needs its input gradient);
- ``config()``: the JSON-serialisable constructor arguments (the architecture description).

Layers call :mod:`fastdl.functional` only; they never touch kernel code.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from .. import initializers
from .._typing import FloatArray, InitSpec, Shape


class Layer:
    """Base class: no parameters, no buffers; subclasses override ``forward``/``backward``."""

    accepts_input_grad: ClassVar[bool] = False

    def __init__(self) -> None:
        self.params: dict[str, FloatArray] = {}
        self.grads: dict[str, FloatArray] = {}
        self.buffers: dict[str, FloatArray] = {}

    def forward(self, x: npt.ArrayLike, train: bool = True) -> FloatArray:
        raise NotImplementedError

    def backward(self, dout: FloatArray) -> FloatArray:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-serialisable dict."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def check_float_input(
    name: str, x: npt.ArrayLike, ndim: tuple[int, ...] | None = None
) -> FloatArray:
    """Return ``x`` as a float array, or raise naming the layer and the offending shape/dtype."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be a float array, got dtype {x.dtype}")
    if ndim is not None and x.ndim not in ndim:
        raise ValueError(f"{name}: input must have ndim in {ndim}, got shape {x.shape}")
    return x


def require_forward(layer: object, attr: str) -> None:
    """Raise ``RuntimeError`` if ``layer.forward`` has not run yet (it sets ``attr``)."""
    if attr not in layer.__dict__:
        name = type(layer).__name__
        raise RuntimeError(f"{name}.backward called before {name}.forward: call forward first")


def positive_int(name: str, value: Any) -> int:
    """Validate a positive integer constructor argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def init_weight(
    init: InitSpec, shape: Shape, rng: np.random.Generator, dtype: npt.DTypeLike
) -> FloatArray:
    """Draw a weight of ``shape`` with initialiser ``init`` (a name, a std, or a callable)."""
    return initializers.get_initializer(init)(shape, rng, dtype)


def require_rng(name: str, rng: Any) -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``; the layers use no global RNG."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name}: rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng


def init_name(init: InitSpec) -> str | float:
    """The JSON-friendly name of initialiser ``init`` for ``config()`` (a callable's name)."""
    return init if isinstance(init, (str, int, float)) else getattr(init, "__name__", repr(init))
