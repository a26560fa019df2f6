"""Numba kernels: compiled loops with the reference's signatures, options from ``_config``."""
