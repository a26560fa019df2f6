"""Unclear errors made clear, and divergence stopped (issue 16, items 6 and 7).

Each test names one misuse that used to fail obscurely (AttributeError, an allocation of
terabytes, a silent default) and pins the clear error that replaces it.
"""

import json

import numpy as np
import pytest

import fastdl
from fastdl import cli
from fastdl import functional as F
from fastdl.callbacks import EarlyStopping, TerminateOnNaN
from fastdl.layers import Conv2D, Dense, MaxPool2D, Sequential
from fastdl.serialization import load_model, save_model


def test_bias_act_rejects_a_0d_x(backend):
    with pytest.raises(ValueError, match=r"x must have at least 1 dimension, got shape \(\)"):
        F.bias_act_forward(np.float64(1.0), None, "relu", backend=backend)


@pytest.mark.parametrize(
    ("layer", "dout"),
    [
        (Dense(3, 2, rng=np.random.default_rng(0)), np.ones((1, 2), np.float32)),
        (Conv2D(1, 2, 3, rng=np.random.default_rng(0)), np.ones((1, 2, 2, 2), np.float32)),
        (MaxPool2D(2), np.ones((1, 1, 2, 2), np.float32)),
    ],
    ids=["Dense", "Conv2D", "MaxPool2D"],
)
def test_backward_before_forward_is_a_clear_runtime_error(layer, dout):
    name = type(layer).__name__
    with pytest.raises(RuntimeError, match=f"{name}.backward called before {name}.forward"):
        layer.backward(dout)


def _tiny_problem(seed=0):
    rng = np.random.default_rng(seed)
    model = Sequential([Dense(4, 8, "relu", rng=rng), Dense(8, 3, rng=rng)])
    x = rng.standard_normal((60, 4)).astype(np.float32)
    return model, x, rng.integers(0, 3, 60)


@pytest.mark.parametrize("optimizer", [None, "adam"])
def test_fit_rejects_a_non_optimizer_before_training(optimizer):
    model, x, y = _tiny_problem()
    before = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(TypeError, match=r"fastdl.get_optimizer\('adam'\), got"):
        fastdl.fit(model, optimizer, x, y, epochs=1, batch_size=20, verbose=0)
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, before[k])


def _tamper(path, edit):
    """Rewrite the architecture entry of the model file at ``path`` with ``edit(arch)``."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arch = json.loads(str(arrays["architecture"]))
    arrays["architecture"] = np.array(json.dumps(edit(arch)))
    np.savez(path, **arrays)


def test_tampered_file_declaring_a_huge_dense_is_refused_before_allocating(tmp_path):
    path = tmp_path / "m.npz"
    save_model(_tiny_problem()[0], path)

    def huge(arch):
        arch["layers"][0]["config"].update(in_features=10**6, out_features=10**6)
        return arch

    _tamper(path, huge)
    with pytest.raises(ValueError, match="declare 1,000,001,000,000 parameter entries"):
        load_model(path)  # the old code asked for 3.64 TiB here


def test_tampered_file_with_layers_as_a_dict_says_so(tmp_path):
    path = tmp_path / "m.npz"
    save_model(_tiny_problem()[0], path)
    _tamper(path, lambda arch: {**arch, "layers": {"0": arch["layers"][0]}})
    with pytest.raises(ValueError, match="'layers' must be a list of layers, got dict"):
        load_model(path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "0"], "argument --lr: must be a positive finite number, got 0"),
        (["--lr", "nan"], "argument --lr: must be a positive finite number"),
        (["--hidden", "100,,x"], "argument --hidden: must be positive integers separated by"),
        (["--dropout", "1"], "argument --dropout: must be in [0, 1)"),
        (["--validation-split", "-0.1"], "argument --validation-split: must be in [0, 1)"),
        (["--weight-decay", "-1"], "argument --weight-decay: must be a finite number >= 0"),
        (["--early-stopping", "-2"], "argument --early-stopping: must be an integer >= 0"),
    ],
)
def test_train_rejects_bad_options_by_name(capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--model", "mlp", *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if ``fastdl train`` reads data or trains."""

    def forbidden(*args, **kwargs):
        raise AssertionError("fastdl train got as far as reading data / training")

    monkeypatch.setattr(cli, "fit", forbidden)
    monkeypatch.setattr(cli, "_load", forbidden)


