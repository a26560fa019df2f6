"""Types of fastdl's annotations: arrays, shapes, window arguments, initialisers, losses."""

from collections.abc import Callable, Sequence
from typing import Any, Protocol, Union

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating[Any]]  # float32 or float64
IntArray = npt.NDArray[np.integer[Any]]
IntPair = Union[int, tuple[int, int]]  # a size, stride or pad: one int for both axes or (h, w)
Shape = tuple[int, ...]
ShapeLike = Union[int, Sequence[int]]  # an initialiser's ``shape``
Initializer = Callable[..., FloatArray]  # ``init(shape, rng, dtype=np.float32)``
InitSpec = Union[str, float, Initializer]  # a name, a normal std or an initialiser


class Loss(Protocol):
    """A loss as :mod:`fastdl.losses` defines it: ``forward(y, t) -> float`` (the batch mean),
    then ``backward(dout=1.0) -> dy`` (the gradient with respect to ``y``)."""

    def forward(self, y: Any, t: Any) -> float: ...

    def backward(self, dout: float = 1.0) -> Any: ...
