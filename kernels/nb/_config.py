"""The one place for Numba options: every kernel in ``kernels/nb`` is decorated with :func:`jit`.

Options (``OPTIONS``)
---------------------
cache : True
    Machine code is cached on disk: under ``NUMBA_CACHE_DIR`` when that is set (Numba reads the
    variable itself), else in ``__pycache__`` next to the source, else in the user-wide cache.
    Where no location is writable (read-only site-packages and no writable user cache, or a
    function without a source file) the kernels compile without a cache and ONE
    ``RuntimeWarning`` says so: new processes recompile, nothing fails.
fastmath : ``FASTMATH``
    Only LLVM fast-math flags that keep NaN and inf semantics (no ``nnan``, no ``ninf``).
    ``@jit(reassociate=False)`` drops ``reassoc``: LLVM may then not regroup products, which
    element-wise formulas with huge and tiny factors need (``z * (e**20 * 0)`` regrouped as
    ``(z * e**20) * 0`` is NaN for ``z = 1e30`` in float32). Loops that sum need ``reassoc``
    to vectorise.
nogil : True
    Kernels release the GIL, so Python threads can run them concurrently.
error_model : "numpy"
    Float division by zero gives inf/nan as in NumPy instead of raising ``ZeroDivisionError``.
parallel : per kernel
    ``@jit(parallel=True)`` for kernels whose outer loop is a ``prange``: such a kernel is
    compiled twice, parallel and serial, and each call picks one by fastdl's thread model
    (``kernels/_threads.py``): the serial twin for small work (the size of the first argument),
    for one thread and in a forked child, else the parallel one on ``threads_for`` threads
    (``numba.set_num_threads``; never more than ``NUMBA_NUM_THREADS``, read once when Numba
    starts).
"""

import functools
import types
import warnings

import numba

from .._threads import threads_for

FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})
OPTIONS = {"cache": True, "fastmath": FASTMATH, "nogil": True, "error_model": "numpy"}

_warned = False  # the cache fallback warns once per process, not once per kernel


def _warn_no_cache(what, exc):
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(
            f"fastdl: Numba cannot cache {what} ({exc}); compiling without a cache, so every "
            "new process compiles the kernels again. Set NUMBA_CACHE_DIR to a writable "
            "directory to keep compiled kernels between runs.",
            RuntimeWarning,
            stacklevel=3,
        )


def _njit(func, parallel, reassociate, signed_zeros, inline, cache):
    fastmath = set(FASTMATH) - ({"reassoc"} if not reassociate else set())
    fastmath -= {"nsz"} if signed_zeros else set()
    options = {**OPTIONS, "fastmath": fastmath, "cache": cache}
    if inline:
        options["inline"] = "always"
    return numba.njit(parallel=parallel, **options)(func)


def _degrade_on_io_error(dispatcher):
    """Make cache reads and writes that fail at compile time disable the cache, not raise.

    Numba checks at decoration that the cache directory is writable; this covers it going away
    later (deleted, remounted read-only). ``_cache`` is Numba's per-dispatcher cache object.
    """
    cache = dispatcher._cache
    load, save = cache.load_overload, cache.save_overload

    def guarded(method):
        def call(*args):
            try:
                return method(*args)
            except OSError as exc:
                _warn_no_cache(dispatcher.py_func.__qualname__, exc)
                cache.disable()  # later loads return None, later saves do nothing
                return None

        return call

    cache.load_overload, cache.save_overload = guarded(load), guarded(save)
    return dispatcher


class _Parallel:
    """A ``prange`` kernel and its serial twin; a call runs the one the thread model picks."""

    def __init__(self, parallel, serial):
        self.parallel, self.serial = parallel, serial
        functools.update_wrapper(self, parallel.py_func)

    def __call__(self, *args):
        threads = threads_for(getattr(args[0], "size", 1))
        if threads <= 1:
            return self.serial(*args)
        threads = min(threads, numba.config.NUMBA_NUM_THREADS)
        if numba.get_num_threads() != threads:  # a per-thread setting in Numba
            numba.set_num_threads(threads)
        return self.parallel(*args)


def _twin(func):
    """A copy of ``func`` under another qualified name, so that Numba caches it separately
    (its cache index does not tell parallel from serial builds of one function)."""
    twin = types.FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )
    twin.__qualname__ = func.__qualname__ + "_serial"
    twin.__module__, twin.__doc__ = func.__module__, func.__doc__
    return twin


def jit(*, parallel=False, reassociate=True, signed_zeros=False, inline=False):
    """Decorator factory used by every Numba kernel instead of a bare ``numba.njit``.

    Parameters
    ----------
    parallel : bool
        Compile ``numba.prange`` loops to run on Numba's thread pool, plus a serial twin
        (see ``parallel`` above); the decorator then returns a ``_Parallel``.
    reassociate : bool
        Keep LLVM's ``reassoc`` fast-math flag (see ``fastmath`` above).
    signed_zeros : bool
        Drop LLVM's ``nsz`` flag, for loops whose ``x + 0`` must turn -0.0 into +0.0 (with
        ``nsz`` LLVM may fold it to ``x``, and did in one of a kernel's two builds).
    inline : bool
        Inline the function into its callers in Numba's own IR (``inline="always"``), so that
        its array arguments are not passed through a call, which updates their reference
        counts atomically: costly when the threads of a ``prange`` share the arrays.

    Returns
    -------
    decorate : callable
        Turns a Python function into a Numba dispatcher compiled with ``OPTIONS`` (with
        ``parallel=True``, a ``_Parallel`` pair of dispatchers).
    """

    def compile(func, parallel):
        try:
            dispatcher = _njit(func, parallel, reassociate, signed_zeros, inline, cache=True)
        except RuntimeError as exc:  # "cannot cache function ...: no locator available ..."
            _warn_no_cache(func.__qualname__, exc)
            return _njit(func, parallel, reassociate, signed_zeros, inline, cache=False)
        return _degrade_on_io_error(dispatcher)

    def decorate(func):
        if not parallel:
            return compile(func, False)
        return _Parallel(compile(func, True), compile(_twin(func), False))

    return decorate
