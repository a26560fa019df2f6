"""Matrix product: the compiled backends share ``kernels/_gemm.py`` (BLAS on fastdl's threads)."""

from .._gemm import matmul

__all__ = ["matmul"]
