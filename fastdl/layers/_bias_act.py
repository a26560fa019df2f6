"""The fused ``act(z + b)`` tail shared by Dense and Conv2D."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from .._typing import FloatArray
from ._base import require_forward


class _BiasAct:
    """Shared tail of Dense and Conv2D: ``act(z + b)`` through the fused kernel.

    With ``activation=None`` the activation is ``identity``: the bias add still runs fused.
    """

    activation: str | None
    act_params: dict[str, Any]
    params: dict[str, FloatArray]

    def _bias_act_forward(self, z: FloatArray) -> FloatArray:
        self._z = z
        act = self.activation or "identity"
        return F.bias_act_forward(z, self.params["b"], act, axis=1, **self.act_params)

    def _bias_act_backward(self, dout: FloatArray) -> tuple[FloatArray, FloatArray | None]:
        require_forward(self, "_x")  # Dense and Conv2D set it (``_z`` is set at construction)
        act = self.activation or "identity"
        return F.bias_act_backward(dout, self._z, self.params["b"], act, axis=1, **self.act_params)

    def _check_activation(self) -> None:
        """Fail at construction, not in the first forward, on a bad activation or parameter."""
        z = np.zeros((1, self.params["b"].size), self.params["b"].dtype)
        self._bias_act_forward(z)
        self.act_params = {k: float(v) for k, v in self.act_params.items()}  # JSON-friendly
