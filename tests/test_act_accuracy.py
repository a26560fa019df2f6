"""float32 activations of the compiled backends against the float64 reference, densely.

The compiled loops use their own float32 ``exp``, ``expm1``, ``log1p`` and ``tanh`` (polynomials
and a rational function: ``tools/fit_float32.py``), so their error is pinned here over a dense
grid of about 640,000 points of [-30, 30], tiny magnitudes included, in units of float32's
epsilon. Values: relative error (gelu: relative to max(|y|, 1), since 1 + tanh cancels for
negative inputs in any float32 evaluation of the tanh formula). Derivatives: relative to
max(|d|, 1): ``1 - tanh**2`` is accurate only absolutely where tanh rounds near 1, as in the
reference's formula (measured: tanhexp 66 eps, gelu 43, everything else 25 or less).
"""

import numpy as np
import pytest

from fastdl import functional

EPS = float(np.finfo(np.float32).eps)
ACTS = ["elu", "sigmoid", "tanh", "softplus", "swish", "mish", "tanhexp", "gelu"]


@pytest.fixture(scope="module")
def grid():
    mag = np.geomspace(1e-20, 30, 20_000)
    z = np.concatenate([np.linspace(-30, 30, 600_001), mag, -mag]).astype(np.float32)
    return z.reshape(1, -1)  # (1, L): no bias


@pytest.mark.parametrize("act", ACTS)
def test_float32_activation_error(backend, grid, act):
    if backend == "numpy":
        pytest.skip("the reference is the yardstick")
    z64 = grid.astype(np.float64)
    y = functional.bias_act_forward(grid, None, act, backend=backend).astype(np.float64)
    y_ref = functional.bias_act_forward(z64, None, act, backend="numpy")
    floor = 1.0 if act == "gelu" else float(np.finfo(np.float32).tiny)
    y_err = np.max(np.abs(y - y_ref) / np.maximum(np.abs(y_ref), floor)) / EPS
    ones = np.ones_like(grid)
    d = functional.bias_act_backward(ones, grid, None, act, backend=backend)[0].astype(np.float64)
    d_ref = functional.bias_act_backward(np.ones_like(z64), z64, None, act, backend="numpy")[0]
    d_err = np.max(np.abs(d - d_ref) / np.maximum(np.abs(d_ref), 1.0)) / EPS
    assert y_err <= 8, f"{act} forward: {y_err:.1f} eps"
    assert d_err <= 128, f"{act} derivative: {d_err:.1f} eps"
