"""Index helpers shared by the Numba kernels.

``_U``: inner-loop indices are cast to this unsigned type, so Numba drops its negative-index
wraparound check, which otherwise blocks vectorisation (bench/README.md, Numba design notes).
"""

import numpy as np

from ._config import jit

_U = np.uintp


@jit()
def _span(start, k, size):
    """Offsets ``lo <= t < hi`` of a length-``k`` window at ``start`` that lie in ``[0, size)``."""
    lo = min(max(0, -start), k)
    hi = max(min(k, size - start), lo)
    return lo, hi


@jit()
def _first(a, s, limit):
    """Smallest ``o >= 0`` with ``o * s >= a``, capped at ``limit``."""
    return 0 if a <= 0 else min((a + s - 1) // s, limit)
