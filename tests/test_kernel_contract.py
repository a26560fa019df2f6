"""The kernel contract (``docs/kernels.md``): one set of kernels and signatures, all documented.

- the public functions of the NumPy reference's family modules are exactly the kernels that
  ``fastdl._backend`` dispatches;
- every backend's kernel has the reference's exact ``inspect.signature``.
"""

import importlib
import inspect
import pkgutil

import pytest

from fastdl import _backend
from fastdl._kernels import ref


def _reference_kernels():
    """``name -> function``: the public functions defined in each family module of ``ref``."""
    found = {}
    for info in pkgutil.iter_modules(ref.__path__):
        module = importlib.import_module(f"{ref.__name__}.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("_") and fn.__module__ == module.__name__:
                found[name] = fn
    return found


REFERENCE = _reference_kernels()


def test_the_reference_kernels_are_the_dispatched_ones():
    assert sorted(REFERENCE) == sorted(_backend.FAMILIES)


@pytest.mark.parametrize("name", sorted(_backend.FAMILIES))
def test_signature_matches_reference(backend, name):
    fn = _backend.resolve(name, backend)[1]
    assert inspect.signature(fn) == inspect.signature(REFERENCE[name])
