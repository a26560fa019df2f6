"""glibc keeps freed memory for the next training step (``kernels/_memory.py``).

The behaviour is what matters: after a warm-up, training steps reuse their pages instead of
faulting in fresh ones. Page faults are counted (``getrusage``), not timed.
"""

import os
import subprocess
import sys

import pytest

from fastdl._kernels import _memory

pytestmark = pytest.mark.skipif(_memory._libc() is None, reason="mallopt is glibc's")

STEPS = """
import resource
import fastdl
from fastdl import models, optimizers
(x, t), _ = fastdl.load_mnist(flatten=False)
model, opt = models.simple_cnn(rng=0), optimizers.Adam(0.001)
fastdl.fit(model, opt, x[:300], t[:300], 1, 100, verbose=0)  # warm-up
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
fastdl.fit(model, opt, x[:2000], t[:2000], 1, 100, verbose=0)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def _faults_per_step(**env):
    full = {**os.environ, "FASTDL_NUM_THREADS": "2", **env}  # the conv splits the batch
    done = subprocess.run(
        [sys.executable, "-c", STEPS], env=full, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return float(done.stdout)


def test_training_steps_reuse_their_pages():
    # a step of simple_cnn frees and allocates about 5 MB of arrays (over 1,000 pages), in
    # the arenas of the conv's two threads
    assert _faults_per_step(FASTDL_MALLOC_TOP_PAD="0") > 300  # glibc's default trims them
    assert _faults_per_step() < 50


@pytest.mark.parametrize("raw", ["-1", "lots", str(2**31)])
def test_a_bad_setting_is_named(raw, monkeypatch):
    monkeypatch.setenv("FASTDL_MALLOC_TOP_PAD", raw)
    with pytest.raises(ValueError, match=r"FASTDL_MALLOC_TOP_PAD must be a number of bytes"):
        _memory.keep_freed_memory()


def test_default_is_set_once_kernels_load():
    assert _memory.state["top_pad"] in (_memory.DEFAULT_TOP_PAD, None)
    if "FASTDL_MALLOC_TOP_PAD" not in os.environ:
        assert _memory.state["top_pad"] == _memory.DEFAULT_TOP_PAD
