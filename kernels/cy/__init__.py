"""Cython kernels: typed-memoryview loops (OpenMP ``prange`` where the build supports it)."""
