"""Benchmark fixtures: the contenders, i.e. every available fastdl backend plus PyTorch."""

import importlib.util

import pytest

import fastdl
from fastdl import _backend

CONTENDERS = (*_backend.BACKENDS, "torch")


@pytest.fixture(params=CONTENDERS)
def contender(request):
    """A fastdl backend name or ``"torch"``; skipped where it is not installed."""
    name = request.param
    if name == "torch":
        if importlib.util.find_spec("torch") is None:
            pytest.skip("torch is not installed (it is only a benchmark contender)")
    elif name not in fastdl.available_backends():
        pytest.skip(f"backend {name!r} not available: {_backend.why_unavailable(name)}")
    return name
