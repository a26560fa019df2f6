"""Before/after the fused kernels, side by side in one process (medians of 41 rounds).

Adam on a (4320, 100) float32 parameter: the NumPy sequence of the old ``Adam._update`` (as of
commit c3b6cae) against ``Adam.step`` on each backend; ``SoftmaxCrossEntropy`` forward + backward
on (100, 10) float32 logits with integer labels: the old NumPy code against the fused kernels.
Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/optim_before_after.py
"""

import math
import statistics
import time

import numpy as np

import fastdl
from fastdl.losses import SoftmaxCrossEntropy
from fastdl.optimizers import Adam

BACKENDS = ("auto", "numpy", "numba", "cython")


def median_us(fn, rounds=41):
    """Median time of ``fn()`` in µs, each round repeating it for about 2 ms."""
    fn()
    start = time.perf_counter()
    fn()
    number = max(1, int(2e-3 / max(time.perf_counter() - start, 1e-7)))
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return 1e6 * statistics.median(times)


def old_adam_update(p, g, m, v, tmp, beta1, beta2, eps, step_size, sqrt_bc2):
    """The old ``Adam._update``: NumPy operations with one work array ``tmp``."""
    np.subtract(g, m, out=tmp)
    tmp *= 1.0 - beta1
    m += tmp
    np.multiply(g, g, out=tmp)
    tmp *= 1.0 - beta2
    v *= beta2
    v += tmp
    np.sqrt(v, out=tmp)
    tmp /= sqrt_bc2
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= step_size
    p -= tmp


def old_softmax_cross_entropy(y, t):
    """The old ``SoftmaxCrossEntropy`` forward and backward for integer labels."""
    m = np.max(y, axis=1, keepdims=True)
    e = np.exp(y - m)
    total = e.sum(axis=1, keepdims=True)
    probs = e / total
    m64, log_total = m[:, 0].astype(np.float64), np.log(total[:, 0]).astype(np.float64)
    loss = float((m64 - y[np.arange(len(t)), t].astype(np.float64) + log_total).mean())
    dy = probs.copy()
    dy[np.arange(len(t)), t] -= 1
    dy *= 1.0 / len(t)
    return loss, dy


def adam_step(backend, params, grads):
    opt = Adam(1e-3)

    def step():
        with fastdl.use_backend(backend):
            opt.step(params, grads)

    return step


def softmax_step(backend, y, t):
    loss = SoftmaxCrossEntropy()

    def step():
        with fastdl.use_backend(backend):
            return loss.forward(y, t), loss.backward()

    return step


def main():
    rng = np.random.default_rng(0)
    p = rng.standard_normal((4320, 100)).astype(np.float32)
    g = 0.01 * rng.standard_normal(p.shape).astype(np.float32)
    m, v, tmp = np.zeros_like(p), np.zeros_like(p), np.empty_like(p)
    b1, b2, eps, lr, t = 0.9, 0.999, 1e-8, 1e-3, 10
    hyper = (b1, b2, eps, lr / (1 - b1**t), math.sqrt(1 - b2**t))
    print("Adam step, W (4320, 100) float32, median µs")
    print(
        f"  before (NumPy ops)   {median_us(lambda: old_adam_update(p, g, m, v, tmp, *hyper)):8.1f}"
    )
    for backend in BACKENDS:
        print(f"  after, {backend:13s} {median_us(adam_step(backend, {'W': p}, {'W': g})):8.1f}")

    y = rng.standard_normal((100, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 100)
    print("SoftmaxCrossEntropy forward + backward, y (100, 10) float32, median µs")
    print(f"  before (NumPy ops)   {median_us(lambda: old_softmax_cross_entropy(y, labels)):8.1f}")
    for backend in BACKENDS:
        print(f"  after, {backend:13s} {median_us(softmax_step(backend, y, labels)):8.1f}")


if __name__ == "__main__":
    main()
