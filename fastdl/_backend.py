"""The one door to the kernels: picks a backend and returns its functions.

This is the only module that imports ``fastdl._kernels``. It does so lazily, by name, so
``import fastdl`` neither imports Numba nor loads compiled extensions.

Resolution order for a kernel call
----------------------------------
1. the per-call ``backend=`` argument (``fastdl.functional`` only);
2. the innermost ``use_backend(...)`` context (a ``contextvars.ContextVar``);
3. the process-wide ``set_backend(...)``;
4. the environment variable ``FASTDL_BACKEND``;
5. ``"auto"``: per kernel, the first backend of ``AUTO_ORDER`` that is available and implements
   that kernel.

A backend asked for by name that is not available raises :class:`BackendError` saying how to get
it; nothing falls back silently.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import os
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

BACKENDS = ("numpy", "numba", "cython")
_PACKAGES = {
    "numpy": "fastdl._kernels.ref",
    "numba": "fastdl._kernels.nb",
    "cython": "fastdl._kernels.cy",
}

# kernel name -> family module (the same module name in every backend package)
FAMILIES = {
    "im2col": "_im2col",
    "col2im": "_im2col",
    "conv2d_forward": "_conv",
    "conv2d_backward": "_conv",
    "maxpool2d_forward": "_pool",
    "maxpool2d_backward": "_pool",
    "avgpool2d_forward": "_pool",
    "avgpool2d_backward": "_pool",
    "bias_act_forward": "_bias_act",
    "bias_act_backward": "_bias_act",
    **{  # the optimizer updates: sgd_update, ..., nadam_update
        f"{rule}_update": "_optim"
        for rule in "sgd momentum nesterov adagrad rmsprop adadelta adam nadam".split()
    },
    "softmax_xent_forward": "_softmax",
    "softmax_xent_backward": "_softmax",
    "matmul": "_gemm",
}

# What "auto" tries, per kernel, fastest first: bench/README.md has the measurements. Cython was
# the faster compiled backend for every kernel but im2col, where Numba was ahead on 4 of 5 shapes.
AUTO_ORDER = {name: ("cython", "numba", "numpy") for name in FAMILIES}
AUTO_ORDER["im2col"] = ("numba", "cython", "numpy")

_HOW_TO_GET = {
    "numpy": "",
    "numba": "install it with `pip install numba` (it is a dependency of fastdl).",
    "cython": (
        "the compiled extension was not built. Reinstall fastdl from source with a C compiler: "
        "`pip install --force-reinstall .` (or `pip install -e . --no-build-isolation` "
        "with Cython, setuptools and wheel installed)."
    ),
}
# A module per backend whose import proves the backend works.
_PROBE = {"numpy": "_im2col", "numba": "_im2col", "cython": "_im2col"}


class BackendError(RuntimeError):
    """A backend was asked for that does not exist, is not installed or lacks the kernel."""


_context_backend: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "fastdl_backend", default=None
)
_global_backend: str | None = None
_unavailable: dict[str, str] = {}  # backend -> reason, filled on first probe
_probed: set[str] = set()
# (backend, kernel) -> function, or the message saying it is missing
_resolved: dict[tuple[str, str], Callable[..., Any] | str] = {}
_auto: dict[
    str, tuple[str, Callable[..., Any]]
] = {}  # kernel -> (backend, function) that "auto" picked (availability does not change)


def _check_name(name: str, where: str) -> str:
    if name == "auto" or name in BACKENDS:
        return name
    raise BackendError(f"{where}: unknown backend {name!r}; choose one of {('auto',) + BACKENDS}")


def _probe(name: str) -> bool:
    """Import the backend's probe module once; remember why it failed, if it did."""
    if name not in _probed:
        _probed.add(name)
        try:
            importlib.import_module(f"{_PACKAGES[name]}.{_PROBE[name]}")
        except ImportError as exc:
            _unavailable[name] = f"{exc}; {_HOW_TO_GET[name]}"
    return name not in _unavailable


def why_unavailable(name: str) -> str:
    """Return why backend ``name`` cannot be used, or ``""`` if it can."""
    _check_name(name, "why_unavailable")
    return "" if name == "auto" or _probe(name) else _unavailable[name]


