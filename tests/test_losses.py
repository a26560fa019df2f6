"""Tests of fastdl.losses: hand-computed values, numerical gradients, extremes, errors, torch."""

import math

import numpy as np
import pytest

from fastdl import losses
from fastdl.losses import (
    Flooding,
    LogSoftmax,
    MSELoss,
    NLLLoss,
    SoftmaxCrossEntropy,
    accuracy,
    get_loss,
    log_softmax,
    softmax,
)

from helpers import numerical_grad

LN2, LN3 = math.log(2.0), math.log(3.0)
# softmax([0, ln 2, ln 3]) = [1, 2, 3] / 6; softmax([0, 0, 0]) = [1, 1, 1] / 3
LOGITS = np.array([[0.0, LN2, LN3], [0.0, 0.0, 0.0]])
PROBS = np.array([[1 / 6, 2 / 6, 3 / 6], [1 / 3, 1 / 3, 1 / 3]])


def _gradcheck(loss, y, t, dout=1.0):
    """Compare ``loss.backward(dout)`` with central differences of ``dout * loss.forward``."""
    y = np.array(y, dtype=np.float64)
    loss.forward(y, t)
    analytic = loss.backward(dout)
    numeric = numerical_grad(lambda: dout * loss.forward(y, t), y)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- softmax, log_softmax


def test_softmax_and_log_softmax_hand_values():
    np.testing.assert_allclose(softmax(LOGITS), PROBS, rtol=1e-14)
    np.testing.assert_allclose(log_softmax(LOGITS), np.log(PROBS), rtol=1e-14)
    np.testing.assert_allclose(softmax(LOGITS.T, axis=0), PROBS.T, rtol=1e-14)
    np.testing.assert_allclose(log_softmax(LOGITS.T, axis=0), np.log(PROBS.T), rtol=1e-14)


def test_softmax_keeps_dtype_and_is_shift_invariant():
    z = LOGITS.astype(np.float32)
    assert softmax(z).dtype == np.float32 and log_softmax(z).dtype == np.float32
    np.testing.assert_allclose(softmax(LOGITS + 1000), PROBS, rtol=1e-12)


@pytest.mark.filterwarnings("error")
def test_log_softmax_extremes_are_finite():
    z = np.array([[1e4, -1e4, 0.0]], np.float32)
    out = log_softmax(z)
    np.testing.assert_array_equal(out, [[0.0, -2e4, -1e4]])
    assert np.isfinite(softmax(z)).all()


# ---------------------------------------------------------------- SoftmaxCrossEntropy


def test_softmax_cross_entropy_labels_hand_values():
    ce = SoftmaxCrossEntropy()
    value = ce.forward(LOGITS, np.array([2, 0]))
    assert isinstance(value, float)
    assert value == pytest.approx((LN2 + LN3) / 2, rel=1e-14)  # (-ln(3/6) - ln(1/3)) / 2
    np.testing.assert_allclose(ce.probs, PROBS, rtol=1e-14)
    expected = (PROBS - np.array([[0, 0, 1], [1, 0, 0]])) / 2
    np.testing.assert_allclose(ce.backward(), expected, rtol=1e-14)
    np.testing.assert_allclose(ce.backward(3.0), 3 * expected, rtol=1e-14)


def test_softmax_cross_entropy_one_hot_equals_labels():
    labels = np.array([2, 0], np.uint8)
    a, b = SoftmaxCrossEntropy(), SoftmaxCrossEntropy()
    assert a.forward(LOGITS, labels) == pytest.approx(b.forward(LOGITS, np.eye(3)[labels]))
    np.testing.assert_allclose(a.backward(), b.backward(), rtol=1e-14)
    int_one_hot = np.eye(3, dtype=np.int64)[labels]
    assert b.forward(LOGITS, int_one_hot) == pytest.approx(a.forward(LOGITS, labels))


def test_softmax_cross_entropy_probability_targets_hand_value():
    t = np.array([[0.5, 0.5, 0.0]])
    expected = -(0.5 * math.log(1 / 6) + 0.5 * math.log(2 / 6))
    assert SoftmaxCrossEntropy().forward(LOGITS[:1], t) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("targets", ["labels", "one_hot", "soft", "unnormalised"])
def test_softmax_cross_entropy_gradient(targets, rng):
    y = rng.standard_normal((4, 5)) * 3
    labels = np.array([0, 4, 2, 2])
    t = {
        "labels": labels,
        "one_hot": np.eye(5)[labels],
        "soft": rng.dirichlet(np.ones(5), size=4),
        "unnormalised": rng.dirichlet(np.ones(5), size=4) * 0.7,  # uses sum(t) in the gradient
    }[targets]
    _gradcheck(SoftmaxCrossEntropy(), y, t, dout=0.5)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, "max"])
