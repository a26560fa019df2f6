"""Keep freed memory for the next training step: glibc's ``M_TOP_PAD``, set once.

A training step allocates and frees the same large arrays every time (activations, argmax, im2col
chunks, gradients: megabytes each). glibc returns the top of its heap to the system whenever more
than a threshold lies free there, so the next step's arrays come back as fresh pages, which the
kernel must fault in and zero one 4 KiB page at a time: on ``simple_cnn`` about 1,000 page faults
and a third of the step's time (bench/README.md). ``mallopt(M_TOP_PAD, n)`` makes glibc keep
``n`` bytes at the top of the heap when it trims (and take that much extra when it grows), so the
pages are reused instead.

``FASTDL_MALLOC_TOP_PAD`` (bytes) sets ``n``: default ``DEFAULT_TOP_PAD``; ``0`` leaves glibc's
own setting. Only glibc has ``mallopt``; elsewhere nothing is done. This is process-wide: the
process keeps up to ``n`` more bytes of freed memory than glibc would.
"""

import ctypes
import ctypes.util
import os

DEFAULT_TOP_PAD = 64 << 20  # bytes
M_TOP_PAD = -2  # glibc's <malloc.h>
ENV = "FASTDL_MALLOC_TOP_PAD"

state = {"top_pad": None}  # what was set (None: nothing, e.g. not glibc or turned off)


def _libc():
    """glibc, or None where the C library is another one (musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def keep_freed_memory():
    """Set glibc's ``M_TOP_PAD`` from ``FASTDL_MALLOC_TOP_PAD`` (once per process).

    Raises
    ------
    ValueError
        ``FASTDL_MALLOC_TOP_PAD`` is not a whole number of bytes >= 0.
    """
    raw = os.environ.get(ENV, "").strip()
    try:
        pad = int(raw) if raw else DEFAULT_TOP_PAD
    except ValueError:
        pad = -1
    if pad < 0 or pad >= 2**31:
        raise ValueError(f"{ENV} must be a number of bytes in [0, 2**31), got {raw!r}")
    libc = _libc() if pad else None
    if libc is not None and libc.mallopt(ctypes.c_int(M_TOP_PAD), ctypes.c_int(pad)) == 1:
        state["top_pad"] = pad
