"""The kernel contract (``docs/kernels.md``): one set of kernels and signatures, all documented.

- the public functions of the NumPy reference's family modules are exactly the kernels that
  ``fastdl._backend`` dispatches;
- every backend's kernel has the reference's exact ``inspect.signature``;
- every kernel is named in ``docs/kernels.md`` with that signature (a kernel added without its
  documentation fails here), the README links that page, and no file of the repository cites a
  contract kept outside it.
"""

import importlib
import inspect
import pkgutil
from pathlib import Path

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
ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "kernels.md"


def test_the_reference_kernels_are_the_dispatched_ones():
    assert sorted(REFERENCE) == sorted(_backend.FAMILIES)


@pytest.mark.parametrize("name", sorted(_backend.FAMILIES))
def test_signature_matches_reference(backend, name):
    fn = _backend.resolve(name, backend)[1]
    assert inspect.signature(fn) == inspect.signature(REFERENCE[name])


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_kernel_is_documented_with_its_signature(name):
    assert f"`{name}{inspect.signature(REFERENCE[name])}`" in DOC.read_text()


def test_readme_links_the_contract():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The kernel contract", 1)[1].split("\n## ", 1)[0]
    assert "(docs/kernels.md)" in section


def test_no_file_cites_the_contract_kept_outside_the_repository():
    old_name = "KERNELS" + ".md"  # spelled in two parts so that this file does not cite it
    suffixes = {".py", ".pyx", ".pxi", ".md", ".toml", ".in", ".txt"}
    paths = [ROOT / name for name in ("README.md", "setup.py", "pyproject.toml", "MANIFEST.in")]
    paths.append(ROOT / ".ci" / "run")
    for folder in ("bench", "docs", "fastdl", "kernels", "tests", "tools"):
        paths += (p for p in (ROOT / folder).rglob("*") if p.suffix in suffixes)
    citing = [
        str(path.relative_to(ROOT))
        for path in paths
        if path.is_file() and old_name in path.read_text(encoding="utf-8")
    ]
    assert citing == []
