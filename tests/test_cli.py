"""The ``fastdl`` command line: train, bench, demo plumbing and error reporting."""

import re
import subprocess
import sys

import numpy as np
import pytest

from fastdl import cli
from fastdl.serialization import load_model


def test_train_mlp_writes_curves_and_a_loadable_model(tmp_path, capsys):
    code = cli.main(
        ["train", "--model", "mlp", "--epochs", "2", "--train-size", "1000", "--quiet",
         "--optimizer", "sgd", "--lr", "0.1", "--out", str(tmp_path)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    acc = float(re.search(r"test accuracy (\d\.\d+)", out).group(1))
    assert 0.5 < acc <= 1.0  # 20 SGD steps on 1,000 MNIST images: far above chance (0.1)
    png = tmp_path / "mlp-curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = load_model(tmp_path / "mlp.npz")
    assert model.forward(np.zeros((2, 784), np.float32), train=False).shape == (2, 10)


def test_train_options_reach_the_model(tmp_path, capsys):
    code = cli.main(
        ["train", "--model", "mlp", "--hidden", "20,20", "--batchnorm", "--dropout", "0.2",
         "--activation", "tanh", "--init", "0.05", "--weight-decay", "1e-3", "--epochs", "3",
         "--early-stopping", "1", "--validation-split", "0.2", "--train-size", "300",
         "--dataset", "fashion-mnist", "--backend", "numpy", "--quiet", "--out", str(tmp_path)]
    )  # fmt: skip
    assert code == 0
    model = load_model(tmp_path / "mlp.npz")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "BatchNorm", "Activation", "Dropout"] * 2 + ["Dense"]
    assert model.layers[2].name == "tanh"
    assert "on fashion-mnist (240 training images, 60 for validation)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--optimizer", "adamax", "--epochs", "1"], "adamax"),
        (["train", "--activation", "relux", "--epochs", "1"], "relux"),
        (["train", "--data", "/nonexistent-dir", "--epochs", "1"], "/nonexistent-dir"),
        (["bench", "--kernels", "conv3d"], "conv3d"),
    ],
)
def test_bad_arguments_exit_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc_info:
        sys.exit(cli.main(argv))
    assert exc_info.value.code not in (0, None)
    captured = capsys.readouterr()
    assert message in captured.err + captured.out + str(exc_info.value.code)


def test_bench_prints_a_checked_table_and_chart(tmp_path, capsys):
    png = tmp_path / "bench.png"
    assert cli.main(["bench", "--kernels", "im2col,col2im", "--quick", "--repeat", "1",
                     "--png", str(png)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("im2col", "col2im"))]
    assert len(rows) == 2 * 2 * len(__import__("fastdl").available_backends())
    assert png.exists()


def test_python_dash_m_runs_the_cli():
    out = subprocess.run(
        [sys.executable, "-m", "fastdl", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("demo", "train", "bench"):
        assert command in out