def test_softmax_cross_entropy_extreme_logits_finite(dtype, scale):
    big = float(np.finfo(np.float32).max) if scale == "max" else scale
    y = np.array([[big, -big, 0.0], [-big, big, big], [0.0, 0.0, -big]], dtype)
    labels = np.array([1, 0, 2])
    for t in (labels, np.eye(3, dtype=dtype)[labels]):
        ce = SoftmaxCrossEntropy()
        value = ce.forward(y, t)
        grad = ce.backward()
        assert math.isfinite(value) and np.isfinite(grad).all() and np.isfinite(ce.probs).all()
        # row 0: loss 2*big; row 1: ln 2 + 2*big; row 2: ln 2 + big
        assert value == pytest.approx((5 * big + 2 * LN2) / 3, rel=1e-6)
        assert grad.dtype == dtype and ce.probs.dtype == dtype


def test_float32_in_float32_gradient_out():
    y = LOGITS.astype(np.float32)
    for loss, t in [
        (SoftmaxCrossEntropy(), np.array([2, 0])),
        (SoftmaxCrossEntropy(), np.eye(3)[[2, 0]]),  # float64 one-hot still gives float32
        (NLLLoss(), np.array([2, 0])),
        (MSELoss(), np.zeros((2, 3))),
        (Flooding("cross_entropy", 0.1), np.array([2, 0])),
    ]:
        assert isinstance(loss.forward(y, t), float)
        assert loss.backward().dtype == np.float32, loss


# ---------------------------------------------------------------- LogSoftmax + NLLLoss


def test_nll_hand_values():
    logp = np.log(PROBS)
    nll = NLLLoss()
    assert nll.forward(logp, [2, 0]) == pytest.approx((LN2 + LN3) / 2, rel=1e-14)
    np.testing.assert_allclose(nll.backward(), [[0, 0, -0.5], [-0.5, 0, 0]])


def test_log_softmax_then_nll_equals_softmax_cross_entropy(rng):
    y, t = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    layer, nll, ce = LogSoftmax(), NLLLoss(), SoftmaxCrossEntropy()
    assert nll.forward(layer.forward(y), t) == pytest.approx(ce.forward(y, t), rel=1e-14)
    np.testing.assert_allclose(layer.backward(nll.backward()), ce.backward(), atol=1e-15)
    assert layer.params == {} and layer.grads == {} and layer.config() == {}


def test_nll_and_log_softmax_gradients(rng):
    _gradcheck(NLLLoss(), np.log(rng.dirichlet(np.ones(4), size=3)), np.array([3, 0, 1]), 2.0)
    layer, x = LogSoftmax(), rng.standard_normal((3, 4))
    weights = rng.standard_normal((3, 4))
    layer.forward(x)
    analytic = layer.backward(weights)
    numeric = numerical_grad(lambda: float(np.sum(weights * layer.forward(x))), x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- MSELoss


def test_mse_hand_values_mean_over_all_elements():
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = np.array([[1.0, 0.0], [0.0, 0.0]])
    mse = MSELoss()
    assert mse.forward(y, t) == pytest.approx((0 + 4 + 9 + 16) / 4)
    np.testing.assert_allclose(mse.backward(), 2 * (y - t) / 4)
    assert MSELoss().forward(np.array([1.0, 3.0]), np.array([0, 0])) == pytest.approx(5.0)


def test_mse_gradient(rng):
    _gradcheck(MSELoss(), rng.standard_normal((3, 2, 2)), rng.standard_normal((3, 2, 2)), 1.5)


# ---------------------------------------------------------------- Flooding


def test_flooding_above_level_is_the_plain_loss():
    flood, ce = Flooding(SoftmaxCrossEntropy(), b=0.1), SoftmaxCrossEntropy()
    t = np.array([2, 0])
    assert flood.forward(LOGITS, t) == ce.forward(LOGITS, t)
    np.testing.assert_array_equal(flood.backward(), ce.backward())


def test_flooding_below_level_flips_the_gradient():
    flood, ce = Flooding("cross_entropy", b=2.0), SoftmaxCrossEntropy()
    t = np.array([2, 0])
    plain = ce.forward(LOGITS, t)  # (ln 2 + ln 3) / 2 ~ 0.896 < b
    assert flood.forward(LOGITS, t) == pytest.approx(2 * 2.0 - plain)
    np.testing.assert_allclose(flood.backward(0.5), -0.5 * ce.backward())
    _gradcheck(flood, LOGITS + 0.1, t)


def test_flooding_at_level_keeps_the_sign():
    t = np.array([2, 0])
    level = SoftmaxCrossEntropy().forward(LOGITS, t)
    flood = Flooding(SoftmaxCrossEntropy(), b=level)
    assert flood.forward(LOGITS, t) == level
    np.testing.assert_allclose(flood.backward(), (PROBS - np.eye(3)[[2, 0]]) / 2)


def test_flooding_rejects_bad_level_and_loss():
    with pytest.raises(ValueError, match=r"b must be finite and >= 0, got -0\.1"):
        Flooding("mse", -0.1)
    with pytest.raises(TypeError, match="b must be a real number"):
        Flooding("mse", "0.1")
    with pytest.raises(TypeError, match="forward"):
        Flooding(object(), 0.1)


# ---------------------------------------------------------------- accuracy, get_loss


def test_accuracy_labels_and_one_hot():
    y = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert accuracy(y, np.array([1, 0, 0, 0])) == 0.75
    assert accuracy(y, np.eye(2)[[1, 1, 0, 0]]) == 0.5


def test_get_loss_names_and_objects():
    assert isinstance(get_loss("cross_entropy"), SoftmaxCrossEntropy)
    assert isinstance(get_loss("softmax_cross_entropy"), SoftmaxCrossEntropy)
    assert isinstance(get_loss("nll"), NLLLoss) and isinstance(get_loss("mse"), MSELoss)
    assert get_loss("mse") is not get_loss("mse")  # losses hold state: a new one each time
    custom = MSELoss()
    assert get_loss(custom) is custom
    assert losses.SoftmaxWithLoss is SoftmaxCrossEntropy
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*cross_entropy"):
        get_loss("hinge")
    with pytest.raises(TypeError, match="forward"):
        get_loss(3)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "y, t, exc, pattern",
    [
        (np.zeros(3), [0], ValueError, r"y must be 2-D, got shape \(3,\)"),
        (np.zeros((2, 3), np.int64), [0, 1], TypeError, "y must be a float32 or float64.*int64"),
        (np.zeros((0, 3)), np.zeros(0, int), ValueError, "non-empty batch"),
        (
            np.zeros((2, 3)),
            [0, 5],
            ValueError,
            r"label t\[1\] = 5 is not a class index in \[0, 3\)",
        ),
        (np.zeros((2, 3)), [-1, 0], ValueError, r"t\[0\] = -1"),
        (np.zeros((2, 3)), [0.0, 1.0], TypeError, "labels t must be an integer array.*float64"),
        (np.zeros((2, 3)), [0, 1, 2], ValueError, r"shape \(2,\) to match y \(2, 3\), got \(3,\)"),
        (np.zeros((2, 3)), np.eye(2), ValueError, r"y's shape \(2, 3\), got \(2, 2\)"),
        (np.zeros((2, 3)), -np.eye(3)[:2], ValueError, r"must be >= 0, got t\[0, 0\] = -1"),
        (np.zeros((2, 3)), np.zeros((2, 3, 1)), ValueError, r"got shape \(2, 3, 1\)"),
    ],
)
def test_softmax_cross_entropy_bad_input(y, t, exc, pattern):
    with pytest.raises(exc, match="SoftmaxCrossEntropy: .*" + pattern):
        SoftmaxCrossEntropy().forward(y, np.asarray(t))


