"""Networks built from fastdl.textbook train like the same networks built from the plain-NumPy
textbook-style layers: same seed, same data, the same loss at every step (float64)."""

# ruff: noqa: NPY002  (the textbook draws from NumPy's global random state)
import os

import numpy as np
import pytest
import textbook_numpy as ref

import fastdl
from fastdl.textbook import layers, optimizer


@pytest.fixture(scope="module")
def mnist():
    (x, t), _ = fastdl.load_mnist(flatten=False)  # bundled subset, float32 images
    return x, t


def _losses(net_cls, layer_mod, opt_mod, data, steps, batch_size):
    np.random.seed(2024)  # initial weights, batches and dropout masks: NumPy's global state
    net = net_cls(layer_mod)
    return np.array(ref.train_losses(net, opt_mod.Adam(), *data, steps, batch_size)), net


# The default run keeps to seconds: small batches, and fewer steps for DeepConvNet (~10x the work
# per sample). FASTDL_TEXTBOOK_FULL=1 adds the full check: 50 steps at batch 100 (minutes).
FULL = pytest.mark.skipif(
    os.environ.get("FASTDL_TEXTBOOK_FULL", "") in ("", "0"), reason="FASTDL_TEXTBOOK_FULL=1 only"
)
CASES = [
    (ref.SimpleConvNet, 50, 10),
    (ref.DeepConvNet, 20, 4),
    pytest.param(ref.SimpleConvNet, 50, 100, marks=FULL),
    pytest.param(ref.DeepConvNet, 50, 100, marks=FULL),
]


@pytest.mark.parametrize("net_cls, steps, batch_size", CASES)
def test_loss_at_every_step_equals_the_plain_numpy_network(mnist, net_cls, steps, batch_size):
    mine, net = _losses(net_cls, layers, optimizer, mnist, steps, batch_size)
    theirs, net_ref = _losses(net_cls, ref, ref, mnist, steps, batch_size)
    assert mine.shape == (steps,) and np.all(np.isfinite(mine))
    np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=0)
    assert mine[-5:].mean() < mine[:5].mean()  # it learns
    for key, p in net.params.items():
        assert p.dtype == np.float64
        np.testing.assert_allclose(p, net_ref.params[key], rtol=1e-7, atol=1e-12)
