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


TEXTBOOK_STEPS = f"""
import resource, sys
import numpy as np
sys.path.insert(0, {str(os.path.dirname(os.path.abspath(__file__)))!r})
import textbook_numpy
import fastdl
from fastdl.textbook import layers, optimizer
(x, t), _ = fastdl.load_mnist(flatten=False)
np.random.seed(0)
net, opt = textbook_numpy.SimpleConvNet(layers), optimizer.Adam()
def steps(n):
    for i in range(n):
        loss, grads = net.gradient(x[100 * i : 100 * i + 100], t[100 * i : 100 * i + 100])
        opt.update(net.params, grads)
steps(3)  # warm-up
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
steps(10)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def _faults_per_step(script=STEPS, **env):
    full = {**os.environ, "FASTDL_NUM_THREADS": "2", **env}  # the conv splits the batch
    for name in ("MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_"):
        full.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", script], env=full, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return float(done.stdout)


def test_training_steps_reuse_their_pages():
    # a step of simple_cnn frees and allocates about 5 MB of arrays (over 1,000 pages), in
    # the arenas of the conv's two threads
    assert _faults_per_step(FASTDL_MALLOC_TOP_PAD="0") > 300  # glibc's default trims them
    assert _faults_per_step() < 50


def test_textbook_steps_reuse_their_float64_arrays():
    # the textbook's SimpleConvNet frees and allocates float64 arrays of up to 14 MB a step;
    # below glibc's threshold (128 KiB once any option is set) each is a fresh mmap
    assert _faults_per_step(TEXTBOOK_STEPS, FASTDL_MALLOC_MMAP_THRESHOLD="0") > 300
    assert _faults_per_step(TEXTBOOK_STEPS) < 50


def test_glibcs_own_variables_win():
    script = "from fastdl._kernels import _memory; print(_memory.state)"
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
    env.pop("FASTDL_MALLOC_MMAP_THRESHOLD", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "'mmap_threshold': None" in done.stdout


@pytest.mark.parametrize("raw", ["-1", "lots", str(2**31)])
@pytest.mark.parametrize("name", ["FASTDL_MALLOC_TOP_PAD", "FASTDL_MALLOC_MMAP_THRESHOLD"])
def test_a_bad_setting_is_named(name, raw, monkeypatch):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ValueError, match=rf"{name} must be a number of bytes"):
        _memory.keep_freed_memory()


@pytest.mark.parametrize(
    "name,env,glibc_env,default",
    [
        ("top_pad", "FASTDL_MALLOC_TOP_PAD", "MALLOC_TOP_PAD_", _memory.DEFAULT_TOP_PAD),
        ("mmap_threshold", "FASTDL_MALLOC_MMAP_THRESHOLD", "MALLOC_MMAP_THRESHOLD_",
         _memory.DEFAULT_MMAP_THRESHOLD),
    ],
)  # fmt: skip
def test_default_is_set_once_kernels_load(name, env, glibc_env, default):
    assert _memory.state[name] in (default, None)
    if env not in os.environ and glibc_env not in os.environ:
        assert _memory.state[name] == default
