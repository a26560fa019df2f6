"""fit / evaluate / predict, History, EarlyStopping and ModelCheckpoint."""

import numpy as np
import pytest

import fastdl
from fastdl.callbacks import Callback, EarlyStopping, ModelCheckpoint
from fastdl.layers import Dense, Layer, Sequential
from fastdl.losses import Flooding
from fastdl.models import mlp
from fastdl.optimizers import get_optimizer
from fastdl.regularizers import L2
from fastdl.serialization import load_model
from fastdl.training import History, evaluate, fit, predict

KEYS = {"loss", "acc", "val_loss", "val_acc", "time"}


@pytest.fixture(scope="module")
def mnist():
    """400 training and 200 test samples of the bundled MNIST subset, flattened float32."""
    (x, t), (x_test, t_test) = fastdl.load_mnist()
    return x[:400], t[:400], x_test[:200], t_test[:200]


def _model(seed=0, **kwargs):
    return mlp(hidden=(32,), rng=seed, **kwargs)


def _sgd(lr=0.1):
    return get_optimizer("sgd", lr=lr)


def _cross_entropy(scores, t):
    """Mean softmax cross-entropy of (N, K) scores and (N,) labels, in float64."""
    z = scores.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(t)), t].mean()


def _weights(model):
    return {k: v.copy() for k, v in {**model.params, **model.buffers}.items()}


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


