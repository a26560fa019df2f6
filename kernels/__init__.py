"""fastdl kernels, installed as ``fastdl._kernels``: ref (NumPy), nb (Numba), cy (Cython).

Only ``fastdl._backend`` imports these modules. Every backend package holds the same family
modules (``_im2col``, ``_conv``, ``_pool``, ``_bias_act``, ``_softmax``, ``_optim``) with the same
function signatures: the contract in ``docs/kernels.md``.
Kernels expect validated input (see ``fastdl.functional``): C-contiguous float32/float64 arrays
of one dtype, sizes that fit, ``stride``/``pad`` as ints or ``(h, w)`` pairs.

Importing this package, before any kernel loads, does two process-wide things:

- sets ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it: libgomp reads it once, when the first
  kernel that uses OpenMP (Cython, or Numba's ``omp`` threading layer) loads it
  (``_threads.py`` says why);
- asks glibc to keep freed memory for the next training step (``_memory.py``: large arrays from
  the heap, 64 MiB kept at its top).
"""

import os

from . import _memory

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
_memory.keep_freed_memory()