def available_backends() -> list[str]:
    """Names of the backends that can be used on this machine, e.g. ``['numpy', 'numba']``."""
    return [name for name in BACKENDS if _probe(name)]


def set_backend(name: str) -> None:
    """Use backend ``name`` (``'auto'``, ``'numpy'``, ``'numba'`` or ``'cython'``) from now on.

    Raises
    ------
    BackendError
        If the name is unknown or that backend is not available here.
    """
    global _global_backend
    _require(_check_name(name, "set_backend"))
    _global_backend = name


def get_backend() -> str:
    """The backend currently in force (context, then ``set_backend``, env, then ``'auto'``)."""
    for name, where in (
        (_context_backend.get(), "use_backend"),
        (_global_backend, "set_backend"),
        (os.environ.get("FASTDL_BACKEND") or None, "FASTDL_BACKEND"),
    ):
        if name is not None:
            return _check_name(name, where)
    return "auto"


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Context manager: use backend ``name`` inside the ``with`` block (thread- and task-local)."""
    _require(_check_name(name, "use_backend"))
    token = _context_backend.set(name)
    try:
        yield name
    finally:
        _context_backend.reset(token)


def _require(name: str) -> None:
    if name != "auto" and not _probe(name):
        raise BackendError(f"backend {name!r} is not available: {_unavailable[name]}")


def implements(name: str, kernel_name: str) -> bool:
    """True if the (available) backend ``name`` has kernel ``kernel_name``."""
    if not _probe(name):
        return False
    try:
        _load(name, kernel_name)
    except BackendError:
        return False
    return True


def _load(name: str, kernel_name: str) -> Callable[..., Any]:
    """The kernel function; BackendError if the backend lacks its module (both remembered)."""
    key = (name, kernel_name)
    if key not in _resolved:
        module_name = f"{_PACKAGES[name]}.{FAMILIES[kernel_name]}"
        try:
            _resolved[key] = getattr(importlib.import_module(module_name), kernel_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            _resolved[key] = (
                f"backend {name!r} does not implement {kernel_name} yet; "
                f"use backend='numpy' or 'auto'"
            )
    found = _resolved[key]
    if isinstance(found, str):
        raise BackendError(found)
    return found


def resolve(kernel_name: str, backend: str | None = None) -> tuple[str, Callable[..., Any]]:
    """Return ``(backend_name, function)`` for ``kernel_name`` under the current selection."""
    if kernel_name not in FAMILIES:
        raise BackendError(f"unknown kernel {kernel_name!r}; known: {sorted(FAMILIES)}")
    name = get_backend() if backend is None else _check_name(backend, "backend")
    if name == "auto":
        found = _auto.get(kernel_name)
        if found is None:
            for candidate in AUTO_ORDER[kernel_name]:
                if implements(candidate, kernel_name):
                    found = _auto[kernel_name] = candidate, _load(candidate, kernel_name)
                    break
            else:
                raise BackendError(f"no available backend implements {kernel_name}")
        return found
    _require(name)
    return name, _load(name, kernel_name)


def _threads() -> ModuleType:
    """The kernels' thread model (``kernels/_threads.py``), imported on first use."""
    return importlib.import_module("fastdl._kernels._threads")


def get_num_threads() -> int:
    """Threads fastdl's kernels use: ``set_num_threads``, else ``FASTDL_NUM_THREADS``, else
    ``OMP_NUM_THREADS``, else the cores this process may run on; 1 in a child forked after a
    parallel kernel ran. Loops over fewer than ``thread_info()["serial_below"]`` elements always
    run in the calling thread."""
    return _threads().num_threads()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (an int >= 1) in every fastdl kernel and in BLAS, process-wide.

    Raises
    ------
    TypeError, ValueError
        ``n`` is not an int >= 1.
    """
    _threads().set_num_threads(n)


def thread_info() -> dict[str, Any]:
    """What fastdl's threads are set to: ``{"num_threads", "source", "blas_threads",
    "serial_below", "omp_wait_policy"}`` (``source``: where the count came from)."""
    return _threads().describe()


@functools.cache
def activations() -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """``(defaults, aliases)``: activation name -> {param: default}, and alias -> name."""
    common = importlib.import_module("fastdl._kernels._common")
    return common.ACTIVATIONS, common.ALIASES