class Recorder(Layer):
    """A parameter-free identity layer that records the batches it sees in training."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def forward(self, x, train=True):
        if train:
            self.batches.append(x.copy())
        return x

    def backward(self, dout):
        return dout


class Snapshots(Callback):
    """Keep a copy of the weights and the logs after every epoch."""

    def on_train_begin(self, trainer):
        self.weights, self.logs = [], []

    def on_epoch_end(self, trainer, epoch, logs):
        self.weights.append(_weights(trainer.model))
        self.logs.append(dict(logs))


class Script(Callback):
    """Put a scripted metric ``key`` into the logs (seen by the callbacks after this one)."""

    def __init__(self, values, key="score"):
        self.values, self.key = values, key

    def on_epoch_end(self, trainer, epoch, logs):
        logs[self.key] = self.values[epoch]


# --------------------------------------------------------------------------- fit and History


def test_history_keys_lengths_and_loss_decreases(mnist):
    x, t, x_test, t_test = mnist
    model = _model()
    loss_before = _cross_entropy(model.forward(x, train=False), t)
    history = fit(model, _sgd(), x, t, epochs=4, batch_size=50, validation_split=0.25, verbose=0)
    assert isinstance(history, History)
    assert set(history.history) == KEYS
    assert history.epochs == 4
    assert all(len(v) == 4 for v in history.history.values())
    assert len(history.iteration_loss) == 4 * (300 // 50)
    assert all(s > 0 for s in history.history["time"])
    loss = history.history["loss"]
    assert all(a > b for a, b in zip(loss, loss[1:])), loss
    assert loss[-1] < 0.6 * loss_before
    assert history.history["acc"][-1] > 0.7
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]
    test_loss, test_acc = evaluate(model, x_test, t_test)
    assert test_loss < 0.6 * _cross_entropy(_model().forward(x_test, train=False), t_test)
    assert test_acc > 0.6
    assert "History(epochs=4, last={'loss':" in repr(history)


def test_without_validation_the_val_metrics_are_none(mnist):
    x, t, _, _ = mnist
    history = fit(_model(), _sgd(), x[:60], t[:60], epochs=2, batch_size=25, verbose=0)
    assert history.history["val_loss"] == [None, None]
    assert history.history["val_acc"] == [None, None]
    assert len(history.iteration_loss) == 2 * 3  # 25 + 25 + 10: the partial batch counts


def test_validation_split_holds_out_the_last_samples(mnist):
    x, t, _, _ = mnist
    x, t = x[:100], t[:100]
    rec_a, rec_b = Recorder(), Recorder()
    model_a = Sequential([rec_a, *_model(seed=3).layers])
    model_b = Sequential([rec_b, *_model(seed=3).layers])
    ha = fit(model_a, _sgd(), x, t, epochs=2, batch_size=16, validation_split=0.2, verbose=0)
    hb = fit(
        model_b,
        _sgd(),
        x[:80],
        t[:80],
        epochs=2,
        batch_size=16,
        validation_data=(x[80:], t[80:]),
        verbose=0,
    )
    for key in ("loss", "acc", "val_loss", "val_acc"):
        assert ha.history[key] == hb.history[key], key
    _assert_same_weights(_weights(model_a), _weights(model_b))
    seen = np.concatenate(rec_a.batches[:5])  # epoch 1: 16 * 5 = 80 training samples
    assert len(rec_a.batches) == 10 and seen.shape == (80, 784)
    np.testing.assert_array_equal(np.sort(seen, axis=0), np.sort(x[:80], axis=0))


def test_validation_data_metrics_match_a_manual_evaluation(mnist):
    x, t, x_test, t_test = mnist
    model = _model(batchnorm=True, dropout=0.2)
    history = fit(
        model,
        _sgd(),
        x[:120],
        t[:120],
        epochs=2,
        batch_size=40,
        validation_data=(x_test, t_test),
        validation_split=0.5,
        verbose=0,
    )
    assert history.epochs == 2 and len(history.iteration_loss) == 2 * 3  # split ignored
    scores = model.forward(x_test, train=False)
    assert history.history["val_loss"][-1] == pytest.approx(_cross_entropy(scores, t_test))
    assert history.history["val_acc"][-1] == np.mean(scores.argmax(axis=1) == t_test)


def test_flooding_trains_on_the_flooded_loss_but_validates_on_the_plain_one(mnist):
    """With b above every loss, training reports |L - b| + b = 2b - L; val_loss stays L."""
    x, t, x_test, t_test = mnist
    b = 10.0
    model = _model()
    history = fit(
        model,
        _sgd(lr=0.01),
        x[:80],
        t[:80],
        epochs=1,
        batch_size=40,
        loss=Flooding("softmax_cross_entropy", b),
        validation_data=(x_test, t_test),
        verbose=0,
    )
    assert all(loss > b for loss in history.iteration_loss)
    scores = model.forward(x_test, train=False)
    assert history.history["val_loss"][-1] == pytest.approx(_cross_entropy(scores, t_test))


def test_shuffle_and_seed_reproducibility(mnist):
    x, t, _, _ = mnist
    x, t = x[:120], t[:120]

    def run(seed, shuffle=True, dropout=0.3):
        model = _model(seed=0, dropout=dropout)
        hist = fit(
            model,
            _sgd(),
            x,
            t,
            epochs=2,
            batch_size=30,
            shuffle=shuffle,
            seed=seed,
            validation_split=0.25,
            verbose=0,
        )
        return {k: v for k, v in hist.history.items() if k != "time"}, _weights(model)

    h1, w1 = run(seed=5)
    h2, w2 = run(seed=5)
    assert h1 == h2
    _assert_same_weights(w1, w2)
    h3, w3 = run(seed=6)
    assert h1["loss"] != h3["loss"]
    assert not np.array_equal(w1["0.W"], w3["0.W"])
    # without shuffling (and without dropout) the seed does not matter
    h4, w4 = run(seed=5, shuffle=False, dropout=0.0)
    h5, w5 = run(seed=6, shuffle=False, dropout=0.0)
    assert h4 == h5
    _assert_same_weights(w4, w5)


def test_batches_in_order_without_shuffle_and_reshuffled_every_epoch(mnist):
    x, t, _, _ = mnist
    x, t = x[:50], t[:50]
    rec = Recorder()
    fit(
        Sequential([rec, *_model().layers]),
        _sgd(),
        x,
        t,
        epochs=2,
        batch_size=20,
        shuffle=False,
        verbose=0,
    )
    assert [len(b) for b in rec.batches] == [20, 20, 10] * 2
    np.testing.assert_array_equal(np.concatenate(rec.batches[:3]), x)
    np.testing.assert_array_equal(np.concatenate(rec.batches[3:]), x)

    rec = Recorder()
    fit(Sequential([rec, *_model().layers]), _sgd(), x, t, epochs=2, batch_size=20, verbose=0)
    epoch1, epoch2 = np.concatenate(rec.batches[:3]), np.concatenate(rec.batches[3:])
    for seen in (epoch1, epoch2):  # every sample exactly once, not in the original order
        assert not np.array_equal(seen, x)
        rows = {r.tobytes() for r in seen}
        assert rows == {r.tobytes() for r in x} and len(seen) == 50
    assert not np.array_equal(epoch1, epoch2)


def test_regularizer_adds_penalty_to_the_loss(mnist):
    x, t, _, _ = mnist
    model = _model()
    W = [model.params["0.W"].astype(np.float64), model.params["1.W"].astype(np.float64)]
    first = _cross_entropy(model.forward(x[:40], train=False), t[:40])
    lam = 0.1
    history = fit(
        model,
        _sgd(),
        x[:40],
        t[:40],
        epochs=1,
        batch_size=40,
        shuffle=False,
        regularizer=L2(lam),
        verbose=0,
    )
    penalty = 0.5 * lam * sum((w**2).sum() for w in W)
    assert history.iteration_loss[0] == pytest.approx(first + penalty, rel=1e-5)


def test_verbose_zero_is_silent_and_verbose_one_shows_progress(mnist, capsys):
    x, t, _, _ = mnist
    fit(_model(), _sgd(), x[:40], t[:40], epochs=2, batch_size=20, verbose=0)
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    fit(_model(), _sgd(), x[:40], t[:40], epochs=2, batch_size=20, validation_split=0.5)
    out, err = capsys.readouterr()
    assert "epoch 1/2" in err and "epoch 2/2" in err  # the tqdm bars
    assert "/1 [" in err and "loss=" in err  # a bar over one batch of 20, with the loss
    assert "epoch 1/2: loss " in out and "val_acc" in out and "epoch 2/2: loss " in out


def test_fit_bad_arguments(mnist):
    x, t, _, _ = mnist
    x, t = x[:20], t[:20]
    model, opt = _model(), _sgd()
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        fit(model, opt, x, t, epochs=0, verbose=0)
    with pytest.raises(ValueError, match="epochs must be a positive int, got True"):
        fit(model, opt, x, t, epochs=True, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 2.5"):
        fit(model, opt, x, t, batch_size=2.5, verbose=0)
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\), got 1.0"):
        fit(model, opt, x, t, validation_split=1.0, verbose=0)
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\), got -0.1"):
        fit(model, opt, x, t, validation_split=-0.1, verbose=0)
    with pytest.raises(ValueError, match="validation_split=0.01 holds out 0 of 20 samples"):
        fit(model, opt, x, t, validation_split=0.01, verbose=0)
    with pytest.raises(TypeError, match="x must be a float array, got dtype uint8"):
        fit(model, opt, (x * 255).astype(np.uint8), t, verbose=0)
    with pytest.raises(ValueError, match="x has 20 samples but its targets have 19"):
        fit(model, opt, x, t[:-1], verbose=0)
    with pytest.raises(ValueError, match="x is empty"):
        fit(model, opt, x[:0], t[:0], verbose=0)
    with pytest.raises(ValueError, match="validation_data x has 5 samples but its targets have 4"):
        fit(model, opt, x, t, validation_data=(x[:5], t[:4]), verbose=0)
    with pytest.raises(TypeError, match="callbacks must be Callback instances, got function"):
        fit(model, opt, x, t, callbacks=[lambda *a: None], verbose=0)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        fit(model, opt, x, t, loss="hinge", verbose=0)
    with pytest.raises(ValueError, match="Dense: expected 784 input features, got 392"):
        fit(model, opt, x[:, :392], t, verbose=0)


# --------------------------------------------------------------------------- predict / evaluate


def test_predict_equals_forward_in_inference_mode(mnist):
    x, t, _, _ = mnist
    model = _model(batchnorm=True, dropout=0.5)
    fit(model, _sgd(), x[:100], t[:100], epochs=1, batch_size=25, verbose=0)
    buffers = _weights(model)
    x = x[:30]
    scores = predict(model, x)
    assert scores.shape == (30, 10) and scores.dtype == np.float32
    np.testing.assert_array_equal(scores, model.forward(x, train=False))
    chunked = predict(model, x, batch_size=7)
    manual = np.concatenate([model.forward(x[i : i + 7], train=False) for i in range(0, 30, 7)])
    np.testing.assert_array_equal(chunked, manual)
    np.testing.assert_allclose(chunked, scores, rtol=1e-5, atol=1e-6)
    _assert_same_weights(_weights(model), buffers)  # inference leaves the running stats alone


def test_evaluate_values(mnist):
    x, t, _, _ = mnist
    model = _model()
    scores = model.forward(x[:50], train=False)
    loss, acc = evaluate(model, x[:50], t[:50], batch_size=16)
    assert isinstance(loss, float) and isinstance(acc, float)
    assert loss == pytest.approx(_cross_entropy(scores, t[:50]), rel=1e-6)
    assert acc == np.mean(scores.argmax(axis=1) == t[:50])
    one_hot = np.eye(10, dtype=np.float32)[t[:50]]
    assert evaluate(model, x[:50], one_hot) == pytest.approx((loss, acc))


def test_predict_and_evaluate_bad_arguments(mnist):
    x, t, _, _ = mnist
    model = _model()
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        predict(model, x[:5], batch_size=0)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got -1"):
        evaluate(model, x[:5], t[:5], batch_size=-1)
    with pytest.raises(ValueError, match="predict: x must be a non-empty batch"):
        predict(model, x[:0])
    with pytest.raises(ValueError, match="predict: x must be a non-empty batch"):
        predict(model, np.float32(1.0))
    with pytest.raises(TypeError, match="Dense: input must be a float array, got dtype int64"):
        predict(model, np.zeros((2, 784), np.int64))
    with pytest.raises(TypeError, match="x must be a float array"):
        evaluate(model, np.zeros((2, 784), np.int64), t[:2])
    with pytest.raises(ValueError, match="x has 5 samples but its targets have 3"):
        evaluate(model, x[:5], t[:3])


# --------------------------------------------------------------------------- EarlyStopping


def _scripted_fit(mnist, values, epochs, *callbacks, model=None, key="score"):
    x, t, _, _ = mnist
    model = model or _model()
    snaps = Snapshots()
    history = fit(
        model,
        _sgd(),
        x[:60],
        t[:60],
        epochs=epochs,
        batch_size=30,
        callbacks=[Script(values, key), snaps, *callbacks],
        verbose=0,
    )
    return model, history, snaps


def test_early_stopping_after_patience(mnist):
    values = [3.0, 2.0, 1.0, 1.5, 1.2, 1.1, 0.5, 0.4]
    stop = EarlyStopping(monitor="score", patience=2)
    model, history, snaps = _scripted_fit(mnist, values, 8, stop)
    # best at epoch 2; epochs 3 and 4 are tolerated, epoch 5 is the third without improvement
    assert stop.best_epoch == 2 and stop.best == 1.0
    assert stop.stopped_epoch == 5
    assert history.epochs == 6 and len(snaps.weights) == 6
    _assert_same_weights(_weights(model), snaps.weights[-1])  # no restoring asked for


def test_early_stopping_restores_the_best_weights(mnist):
    values = [3.0, 2.0, 2.5, 2.4, 2.2, 2.1]
    stop = EarlyStopping(monitor="score", patience=1, restore_best_weights=True)
    model, history, snaps = _scripted_fit(mnist, values, 6, stop, model=_model(batchnorm=True))
    assert (stop.best_epoch, stop.stopped_epoch, history.epochs) == (1, 3, 4)
    final = _weights(model)
    assert any("running_mean" in k for k in final)  # buffers are restored too
    _assert_same_weights(final, snaps.weights[1])
    assert not np.array_equal(final["0.W"], snaps.weights[3]["0.W"])


def test_early_stopping_min_delta_mode_and_full_run(mnist):
    # improvements of 0.05 do not count with min_delta=0.1
    stop = EarlyStopping(monitor="score", patience=1, min_delta=0.1)
    _, history, _ = _scripted_fit(mnist, [1.0, 0.95, 0.9, 0.85], 4, stop)
    assert (stop.best_epoch, stop.stopped_epoch, history.epochs) == (0, 2, 3)
    # mode="max": a rising score keeps training to the end
    stop = EarlyStopping(monitor="score", patience=0, mode="max")
    _, history, _ = _scripted_fit(mnist, [0.1, 0.2, 0.3], 3, stop)
    assert (stop.best_epoch, stop.stopped_epoch, history.epochs) == (2, None, 3)
    # "acc" metrics are maximised under mode="auto": a falling accuracy stops at once
    stop = EarlyStopping(monitor="score_acc", patience=0)
    _, history, _ = _scripted_fit(mnist, [0.9, 0.8, 0.7], 3, stop, key="score_acc")
    assert (stop.best_epoch, stop.stopped_epoch, history.epochs) == (0, 1, 2)


def test_early_stopping_on_real_validation_loss(mnist):
    """A far too large learning rate makes the validation loss blow up: training stops."""
    x, t, x_test, t_test = mnist
    stop = EarlyStopping(patience=1, restore_best_weights=True)
    snaps = Snapshots()
    model = _model()
    history = fit(
        model,
        get_optimizer("sgd", lr=5.0),
        x[:200],
        t[:200],
        epochs=20,
        batch_size=20,
        validation_data=(x_test, t_test),
        callbacks=[snaps, stop],
        verbose=0,
    )
    val = history.history["val_loss"]
    assert stop.stopped_epoch is not None and history.epochs == stop.stopped_epoch + 1 < 20
    assert stop.best_epoch == int(np.argmin(val)) and val[-1] > val[stop.best_epoch]
    _assert_same_weights(_weights(model), snaps.weights[stop.best_epoch])


def test_early_stopping_errors(mnist):
    x, t, _, _ = mnist
    with pytest.raises(KeyError, match=r"monitored metric 'val_loss' is not logged.*'loss'"):
        fit(_model(), _sgd(), x[:20], t[:20], epochs=1, callbacks=[EarlyStopping()], verbose=0)
    with pytest.raises(ValueError, match="patience must be an int >= 0, got -1"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="patience must be an int >= 0, got 1.5"):
        EarlyStopping(patience=1.5)
    with pytest.raises(ValueError, match="min_delta must be >= 0"):
        EarlyStopping(min_delta=-0.1)
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max', got 'up'"):
        EarlyStopping(mode="up")


# --------------------------------------------------------------------------- ModelCheckpoint


def test_checkpoint_every_epoch(mnist, tmp_path):
    ckpt = ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}.npz")
    model, _, snaps = _scripted_fit(mnist, [0.0] * 3, 3, ckpt)
    names = ["ckpt-01.npz", "ckpt-02.npz", "ckpt-03.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    assert ckpt.saved == [str(tmp_path / n) for n in names]
    for i, name in enumerate(names):
        _assert_same_weights(_weights(load_model(tmp_path / name)), snaps.weights[i])


def test_checkpoint_save_best_only(mnist, tmp_path):
    ckpt = ModelCheckpoint(tmp_path / "e{epoch}.npz", monitor="score", save_best_only=True)
    _, _, snaps = _scripted_fit(mnist, [2.0, 1.0, 1.5, 0.5, 0.7], 5, ckpt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1.npz", "e2.npz", "e4.npz"]
    best = ModelCheckpoint(tmp_path / "best.npz", monitor="score", save_best_only=True)
    _, _, snaps = _scripted_fit(mnist, [2.0, 1.0, 1.5, 0.5, 0.7], 5, best)
    assert best.saved == [str(tmp_path / "best.npz")] * 3
    _assert_same_weights(_weights(load_model(tmp_path / "best.npz")), snaps.weights[3])


def test_checkpoint_errors(mnist, tmp_path):
    x, t, _, _ = mnist
    ckpt = ModelCheckpoint(tmp_path / "m.npz", save_best_only=True)
    with pytest.raises(KeyError, match="monitored metric 'val_loss' is not logged"):
        fit(_model(), _sgd(), x[:20], t[:20], epochs=1, callbacks=[ckpt], verbose=0)
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max'"):
        ModelCheckpoint(tmp_path / "m.npz", mode="best")
    # the model of the checkpoint must be saveable
    model = Sequential([Recorder(), Dense(784, 10, rng=np.random.default_rng(0))])
    with pytest.raises(TypeError, match=r"layer 0 \(Recorder\) is not a built-in fastdl layer"):
        fit(
            model,
            _sgd(),
            x[:20],
            t[:20],
            epochs=1,
            callbacks=[ModelCheckpoint(tmp_path / "r.npz")],
            verbose=0,
        )
