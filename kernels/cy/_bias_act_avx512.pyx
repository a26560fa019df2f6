"""``_bias_act``'s activation loops compiled for AVX-512F; imported only on CPUs that have it."""

cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    #pragma GCC target("avx512f,avx2,fma")
    #endif
    """

include "_act.pxi"
