"""Inline helpers shared by the Cython kernels (textually ``include``-d by each module)."""


cdef inline (Py_ssize_t, Py_ssize_t) span(
    Py_ssize_t start, Py_ssize_t k, Py_ssize_t size
) noexcept nogil:
    """Offsets ``lo <= t < hi`` of a length-``k`` window at ``start`` that lie in ``[0, size)``."""
    cdef Py_ssize_t lo = min(max(0, -start), k)
    return lo, max(min(k, size - start), lo)


cdef inline Py_ssize_t first(Py_ssize_t a, Py_ssize_t s, Py_ssize_t limit) noexcept nogil:
    """Smallest ``o >= 0`` with ``o * s >= a``, capped at ``limit``."""
    return 0 if a <= 0 else min((a + s - 1) // s, limit)


cdef inline int fits(bint ok, str what) except -1:
    """Raise ``ValueError(what)`` unless ``ok``: the typed loops check, once per call, the buffer
    sizes that their raw-pointer inner loops rely on (bounds checking sees only row starts)."""
    if not ok:
        raise ValueError(what)
    return 0
