"""Build script: maps ``kernels/`` to ``fastdl._kernels`` and compiles the Cython backend.

Environment switches
--------------------
FASTDL_CYTHON_DEBUG=1
    Build with bounds checking, wraparound and initialised-view checks switched back on
    (slower, but an out-of-range index raises ``IndexError`` instead of corrupting memory).
FASTDL_NO_OPENMP=1
    Build the Cython kernels serially even where the compiler supports OpenMP.
FASTDL_SANITIZE=address[,undefined]
    Build with GCC/Clang sanitizers (``-fsanitize=...``, ``-O1 -g``), for CI: any out-of-bounds
    raw-pointer access aborts with a report. CPython itself is not instrumented, so run Python
    with the runtime preloaded, e.g.
    ``LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 python ...``
    (``.ci/run`` does this).

On Linux the release build links with ``-Wl,--strip-debug``: Python's own CFLAGS carry ``-g``,
which makes each extension about five times larger; the symbol table stays, so profilers and
backtraces still name the functions. The two builds above keep their debug information.
"""

import os
import sys
import tempfile
import warnings
from glob import glob

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("FASTDL_CYTHON_DEBUG", "") not in ("", "0")
SANITIZE = os.environ.get("FASTDL_SANITIZE", "")

# The one place where the Cython directives live.
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}

OPENMP_PROBE = """
#include <omp.h>
int main(void) { int n = 0;
#pragma omp parallel reduction(+:n)
  n += 1;
  return omp_get_max_threads() > 0 && n > 0 ? 0 : 1; }
"""


def _openmp_flags(compiler):
    """Return (compile_args, link_args) for OpenMP, or empty lists when it does not build."""
    if os.environ.get("FASTDL_NO_OPENMP", "") not in ("", "0"):
        return [], []
    if sys.platform == "win32":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as fh:
            fh.write(OPENMP_PROBE)
        for cflags, lflags in candidates:
            try:
                objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=lflags)
            except Exception:  # noqa: BLE001 - any compiler failure means "no OpenMP"
                continue
            return cflags, lflags
    return [], []


class BuildExt(build_ext):
    """build_ext that adds OpenMP flags when the compiler supports them."""

    def build_extensions(self):
        cflags, lflags = _openmp_flags(self.compiler)
        if not cflags:
            warnings.warn(
                "fastdl: OpenMP not available (or FASTDL_NO_OPENMP set); "
                "the Cython kernels are built serially.",
                stacklevel=1,
            )
        # -fno-trapping-math: GCC may then vectorise float selects (a > b ? a : b); results and
        # NaN/inf semantics are unchanged (no FP traps are ever enabled).
        # -fno-math-errno: sqrt is then inlined and vectorises (the optimizer updates; see
        # bench/README.md); fastdl never reads errno.
        unix = ["-O3", "-fno-trapping-math", "-fno-math-errno"]
        is_unix = self.compiler.compiler_type == "unix"
        opt = unix if is_unix else []
        if SANITIZE:
            san = [f"-fsanitize={SANITIZE}", "-fno-sanitize-recover=all"]
            opt = ["-O1", "-g", "-fno-omit-frame-pointer", *san]
            lflags = [*lflags, *san]
        elif not DEBUG and is_unix and sys.platform.startswith("linux"):
            lflags = [*lflags, "-Wl,--strip-debug"]  # see the module docstring
        for ext in self.extensions:
            ext.extra_compile_args = opt + cflags
            ext.extra_link_args = lflags
        super().build_extensions()


def _extensions():
    from Cython.Build import cythonize

    exts = [
        Extension("fastdl._kernels.cy." + os.path.splitext(os.path.basename(path))[0], [path])
        for path in sorted(glob(os.path.join("kernels", "cy", "*.pyx")))
    ]
    if not exts:  # e.g. an sdist made without MANIFEST.in: never build silently without them
        raise RuntimeError("kernels/cy/*.pyx not found: the Cython backend cannot be built")
    # force: the generated .c depends on DIRECTIVES (debug or not), not only on the .pyx
    return cythonize(exts, compiler_directives=DIRECTIVES, force=True)


setup(
    packages=[
        "fastdl",
        "fastdl.data",
        "fastdl.experiments",
        "fastdl.layers",
        "fastdl.textbook",
        "fastdl._kernels",
        "fastdl._kernels.ref",
        "fastdl._kernels.nb",
        "fastdl._kernels.cy",
    ],
    package_dir={"fastdl": "fastdl", "fastdl._kernels": "kernels"},
    package_data={
        "fastdl": ["py.typed"],  # PEP 561: type checkers read fastdl's annotations
        "fastdl.data": ["mnist/*.gz", "fashion-mnist/*.gz", "NOTICE.md"],
    },
    ext_modules=_extensions(),
    cmdclass={"build_ext": BuildExt},
    zip_safe=False,
)
