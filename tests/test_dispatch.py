"""One dispatch point: resolution order, errors saying how to get a backend, no fallback."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastdl
from fastdl import _backend


def _run(code, **env):
    """Run ``code`` in a fresh interpreter; return its stdout (raises if it fails)."""
    import os

    full_env = {**os.environ, **env}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        check=True,
    )
    return out.stdout.strip()


def test_import_does_not_import_numba_or_compiled_kernels():
    out = _run(
        """
        import sys, fastdl
        print(sorted(m for m in sys.modules if m.startswith(("numba", "fastdl._kernels"))))
        """
    )
    assert out == "[]"


def test_default_is_auto_and_env_is_honoured(monkeypatch):
    monkeypatch.delenv("FASTDL_BACKEND", raising=False)
    assert fastdl.get_backend() == "auto"
    monkeypatch.setenv("FASTDL_BACKEND", "numpy")
    assert fastdl.get_backend() == "numpy"
    monkeypatch.setenv("FASTDL_BACKEND", "fortran")
    with pytest.raises(fastdl.BackendError, match="FASTDL_BACKEND.*'fortran'.*numba"):
        fastdl.get_backend()


def test_resolution_order(monkeypatch):
    monkeypatch.setenv("FASTDL_BACKEND", "auto")
    monkeypatch.setattr(_backend, "_global_backend", None)
    fastdl.set_backend("numpy")
    assert fastdl.get_backend() == "numpy"  # set_backend beats the environment
    other = fastdl.available_backends()[-1]
    with fastdl.use_backend(other):
        assert fastdl.get_backend() == other  # the context beats set_backend
        with fastdl.use_backend("numpy"):
            assert fastdl.get_backend() == "numpy"
        assert fastdl.get_backend() == other
        # the per-call argument beats the context
        assert _backend.resolve("im2col", "numpy")[0] == "numpy"
    assert fastdl.get_backend() == "numpy"


def test_use_backend_restores_on_exception():
    before = fastdl.get_backend()
    with pytest.raises(ZeroDivisionError), fastdl.use_backend("numpy"):
        1 / 0  # noqa: B018
    assert fastdl.get_backend() == before


@pytest.mark.parametrize("setter", [fastdl.set_backend, fastdl.use_backend])
def test_unknown_backend_name(setter):
    with pytest.raises(fastdl.BackendError, match="unknown backend 'torch'.*'numpy'"):
        with setter("torch"):
            pass


def test_unknown_backend_in_call():
    x = np.zeros((1, 1, 3, 3))
    with pytest.raises(fastdl.BackendError, match="unknown backend 'gpu'"):
        fastdl.functional.im2col(x, 2, 2, backend="gpu")


# What "auto" tries per kernel, written out as bench/README.md ("What `auto` picks") decides it.
_COMPILED_FIRST = ("cython", "numba", "numpy")
AUTO_CHOICES = {
    "im2col": ("numba", "cython", "numpy"),
    "col2im": _COMPILED_FIRST,
    "conv2d_forward": _COMPILED_FIRST,
    "conv2d_backward": _COMPILED_FIRST,
    "maxpool2d_forward": _COMPILED_FIRST,
    "maxpool2d_backward": _COMPILED_FIRST,
    "avgpool2d_forward": _COMPILED_FIRST,
    "avgpool2d_backward": _COMPILED_FIRST,
    "bias_act_forward": _COMPILED_FIRST,
    "bias_act_backward": _COMPILED_FIRST,
    "sgd_update": _COMPILED_FIRST,
    "momentum_update": _COMPILED_FIRST,
    "nesterov_update": _COMPILED_FIRST,
    "adagrad_update": _COMPILED_FIRST,
    "rmsprop_update": _COMPILED_FIRST,
    "adadelta_update": _COMPILED_FIRST,
    "adam_update": _COMPILED_FIRST,
    "nadam_update": _COMPILED_FIRST,
    "softmax_xent_forward": _COMPILED_FIRST,
    "softmax_xent_backward": _COMPILED_FIRST,
    "matmul": _COMPILED_FIRST,
}


def test_every_kernel_has_a_stated_auto_choice():
    assert sorted(AUTO_CHOICES) == sorted(_backend.FAMILIES)


@pytest.mark.parametrize("missing", [(), ("cython",), ("numba",), ("cython", "numba")], ids=str)
def test_auto_picks_the_first_available_backend_of_its_stated_order(monkeypatch, missing):
    """With every backend installed, and with compiled ones made unavailable: the stated pick."""
    for name in missing:
        if name not in fastdl.available_backends():
            pytest.skip(f"backend {name!r} is not available here anyway")
        monkeypatch.setitem(_backend._unavailable, name, "made unavailable by the test")
    monkeypatch.setattr(_backend, "_auto", {})
    available = fastdl.available_backends()
    assert not set(missing) & set(available)
    with fastdl.use_backend("auto"):
        for kernel, order in AUTO_CHOICES.items():
            expected = next(b for b in order if b in available)
            assert _backend.resolve(kernel)[0] == expected, kernel


def test_missing_kernel_raises_instead_of_falling_back(monkeypatch):
    """A backend without a kernel's family module raises, by name and under auto alike."""
    monkeypatch.setitem(_backend.FAMILIES, "im2col", "_no_such_family")
    monkeypatch.setattr(_backend, "_resolved", {})
    monkeypatch.setattr(_backend, "_auto", {})
    for b in fastdl.available_backends():
        for _ in range(2):  # the second time from the remembered failure
            with pytest.raises(fastdl.BackendError, match=f"{b}.*does not implement im2col"):
                _backend.resolve("im2col", b)
        assert not _backend.implements(b, "im2col")
    with fastdl.use_backend("auto"):
        with pytest.raises(fastdl.BackendError, match="no available backend implements im2col"):
            _backend.resolve("im2col")
        assert _backend.resolve("col2im")[1] is not None


def test_unavailable_backend_says_how_to_get_it():
    out = _run(
        """
        import sys
        sys.modules["numba"] = None  # as if numba were not installed
        import numpy as np, fastdl
        print(fastdl.available_backends())
        for attempt in (lambda: fastdl.set_backend("numba"),
                        lambda: fastdl.functional.im2col(np.zeros((1, 1, 2, 2)), 1, 1,
                                                         backend="numba")):
            try:
                attempt()
            except fastdl.BackendError as exc:
                print("error:", exc)
        """
    )
    lines = out.splitlines()
    assert "numba" not in lines[0]
    assert len(lines) == 3
    for line in lines[1:]:
        assert line.startswith("error: backend 'numba' is not available")
        assert "pip install numba" in line


def test_env_backend_unavailable_is_an_error_not_a_fallback():
    out = _run(
        """
        import sys
        sys.modules["numba"] = None
        import numpy as np, fastdl
        try:
            fastdl.functional.im2col(np.zeros((1, 1, 2, 2)), 1, 1)
        except fastdl.BackendError as exc:
            print("error:", exc)
        """,
        FASTDL_BACKEND="numba",
    )
    assert out.startswith("error: backend 'numba' is not available")
