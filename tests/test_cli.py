"""The ``fastdl`` command line: train, bench, demo plumbing and error reporting (one line for the
user's errors, a traceback for bugs)."""

import re
import subprocess
import sys

import numpy as np
import pytest

from fastdl import _backend, cli
from fastdl.datasets import load_mnist
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


LEARNERS_NET = ["train", "--model", "mlp", "--hidden", "100", "--activation", "sigmoid",
                "--output-activation", "sigmoid", "--loss", "mse"]  # fmt: skip


def test_learners_sigmoid_mse_network_learns_from_the_command_line(tmp_path, capsys):
    argv = [*LEARNERS_NET, "--optimizer", "sgd", "--lr", "15", "--batch-size", "10",
            "--epochs", "2", "--quiet", "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "(5000 training images), mse loss, SGD(" in out
    model = load_model(tmp_path / "mlp.npz")
    assert [(d.in_features, d.out_features, d.activation) for d in model.layers] == [
        (784, 100, "sigmoid"),
        (100, 10, "sigmoid"),
    ]
    # the reported test loss is the MSE against one-hot labels, computed here without fastdl
    (_, _), (x_test, t_test) = load_mnist()
    y = model.forward(x_test, train=False).astype(np.float64)
    mse = np.mean((y - np.eye(10)[t_test]) ** 2)
    acc, loss = re.search(r"test accuracy (\d\.\d+) \(loss (\d\.\d+)\)", out).groups()
    assert float(loss) == pytest.approx(mse, abs=1e-4)
    assert float(acc) == pytest.approx(np.mean(y.argmax(axis=1) == t_test), abs=1e-4)
    # measured 0.873-0.886 on seeds 0-4 (2 epochs of 500 steps); chance is 0.1
    assert float(acc) > 0.8


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if ``fastdl train`` reads data or trains."""

    def forbidden(*args, **kwargs):
        raise AssertionError("fastdl train got as far as reading data / training")

    monkeypatch.setattr(cli, "fit", forbidden)
    monkeypatch.setattr(cli, "_load", forbidden)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "mlp", "--output-activation", "softmax", "--loss", "mse"],
         "unknown activation act='softmax'"),
        (["--output-activation", "sigmoid"], "sigmoid with --loss cross-entropy"),
        (["--model", "simple-cnn", "--output-activation", "tanh", "--loss", "mse"],
         "--output-activation is available for --model mlp only"),
        (["--model", "deep-cnn", "--batchnorm"], "--batchnorm is available for --model mlp only"),
    ],
)  # fmt: skip
def test_bad_output_options_are_one_line_errors_before_training(
    args, message, tmp_path, capsys, no_training
):
    assert cli.main(["train", *args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastdl train: error: ") and err.count("\n") == 1
    assert message in err


def test_an_unknown_loss_is_rejected_by_name(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--loss", "hinge"])
    assert exc.value.code == 2
    assert "argument --loss: invalid choice: 'hinge'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--data", "/nonexistent-dir"], "/nonexistent-dir"),  # FileNotFoundError
        (["train", "--model", "mlp", "--optimizer", "sgd", "--lr", "1e30", "--epochs", "1",
          "--train-size", "200", "--quiet"], "training diverged"),  # FloatingPointError
    ],
)  # fmt: skip
def test_expected_errors_print_one_line_and_exit_2(argv, message, tmp_path, capsys):
    assert cli.main([*argv, "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"fastdl {argv[0]}: error: ")
    assert captured.err.count("\n") == 1 and message in captured.err


def test_an_unavailable_backend_is_one_line(tmp_path, capsys, monkeypatch):
    def unavailable(name):
        raise _backend.BackendError(f"backend {name!r} is not available here")

    monkeypatch.setattr(cli._backend, "set_backend", unavailable)
    assert cli.main(["train", "--backend", "cython", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == "fastdl train: error: backend 'cython' is not available here\n"


def test_a_bug_raising_type_error_shows_its_traceback(tmp_path, monkeypatch):
    def buggy(*args, **kwargs):
        raise TypeError("injected bug")

    monkeypatch.setattr(cli.models, "mlp", buggy)
    with pytest.raises(TypeError, match="injected bug"):
        cli.main(["train", "--model", "mlp", "--out", str(tmp_path)])


def test_a_bug_shows_its_traceback_from_the_console(tmp_path):
    script = (
        "import sys\n"
        "from fastdl import cli\n"
        "def buggy(*args, **kwargs):\n"
        "    raise TypeError('injected bug')\n"
        "cli.plots.bar_chart = buggy\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    argv = ["bench", "--kernels", "im2col", "--quick", "--repeat", "1", "--png",
            str(tmp_path / "b.png")]  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "TypeError: injected bug" in proc.stderr
    assert "error:" not in proc.stderr
