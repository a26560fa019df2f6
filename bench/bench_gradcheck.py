"""How long ``fastdl.gradcheck`` takes to name one wrong element of a 784x100 weight.

Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest bench/bench_gradcheck.py --benchmark-only

The network is the textbook's two-layer net (Affine-Relu-Affine-softmax with cross-entropy,
``params`` dict, ``loss(x, t)`` / ``gradient(x, t)``) on the first N bundled MNIST training
images (N = 3 as in the textbook's gradient_check.py, and N = 100), with one weight of ``W1``
(784x100 = 78,400 elements) given a wrong gradient. ``W1`` is too large for an element-by-element
check, so gradcheck checks random directions, sees them fail, and locates the element by
bisection over blocks. Groups ``gradcheck 784x100 N=...``: the whole check of the network (all
four tensors) and, as the yardstick, one ``loss`` + ``gradient`` call of the same network. With
N = 3 the check runs with the defaults, where the 1,000-element ``W2`` is checked element by
element (2,000 of the about 2,400 loss evaluations); with N = 100, ``max_full_size=500`` checks
``W2`` along random directions too, so that the time is mostly the locating in ``W1``.
"""

import numpy as np
import pytest

import fastdl

WRONG = (466, 37)  # pixel 466 is non-zero in the first 3 images, so its weights matter
BATCHES = [3, 100]
OPTIONS = {3: {}, 100: {"max_full_size": 500}}


class TwoLayerNet:
    """x (N, 784) -> Affine(784, 100) -> Relu -> Affine(100, 10) -> softmax cross-entropy."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": 0.01 * rng.standard_normal((784, 100)),
            "b1": np.zeros(100),
            "W2": 0.01 * rng.standard_normal((100, 10)),
            "b2": np.zeros(10),
        }

    def _forward(self, x):
        p = self.params
        h = np.maximum(x @ p["W1"] + p["b1"], 0.0)  # (N, 100)
        z = h @ p["W2"] + p["b2"]  # (N, 10)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return h, e / e.sum(axis=1, keepdims=True)  # (N, 100), (N, 10)

    def loss(self, x, t):
        _, y = self._forward(x)
        return -np.mean(np.log(y[np.arange(len(t)), t]))

    def gradient(self, x, t):
        p = self.params
        h, y = self._forward(x)
        dz = y.copy()
        dz[np.arange(len(t)), t] -= 1.0
        dz /= len(t)  # (N, 10)
        dh = (dz @ p["W2"].T) * (h > 0)  # (N, 100)
        dW1 = x.T @ dh  # (784, 100)
        dW1[WRONG] += 0.01  # the planted bug
        return {"W1": dW1, "b1": dh.sum(axis=0), "W2": h.T @ dz, "b2": dz.sum(axis=0)}


@pytest.fixture(scope="module")
def mnist():
    (x, t), _ = fastdl.datasets.load_mnist(dtype=np.float64)
    assert x[:3, WRONG[0]].all()
    return x, t


@pytest.mark.parametrize("n", BATCHES)
def test_locate_one_wrong_element(benchmark, mnist, n):
    benchmark.group = f"gradcheck 784x100 N={n}"
    net, x, t = TwoLayerNet(), mnist[0][:n], mnist[1][:n]
    result = benchmark.pedantic(
        fastdl.gradcheck, args=(net, x, t), kwargs=OPTIONS[n], rounds=3, iterations=1
    )
    w1 = result.tensors["W1"]
    assert result.failed == ["W1"] and w1.mode == "random" and w1.located == 1
    assert w1.worst[0].index == WRONG


@pytest.mark.parametrize("n", BATCHES)
def test_yardstick_one_loss_and_gradient(benchmark, mnist, n):
    benchmark.group = f"gradcheck 784x100 N={n}"
    net, x, t = TwoLayerNet(), mnist[0][:n], mnist[1][:n]

    def both():
        return net.loss(x, t), net.gradient(x, t)

    benchmark.pedantic(both, rounds=50, iterations=1)
