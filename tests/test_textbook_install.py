"""fastdl.textbook.install(): the textbook's ``common.<module>`` imports resolve to fastdl's while
the reader's other ``common`` modules still load. Run in a subprocess with a throwaway ``common/``
package of the reader's own, laid out as in the book (``ch07/script.py``, ``common/`` beside it)."""

import subprocess
import sys

import pytest

READER_LAYERS = "raise ImportError('the reader's own common/layers.py must not be imported')\n"

MULTI_LAYER_NET = """\
from common.layers import *
from common.gradient import numerical_gradient
from common import util


class TinyNet:
    def __init__(self):
        self.params = {"W": 0.1 * np.random.randn(4, 3), "b": np.zeros(3)}
        self.affine = Affine(self.params["W"], self.params["b"])
        self.last = SoftmaxWithLoss()

    def loss(self, x, t):
        return self.last.forward(self.affine.forward(x), t)
"""

SCRIPT = """\
import fastdl.textbook; fastdl.textbook.install()
import sys, os
sys.path.append(os.pardir)
import numpy as np
import common
import common.layers
from common.multi_layer_net import TinyNet
from common.optimizer import Adam
from common.functions import softmax
import fastdl.textbook as tb

assert common.__file__.startswith(os.path.abspath(os.pardir)), common.__file__
assert common.layers.Affine is tb.layers.Affine and common.layers is sys.modules["common.layers"]
assert common.util.im2col is tb.util.im2col and softmax is tb.functions.softmax
assert Adam is tb.optimizer.Adam
import common.multi_layer_net as mln
assert mln.Affine is tb.layers.Affine and mln.numerical_gradient is tb.gradient.numerical_gradient
assert mln.np is np  # the reader's module body ran: its own imports are there
net = TinyNet()
x, t = np.random.rand(5, 4), np.array([0, 1, 2, 1, 0])
g = mln.numerical_gradient(lambda w: net.loss(x, t), net.params["W"])
before = net.loss(x, t)
Adam(lr=0.1).update(net.params, {"W": g, "b": np.zeros(3)})
assert net.loss(x, t) < before
tb.install()  # again: nothing happens
assert sum(type(f).__module__ == "fastdl.textbook._install" for f in sys.meta_path) == 1
print("OK")
"""


def _run(book):
    """Run ``ch07/script.py`` of the throwaway book in a fresh interpreter."""
    cmd = [sys.executable, "script.py"]
    return subprocess.run(cmd, cwd=book / "ch07", capture_output=True, text=True, timeout=120)


@pytest.fixture
def book(tmp_path):
    common = tmp_path / "common"
    common.mkdir()
    (common / "__init__.py").write_text("")
    (common / "layers.py").write_text(READER_LAYERS)
    (common / "gradient.py").write_text("READERS = True\n")
    (common / "multi_layer_net.py").write_text("import numpy as np\n" + MULTI_LAYER_NET)
    (tmp_path / "ch07").mkdir()
    return tmp_path


def test_install_switches_exactly_the_five_modules(book):
    (book / "ch07" / "script.py").write_text(SCRIPT)
    out = _run(book)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OK"


def test_without_install_the_readers_modules_load(book):
    """The throwaway package is real: without install() its own layers.py is imported."""
    script = "import sys, os\nsys.path.append(os.pardir)\nimport common.multi_layer_net\n"
    (book / "ch07" / "script.py").write_text(script)
    out = _run(book)
    assert out.returncode != 0 and "must not be imported" in out.stderr


def test_install_after_the_import_fails_clearly(book):
    script = (
        "import sys, os\nsys.path.append(os.pardir)\nimport common.gradient\n"
        "import fastdl.textbook\n"
        "try:\n    fastdl.textbook.install()\nexcept RuntimeError as e:\n    print(e)\n"
    )
    (book / "ch07" / "script.py").write_text(script)
    out = _run(book)
    assert out.returncode == 0, out.stderr
    assert "must run before" in out.stdout and "common.gradient" in out.stdout
    assert "common/gradient.py" in out.stdout  # where the reader's module came from


def test_run_a_book_script_unchanged_with_python_m(book):
    """``python -m fastdl.textbook script.py ARGS``: the script is not edited at all."""
    script = SCRIPT.replace("import fastdl.textbook; fastdl.textbook.install()\n", "")
    script = script.replace('print("OK")', 'print("OK", sys.argv[1:], __name__)')
    (book / "ch07" / "script.py").write_text(script)
    cmd = [sys.executable, "-m", "fastdl.textbook", "script.py", "--epochs", "3"]
    out = subprocess.run(cmd, cwd=book / "ch07", capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OK ['--epochs', '3'] __main__"
    missing = subprocess.run(cmd[:3] + ["nope.py"], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no such script: nope.py" in missing.stderr


def test_install_rejects_a_bad_package_name():
    import fastdl.textbook

    with pytest.raises(ValueError, match="got 'common.layers'"):
        fastdl.textbook.install("common.layers")
