"""NumPy reference kernels: the readable specification every other backend is tested against."""
