"""Numba options come from ``kernels/nb/_config.py`` only, and a cache failure only warns."""

import ast
import importlib.util
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastdl._kernels.nb as nb_package

numba = pytest.importorskip("numba")
_config = pytest.importorskip("fastdl._kernels.nb._config")

NB_DIR = Path(nb_package.__file__).parent
NUMBA_DECORATORS = {"jit", "njit", "generated_jit", "vectorize", "guvectorize", "stencil", "cfunc"}


def _uses_config_jit(decorator, jit_from_config):
    """True for ``@jit(...)`` with ``jit`` imported from ``._config``, or ``@_config.jit(...)``."""
    if not isinstance(decorator, ast.Call):
        return False
    func = decorator.func
    if isinstance(func, ast.Name):
        return func.id == "jit" and jit_from_config
    return isinstance(func, ast.Attribute) and func.attr == "jit" and func.value.id == "_config"


def _lint(path):
    """Problems in one kernel module, as ``"file:line: message"`` strings."""
    tree = ast.parse(path.read_text(), filename=str(path))
    problems = []
    jit_from_config = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "_config"
        and node.level == 1
        and any(alias.name == "jit" for alias in node.names)
        for node in ast.walk(tree)
    )
    n_compiled = 0
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "numba":
            banned = sorted({alias.name for alias in node.names} & NUMBA_DECORATORS)
            if banned:
                problems.append(f"{where}: imports {banned} from numba; use _config.jit")
        elif isinstance(node, ast.Attribute) and node.attr in NUMBA_DECORATORS:
            if isinstance(node.value, ast.Name) and node.value.id in ("numba", "nb"):
                problems.append(f"{where}: numba.{node.attr}; use _config.jit")
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            for decorator in node.decorator_list:
                if _uses_config_jit(decorator, jit_from_config):
                    n_compiled += 1
                else:
                    problems.append(f"{where}: @{ast.unparse(decorator)} is not _config.jit(...)")
    return problems, n_compiled


def test_every_numba_kernel_uses_the_config_decorator():
    paths = sorted(p for p in NB_DIR.glob("*.py") if p.name not in ("_config.py", "__init__.py"))
    assert paths, f"no kernel modules found in {NB_DIR}"
    problems, n_compiled = [], 0
    for path in paths:
        file_problems, file_compiled = _lint(path)
        problems += file_problems
        n_compiled += file_compiled
    assert not problems, "\n".join(problems)
    assert n_compiled > 0, "the lint found no compiled function: is it looking at the right files?"


def test_lint_catches_bare_njit(tmp_path):
    bad = tmp_path / "_bad.py"
    bad.write_text(
        "import numba\nfrom numba import njit\n\n\n@njit(cache=True)\ndef f(a):\n    return a\n\n\n"
        "@numba.jit\ndef g(a):\n    return a\n"
    )
    problems, n_compiled = _lint(bad)
    assert n_compiled == 0
    assert len(problems) == 4, problems  # the import, the attribute and both decorators


def test_fastmath_keeps_nan_and_inf():
    assert not {"nnan", "ninf", "fast"} & _config.FASTMATH
    assert _config.OPTIONS["cache"] is True
    assert _config.OPTIONS["nogil"] is True
    assert _config.OPTIONS["error_model"] == "numpy"


@pytest.fixture
def fresh_warning(monkeypatch):
    """Let the once-per-process cache warning fire again inside the test."""
    monkeypatch.setattr(_config, "_warned", False)


def _function_without_source(name):
    namespace = {}
    exec(f"def {name}(a):\n    return 2.0 * a + 1.0\n", namespace)  # no source file behind it
    return namespace[name]


def test_cache_fallback_warns_instead_of_failing(fresh_warning):
    func = _function_without_source("double_plus_one")
    with pytest.raises(RuntimeError, match="cannot cache"):  # Numba itself refuses to cache it
        numba.njit(cache=True)(func)

    with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR"):
        compiled = _config.jit()(func)
    a = np.arange(5.0)
    np.testing.assert_array_equal(compiled(a), 2.0 * a + 1.0)


def test_cache_fallback_warns_once(fresh_warning):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = _config.jit()(_function_without_source("first"))
        second = _config.jit(parallel=True)(_function_without_source("second"))
    assert [w.category for w in caught] == [RuntimeWarning]
    assert first(1.5) == 4.0 and second(0.5) == 2.0


def test_cache_directory_lost_after_decoration(fresh_warning, tmp_path, monkeypatch):
    """A cache directory that is writable at decoration but gone at compile time only warns."""
    source = tmp_path / "kernel_src.py"
    source.write_text("def triple(a):\n    return 3 * a\n")
    spec = importlib.util.spec_from_file_location("kernel_src", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    cache_dir = tmp_path / "numba_cache"
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(cache_dir))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # decoration succeeds: the directory is writable
        compiled = _config.jit()(module.triple)
    assert cache_dir.is_dir()

    shutil.rmtree(cache_dir)
    cache_dir.write_text("a file where the cache directory was")
    with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR"):
        assert compiled(7) == 21
