"""Shared fixtures: one ``backend`` fixture runs every kernel test on every backend."""

import numpy as np
import pytest

import fastdl
from fastdl import _backend

ALL_BACKENDS = _backend.BACKENDS


@pytest.fixture(params=ALL_BACKENDS)
def backend(request):
    """Name of a backend; the test is skipped where that backend is not installed."""
    name = request.param
    if name not in fastdl.available_backends():
        pytest.skip(f"backend {name!r} not available: {_backend.why_unavailable(name)}")
    return name


@pytest.fixture(autouse=True)
def _restore_backend_selection():
    """Tests that call ``set_backend`` (directly or through the CLI) must not leak it."""
    saved = _backend._global_backend
    yield
    _backend._global_backend = saved


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