def test_train_checks_out_is_writable_before_training(tmp_path, capsys, no_training):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    assert cli.main(["train", "--out", str(not_a_dir / "sub")]) == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--optimizer", "adamm"], "unknown optimizer 'adamm'"),
        (["--activation", "relu7"], "unknown activation act='relu7'"),
        (["--model", "simple-cnn", "--batchnorm"], "--batchnorm is available for --model mlp"),
    ],
)
def test_train_checks_model_and_optimizer_options_before_reading_data(
    tmp_path, capsys, no_training, args, message
):
    try:
        code = cli.main(["train", *args, "--out", str(tmp_path)])
    except SystemExit as exc:
        code, err = exc.code, str(exc)
    else:
        err = capsys.readouterr().err
    assert code != 0 and message in err


def test_fit_stops_at_the_first_non_finite_loss():
    model, x, y = _tiny_problem()
    opt = fastdl.get_optimizer("sgd", lr=1e30)
    with pytest.raises(FloatingPointError) as exc:
        fastdl.fit(model, opt, x, y, epochs=5, batch_size=20, shuffle=False, verbose=0)
    msg = str(exc.value)
    assert "at epoch 1/5, batch 2/3" in msg and "learning rate" in msg and "lr=1e+30" in msg
    assert exc.value.history.epochs == 0


def test_fit_trains_on_when_the_user_opts_out():
    model, x, y = _tiny_problem()
    opt = fastdl.get_optimizer("sgd", lr=1e30)
    hist = fastdl.fit(model, opt, x, y, epochs=2, batch_size=20, verbose=0, check_finite=False)
    assert hist.epochs == 2 and not np.isfinite(hist.history["loss"][-1])


def test_terminate_on_nan_stops_fit_at_the_batch():
    model, x, y = _tiny_problem()
    stop = TerminateOnNaN()
    opt = fastdl.get_optimizer("sgd", lr=1e30)
    hist = fastdl.fit(
        model, opt, x, y, epochs=5, batch_size=20, shuffle=False, verbose=0,
        check_finite=False, callbacks=[stop],
    )  # fmt: skip
    assert hist.epochs == 1 and stop.stopped == (0, 1)
    assert len(hist.iteration_loss) == 2


def test_terminate_on_nan_in_a_custom_loop():
    class Loop:
        stop_training = False

    stop, loop = TerminateOnNaN(), Loop()
    stop.on_train_begin(loop)
    for batch, loss in enumerate([2.0, 1.5, float("inf"), 1.0]):
        stop.on_batch_end(loop, batch, {"loss": loss})
        if loop.stop_training:
            break
    assert batch == 2 and stop.stopped == (0, 2)


def test_early_stopping_never_restores_non_finite_weights():
    model, x, y = _tiny_problem()
    es = EarlyStopping("loss", patience=0, restore_best_weights=True)
    opt = fastdl.get_optimizer("sgd", lr=1e30)
    fastdl.fit(
        model, opt, x, y, epochs=3, batch_size=20, verbose=0, check_finite=False, callbacks=[es]
    )
    assert es.best_epoch is None  # no epoch had a finite loss: nothing to restore
    model, x, y = _tiny_problem()
    start = {k: v.copy() for k, v in model.params.items()}
    es = EarlyStopping("loss", patience=5, restore_best_weights=True)

    class Blowup(fastdl.callbacks.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 1:  # from the second epoch on the weights are NaN
                for v in trainer.model.params.values():
                    v[...] = np.nan

    opt = fastdl.get_optimizer("sgd", lr=1e-3)
    fastdl.fit(model, opt, x, y, epochs=3, batch_size=20, verbose=0, check_finite=False,
               callbacks=[Blowup(), es])  # fmt: skip
    assert es.best_epoch == 0
    for k, v in model.params.items():
        assert np.isfinite(v).all()
        assert not np.array_equal(v, start[k]) or k.endswith("b")  # epoch 0's trained weights
