"""``install()``: make the textbook's ``common.<module>`` imports resolve to fastdl.textbook.

A finder at the front of ``sys.meta_path`` answers for exactly ``common.layers``, ``common.util``,
``common.optimizer``, ``common.functions`` and ``common.gradient``; every other import, the
reader's ``common`` package itself and its other modules (``multi_layer_net``, ``trainer``)
included, is left to the normal machinery. Each alias is a module of its own name whose namespace
holds fastdl.textbook's objects (``common.layers.Affine is fastdl.textbook.layers.Affine``).
"""

import importlib
import importlib.abc
import importlib.util
import sys

MODULES = ("functions", "gradient", "layers", "optimizer", "util")


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        return None  # the default: a fresh module named spec.name

    def exec_module(self, module):
        source = importlib.import_module(self.target)
        names = {k: v for k, v in vars(source).items() if not k.startswith("__")}
        module.__dict__.update(names, __all__=list(source.__all__), __doc__=source.__doc__)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, package):
        self.package = package
        self.aliases = {f"{package}.{m}": f"{__package__}.{m}" for m in MODULES}

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.aliases:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(self.aliases[fullname]))


def install(package="common"):
    """Make ``<package>.layers``, ``.util``, ``.optimizer``, ``.functions``, ``.gradient`` fastdl's.

    Call it before those modules are imported, typically as the first line of a script written
    for the textbook: ``import fastdl.textbook; fastdl.textbook.install()``. Then
    ``from common.layers import *`` and the reader's own ``common`` modules that import them get
    fastdl.textbook's classes; ``common`` itself and its other modules still load from the
    reader's folder (it must still be importable, e.g. after ``sys.path.append(os.pardir)``).
    Calling it again with the same package does nothing.

    Parameters
    ----------
    package : str
        Name of the reader's package, ``"common"`` in the textbook.

    Raises
    ------
    RuntimeError
        If one of the five modules is already imported (from the reader's files): it would
        stay the reader's.
    """
    if not isinstance(package, str) or not package.isidentifier():
        raise ValueError(
            f"install: package must be a module name such as 'common', got {package!r}"
        )
    if any(isinstance(f, _Finder) and f.package == package for f in sys.meta_path):
        return
    finder = _Finder(package)
    loaded = [name for name in finder.aliases if name in sys.modules]
    if loaded:
        where = ", ".join(f"{n} ({getattr(sys.modules[n], '__file__', '?')})" for n in loaded)
        raise RuntimeError(
            f"fastdl.textbook.install() must run before these modules are imported: {where} "
            "already is; put the install line at the top of the script"
        )
    sys.meta_path.insert(0, finder)
