"""Benchmark fixtures: the contenders, i.e. every available fastdl backend plus PyTorch."""

import importlib.util

import pytest

if importlib.util.find_spec("torch") is not None:
    # Before any fastdl kernel loads: fastdl sets OMP_WAIT_POLICY=PASSIVE for the libgomp it
    # loads, and PyTorch's own libgomp would read it too. Imported first, PyTorch keeps its default.
    import torch  # noqa: F401

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
