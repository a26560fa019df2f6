"""Keep freed memory for the next training step: glibc's ``M_TOP_PAD`` and
``M_MMAP_THRESHOLD``, set once.

A training step allocates and frees the same large arrays every time (activations, argmax, im2col
chunks, gradients: megabytes each). glibc gives such arrays fresh pages from ``mmap`` and returns
them to the system when they are freed (and returns the top of its heap whenever more than a
threshold lies free there), so the next step's arrays come back as fresh pages, which the kernel
must fault in and zero one page at a time: on ``simple_cnn`` about 1,000 page faults and a third
of the step's time, and on the textbook's SimpleConvNet a relu backward of 0.9 ms took 2-13 ms
(bench/README.md). Two settings make glibc reuse the pages instead:

- ``mallopt(M_MMAP_THRESHOLD, m)``: arrays below ``m`` bytes come from the heap, not from their
  own ``mmap``. glibc raises its own threshold as arrays are freed, but only until a program
  sets any of these options, and at most to 32 MiB.
- ``mallopt(M_TOP_PAD, n)``: glibc keeps ``n`` bytes at the top of the heap when it trims (and
  takes that much extra when it grows).

``FASTDL_MALLOC_MMAP_THRESHOLD`` and ``FASTDL_MALLOC_TOP_PAD`` (bytes) set ``m`` and ``n``:
defaults ``DEFAULT_MMAP_THRESHOLD`` and ``DEFAULT_TOP_PAD``; ``0`` leaves glibc's own setting, as
does glibc's own variable (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TOP_PAD_``) when the user set it.
Only glibc has ``mallopt``; elsewhere nothing is done. This is process-wide: the process keeps
freed memory that glibc would have given back, up to the peak it used.
"""

import ctypes
import ctypes.util
import os

DEFAULT_TOP_PAD = 64 << 20  # bytes
DEFAULT_MMAP_THRESHOLD = 256 << 20
# option -> (fastdl's variable, glibc's own variable, default); options from glibc's <malloc.h>
OPTIONS = {
    "top_pad": ("FASTDL_MALLOC_TOP_PAD", "MALLOC_TOP_PAD_", DEFAULT_TOP_PAD),
    "mmap_threshold": (
        "FASTDL_MALLOC_MMAP_THRESHOLD",
        "MALLOC_MMAP_THRESHOLD_",
        DEFAULT_MMAP_THRESHOLD,
    ),
}
M_OPTION = {"top_pad": -2, "mmap_threshold": -3}

state = {"top_pad": None, "mmap_threshold": None}  # what was set (None: nothing)


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


def _setting(env, default):
    """Bytes from ``env`` (``default`` when unset); raises ValueError naming it."""
    raw = os.environ.get(env, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = -1
    if value < 0 or value >= 2**31:
        raise ValueError(f"{env} must be a number of bytes in [0, 2**31), got {raw!r}")
    return value


def keep_freed_memory():
    """Set glibc's ``M_MMAP_THRESHOLD`` and ``M_TOP_PAD`` from fastdl's variables (once per
    process), each unless it is 0 or glibc's own variable is set.

    Raises
    ------
    ValueError
        A variable is not a whole number of bytes in [0, 2**31).
    """
    values = {name: _setting(env, default) for name, (env, _, default) in OPTIONS.items()}
    libc = _libc() if any(values.values()) else None
    if libc is None:
        return
    for name, value in values.items():
        if not value or os.environ.get(OPTIONS[name][1]):
            continue
        if libc.mallopt(ctypes.c_int(M_OPTION[name]), ctypes.c_int(value)) == 1:
            state[name] = value
