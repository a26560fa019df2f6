"""A user's type checker sees fastdl as a typed package (``py.typed``, PEP 561).

mypy checks a small user script against the fastdl that this interpreter imports, found the way
a user's mypy finds it: as a package in a site-packages directory (an editable install's import
hook is invisible to mypy, so a throwaway venv holds a link to the package). Skipped without
mypy (``pip install mypy``; .ci/run installs it).
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastdl

pytest.importorskip("mypy")

# the script's lines that must be reported, with what mypy says about them
WRONG = {
    'fastdl.set_num_threads("two")': 'Argument 1 to "set_num_threads" has incompatible type "str"',
    'Dense(3, 4).forward(x, train="yes")': 'Argument "train" to "forward" of "Dense"',
    "total: str = F.im2col(x4, 2, 2)": "Incompatible types in assignment",
}

SCRIPT = textwrap.dedent(
    """\
    import numpy as np

    import fastdl
    from fastdl import functional as F
    from fastdl.layers import Dense, Sequential

    x = np.zeros((2, 3), np.float32)
    x4 = np.zeros((1, 1, 4, 4), np.float32)
    model = Sequential([Dense(3, 4, "relu"), Dense(4, 2)])
    history = fastdl.fit(model, fastdl.get_optimizer("adam"), x, np.array([0, 1]), epochs=1)
    loss, acc = fastdl.evaluate(model, x, np.array([0, 1]))
    epochs: int = history.epochs
    rate: float = acc
    col = F.im2col(x4, 2, 2, stride=(1, 1))
    y, argmax = F.maxpool2d_forward(x4, 2, 2)
    fastdl.set_backend("numpy")
    """
) + "".join(line + "\n" for line in WRONG)


def _typed_site(tmp_path):
    """A venv whose site-packages holds a link to the imported fastdl package and a ``.pth``
    entry for NumPy's site-packages; returns its interpreter."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python3*/site-packages")
    (site / "fastdl").symlink_to(Path(fastdl.__file__).parent, target_is_directory=True)
    (site / "numpy_site.pth").write_text(str(Path(np.__file__).parent.parent) + "\n")
    return venv / "bin" / "python"


def _mypy(tmp_path, python):
    script = tmp_path / "user.py"
    script.write_text(SCRIPT)
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n")
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(config),
        "--python-executable",
        str(python),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--no-error-summary",
        "--show-error-codes",
        str(script),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    return done.stdout + done.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="the venv layout is the POSIX one")
def test_mypy_reads_fastdl_annotations(tmp_path):
    assert (Path(fastdl.__file__).parent / "py.typed").is_file(), "fastdl/py.typed is missing"
    report = _mypy(tmp_path, _typed_site(tmp_path))
    assert "py.typed" not in report and "import-untyped" not in report, report
    assert "import-not-found" not in report, report
    errors = [line for line in report.splitlines() if ": error:" in line]
    lines = SCRIPT.splitlines()
    flagged = {lines[int(e.split(":")[1]) - 1] for e in errors}
    assert flagged == set(WRONG), report  # the correct calls pass, each wrong one is reported
    for line, message in WRONG.items():
        assert any(message in e for e in errors if lines[int(e.split(":")[1]) - 1] == line), (
            line,
            report,
        )
