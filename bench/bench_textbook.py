"""One training step of the textbook's networks: fastdl.textbook vs the plain-NumPy textbook code.

Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest bench/bench_textbook.py --benchmark-only

Each group (``textbook SimpleConvNet step``, ``textbook DeepConvNet step``) times one step
(``net.gradient`` on a batch of 100 float32 MNIST images, then ``Adam.update``) of the same network
code (``tests/textbook_numpy.py``) built from two layer/optimizer modules: ``numpy-textbook``, the
plain-NumPy textbook-style implementation (im2col by a loop over window offsets, pooling through
im2col), and ``fastdl.textbook``. Weights are float64 (``0.01 * randn`` for SimpleConvNet, He for
DeepConvNet), as in the book. One untimed step first (Numba compiles or loads its cache there);
the first step's loss of each contender is checked against the plain-NumPy one.
"""

import functools
import pathlib
import sys

import numpy as np
import pytest

import fastdl
from fastdl.textbook import layers, optimizer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
import textbook_numpy as ref  # noqa: E402  (the plain-NumPy contender lives with the tests)

CONTENDERS = {"numpy-textbook": (ref, ref), "fastdl.textbook": (layers, optimizer)}
NETS = {"SimpleConvNet": (ref.SimpleConvNet, 10), "DeepConvNet": (ref.DeepConvNet, 5)}  # rounds
BATCH = 100


@functools.cache
def _batches():
    """Two batches of 100 float32 images (bundled MNIST subset) and labels."""
    (x, t), _ = fastdl.load_mnist(flatten=False)
    return (x[:BATCH], t[:BATCH]), (x[BATCH : 2 * BATCH], t[BATCH : 2 * BATCH])


def _setup(net_name, contender):
    """A freshly seeded network and its Adam, and a step function over one fixed batch."""
    layer_mod, opt_mod = CONTENDERS[contender]
    np.random.seed(0)  # noqa: NPY002  (weights and dropout masks from the textbook's global state)
    net, opt = NETS[net_name][0](layer_mod), opt_mod.Adam()

    def step(x, t):
        loss, grads = net.gradient(x, t)
        opt.update(net.params, grads)
        return loss

    return step


@functools.cache
def _first_loss(net_name):
    """The plain-NumPy network's loss in its first step (the yardstick of every contender)."""
    return _setup(net_name, "numpy-textbook")(*_batches()[0])


@pytest.mark.parametrize("net_name", list(NETS))
@pytest.mark.parametrize("contender", list(CONTENDERS))
def test_textbook_training_step(benchmark, net_name, contender):
    step = _setup(net_name, contender)
    first, timed = _batches()
    loss = step(*first)  # untimed warm-up, checked
    np.testing.assert_allclose(loss, _first_loss(net_name), rtol=1e-12)
    benchmark.group = f"textbook {net_name} step, batch {BATCH}, float64 weights"
    rounds = NETS[net_name][1]
    loss = benchmark.pedantic(step, args=timed, rounds=rounds, iterations=1, warmup_rounds=0)
    assert np.isfinite(loss)