def test_other_bad_input():
    for loss in (SoftmaxCrossEntropy(), NLLLoss(), MSELoss(), Flooding("mse", 0.0)):
        with pytest.raises(RuntimeError, match="backward called before forward"):
            loss.backward()
    with pytest.raises(ValueError, match=r"NLLLoss: label t\[0\] = 3"):
        NLLLoss().forward(np.zeros((1, 3)), [3])
    with pytest.raises(ValueError, match=r"MSELoss: t must have y's shape \(2,\), got \(3,\)"):
        MSELoss().forward(np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match="MSELoss: targets t must be a real array"):
        MSELoss().forward(np.zeros(2), np.array(["a", "b"]))
    ce = SoftmaxCrossEntropy()
    ce.forward(LOGITS, [0, 1])
    with pytest.raises(TypeError, match="dout must be a real scalar.*ndarray"):
        ce.backward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"accuracy: label t\[0\] = 7"):
        accuracy(LOGITS, [7, 0])
    with pytest.raises(ValueError, match=r"LogSoftmax: dout must have shape \(2, 3\)"):
        layer = LogSoftmax()
        layer.forward(LOGITS)
        layer.backward(np.zeros((3, 2)))


# ---------------------------------------------------------------- PyTorch as an oracle


def test_against_torch(rng):
    torch = pytest.importorskip("torch")
    y, t = rng.standard_normal((8, 5)) * 4, rng.integers(0, 5, 8)
    soft = rng.dirichlet(np.ones(5), size=8)
    for target, torch_target in [(t, torch.from_numpy(t)), (soft, torch.from_numpy(soft))]:
        yt = torch.from_numpy(y.copy()).requires_grad_()
        ref = torch.nn.CrossEntropyLoss()(yt, torch_target)
        ref.backward()
        ce = SoftmaxCrossEntropy()
        assert ce.forward(y, target) == pytest.approx(ref.item(), rel=1e-12)
        np.testing.assert_allclose(ce.backward(), yt.grad.numpy(), rtol=1e-10, atol=1e-15)

    logp = log_softmax(y, axis=1)
    lt = torch.from_numpy(logp.copy()).requires_grad_()
    ref = torch.nn.NLLLoss()(lt, torch.from_numpy(t))
    ref.backward()
    nll = NLLLoss()
    assert nll.forward(logp, t) == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(nll.backward(), lt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(logp, torch.log_softmax(torch.from_numpy(y), 1).numpy(), rtol=1e-12)

    target = rng.standard_normal((8, 5))
    yt = torch.from_numpy(y.copy()).requires_grad_()
    ref = torch.nn.MSELoss()(yt, torch.from_numpy(target))
    ref.backward()
    mse = MSELoss()
    assert mse.forward(y, target) == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(mse.backward(), yt.grad.numpy(), rtol=1e-12)
