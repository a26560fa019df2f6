"""Dropout: drop units at random in training (inverted or textbook scaling)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._typing import FloatArray
from ._base import Layer, check_float_input, require_rng


class Dropout(Layer):
    """Dropout with drop probability ``ratio``.

    ``mode="inverted"`` (default) scales kept units by ``1/(1-ratio)`` in training and does
    nothing at inference; ``mode="textbook"`` keeps units unscaled in training and multiplies by
    ``1 - ratio`` at inference, as the textbook's ``Dropout`` does.

    Parameters
    ----------
    ratio : float in [0, 1)
    mode : {"inverted", "textbook"}
    rng : numpy.random.Generator
    """

    _mask: FloatArray | np.floating[Any]  # the inference constant or the training mask

    def __init__(
        self, ratio: float = 0.5, mode: str = "inverted", *, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__()
        if not 0 <= ratio < 1:
            raise ValueError(f"Dropout: ratio must be in [0, 1), got {ratio!r}")
        if mode not in ("inverted", "textbook"):
            raise ValueError(f"Dropout: mode must be 'inverted' or 'textbook', got {mode!r}")
        self.ratio, self.mode = float(ratio), mode
        self.rng = require_rng("Dropout", rng if rng is not None else np.random.default_rng())

    def forward(self, x: npt.ArrayLike, train: bool = True) -> FloatArray:
        x = check_float_input("Dropout", x)
        if not train:  # backward then multiplies by the same constant
            self._mask = x.dtype.type(1 - self.ratio if self.mode == "textbook" else 1.0)
            return x * self._mask
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.ratio
        scale = 1 / (1 - self.ratio) if self.mode == "inverted" else 1.0
        self._mask = keep * x.dtype.type(scale)
        return x * self._mask

    def backward(self, dout: FloatArray) -> FloatArray:
        return dout * self._mask

    def config(self) -> dict[str, Any]:
        return {"ratio": self.ratio, "mode": self.mode}
