"""Tests of fastdl.gradcheck: correct layers pass; broken ones are caught and located."""

import numpy as np
import pytest
from textbook_style import Relu  # the textbook's: modifies dout in place

from fastdl.gradcheck import GradcheckResult, gradcheck
from fastdl.testing import assert_gradcheck

# ---------------------------------------------------------------------------------------------
# Layers in the textbook style, with switchable bugs
# ---------------------------------------------------------------------------------------------


class Affine:
    """y = x W + b with ``params``/``grads`` dicts; x (N, D), W (D, M), b (M,), y (N, M)."""

    def __init__(self, W, b, bug=None):
        self.params = {"W": W, "b": b}
        self.grads = {}
        self.bug = bug

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        W = self.params["W"]
        dW = self.x.T @ dout  # (D, M)
        if self.bug == "transpose":
            dW = dout.T @ self.x  # (M, D): the classic mistake
        elif self.bug == "double":
            dW = 2 * dW
        elif self.bug == "one_element":
            dW[37, 42] += 1.0
        self.grads["W"] = dW
        self.grads["b"] = dout.sum(axis=1 if self.bug == "bias_axis" else 0)
        dx = dout @ W.T  # (N, D)
        return -dx if self.bug == "sign" else dx


class AttrAffine:
    """Textbook chapter-5 Affine: ``self.W, self.b`` and ``self.dW, self.db``."""

    def __init__(self, W, b, forget_db=False):
        self.W, self.b = W, b
        self.dW = self.db = None
        self.forget_db = forget_db

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout  # (D, M)
        if not self.forget_db:
            self.db = dout.sum(axis=0)
        return dout @ self.W.T


class LoopRelu(Relu):
    """Relu whose element loop stops one short: the last element's gradient is never written."""

    def backward(self, dout):
        flat_dout = dout.reshape(-1)  # (N * D,)
        flat_mask = self.mask.reshape(-1)  # (N * D,)
        dx = np.zeros(flat_dout.size)
        for i in range(flat_dout.size - 1):  # the bug: range(size - 1)
            dx[i] = 0.0 if flat_mask[i] else flat_dout[i]
        return dx.reshape(dout.shape)  # (N, D)


class Sigmoid:
    def __init__(self, wrong_derivative=False):
        self.wrong = wrong_derivative

    def forward(self, x):
        self.out = 1.0 / (1.0 + np.exp(-x))
        return self.out

    def backward(self, dout):
        if self.wrong:
            return dout * self.out  # forgot the (1 - y)
        return dout * self.out * (1.0 - self.out)


class MeanSquaredLoss:
    """L = 0.5 / N * sum((x - t)**2); x, t (N, D); a scalar output."""

    def __init__(self, forget_mean=False):
        self.forget_mean = forget_mean

    def forward(self, x, t):
        self.diff = x - t
        return 0.5 * np.sum(self.diff**2) / x.shape[0]

    def backward(self, dout=1):
        n = 1 if self.forget_mean else self.diff.shape[0]
        return dout * self.diff / n


class Conv:
    """Naive 2-D convolution, stride 1, no padding; x (N, C, H, W), W (F, C, KH, KW), b (F,)."""

    def __init__(self, W, b):
        self.params = {"W": W, "b": b}
        self.grads = {}

    def forward(self, x):
        self.x = x
        W, b = self.params["W"], self.params["b"]
        n, _, h, w = x.shape
        f, _, kh, kw = W.shape
        out = np.zeros((n, f, h - kh + 1, w - kw + 1))
        for i in range(out.shape[2]):
            for j in range(out.shape[3]):
                patch = x[:, :, i : i + kh, j : j + kw]  # (N, C, KH, KW)
                out[:, :, i, j] = np.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3])) + b
        return out

    def backward(self, dout):
        x, W = self.x, self.params["W"]
        kh, kw = W.shape[2:]
        dx, dW = np.zeros_like(x), np.zeros_like(W)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                g = dout[:, :, i, j]  # (N, F)
                dW += np.tensordot(g, x[:, :, i : i + kh, j : j + kw], axes=([0], [0]))
                dx[:, :, i : i + kh, j : j + kw] += np.tensordot(g, W, axes=([1], [0]))
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dx


class BatchCenter:
    """y = gamma * (x - mean(x, axis=0)), tracking a running mean in ``buffers`` (in place) and
    in ``self.running_mean`` (rebound, textbook style); x, y (N, D), gamma (D,)."""

    def __init__(self, gamma):
        self.params, self.grads = {"gamma": gamma}, {}
        self.buffers = {"mean": np.zeros_like(gamma)}
        self.running_mean = np.zeros_like(gamma)

    def forward(self, x):
        mean = x.mean(axis=0)
        self.buffers["mean"][...] = 0.9 * self.buffers["mean"] + 0.1 * mean
        self.running_mean = 0.9 * self.running_mean + 0.1 * mean
        self.xc = x - mean
        return self.params["gamma"] * self.xc

    def backward(self, dout):
        self.grads["gamma"] = np.sum(dout * self.xc, axis=0)
        dxc = dout * self.params["gamma"]
        return dxc - dxc.mean(axis=0)


class Dropout:
    """Textbook dropout; with ``seed`` the mask is redrawn from that seed on every call."""

    def __init__(self, seed=None):
        self.seed, self.rng = seed, np.random.default_rng(seed)

    def forward(self, x, train=True):
        if not train:
            return x * 0.5
        if self.seed is not None:
            self.rng = np.random.default_rng(self.seed)
        self.mask = self.rng.random(x.shape) > 0.5
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class StaleReference(Affine):
    """Keeps its own ``self.W`` besides ``params['W']`` and reads only the former; with
    ``copy`` that is a stale copy (a bug), otherwise the same array (correct)."""

    def __init__(self, W, b, copy=False):
        super().__init__(W, b)
        self.W = W.copy() if copy else W

    def forward(self, x):
        self.x = x
        return x @ self.W + self.params["b"]


class LocalGrad(Affine):
    """Computes dW into a local variable; ``grads['W']`` keeps its initial zeros."""

    def __init__(self, W, b):
        super().__init__(W, b)
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}

    def backward(self, dout):
        dW = self.x.T @ dout  # (D, M), never stored: the bug
        assert dW.shape == self.params["W"].shape
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class InPlaceGrads(Affine):
    """Writes its gradients into the existing ``grads`` arrays."""

    def __init__(self, W, b):
        super().__init__(W, b)
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}

    def backward(self, dout):
        self.grads["W"][...] = self.x.T @ dout
        self.grads["b"][...] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class InPlaceScale:
    """y = 3 x, written the in-place way: forward scales its input, backward scales dout."""

    def forward(self, x):
        x *= 3.0
        return x

    def backward(self, dout):
        dout *= 3.0
        return dout


class SharedBuffer:
    """y = 2 x through one preallocated buffer that both forward and backward return."""

    def forward(self, x):
        if getattr(self, "buf", None) is None:
            self.buf = np.empty_like(x)
        np.multiply(x, 2.0, out=self.buf)
        return self.buf.copy()

    def backward(self, dout):
        np.multiply(dout, 2.0, out=self.buf)
        return self.buf


class Float32Layer:
    def forward(self, x):
        return (3.0 * x).astype(np.float32)

    def backward(self, dout):
        return (3.0 * dout).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def rng():
    """This file's own seed (overrides conftest's): some asserts name concrete indices."""
    return np.random.default_rng(2024)


def affine(rng, n=5, d=4, m=3, bug=None, dtype=np.float64):
    x = rng.standard_normal((n, d)).astype(dtype)
    W, b = rng.standard_normal((d, m)).astype(dtype), rng.standard_normal(m).astype(dtype)
    return Affine(W, b, bug), x


def away_from_zero(rng, shape):
    """Values with |v| in [0.5, 1.5] and random signs: no Relu kink within eps."""
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def worst_index(analytic, true, rtol=1e-5, atol=1e-7):
    """Index of the element that violates ``|a - n| <= atol + rtol * |n|`` the most."""
    excess = np.abs(analytic - true) / (atol + rtol * np.abs(true))
    return tuple(int(i) for i in np.unravel_index(np.argmax(excess), excess.shape))


# ---------------------------------------------------------------------------------------------
# Correct layers pass, in full and in random mode
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["full", "random", "auto"])
def test_correct_layers_pass(rng, mode):
    layer, x = affine(rng)
    conv = Conv(rng.standard_normal((2, 2, 3, 3)), rng.standard_normal(2))
    cases = [
        (layer, x, {}),
        (Relu(), away_from_zero(rng, (3, 4)), {}),
        (Sigmoid(), rng.standard_normal((3, 4)), {}),
        (conv, rng.standard_normal((2, 2, 5, 5)), {}),
        (BatchCenter(rng.standard_normal(3)), rng.standard_normal((4, 3)), {}),
        (MeanSquaredLoss(), rng.standard_normal((6, 2)), {"t": rng.standard_normal((6, 2))}),
    ]
    for obj, inp, fkw in cases:
        result = gradcheck(obj, inp, mode=mode, forward_kwargs=fkw)
        assert result.passed, result.report()
        assert bool(result) and result.failed == []
        expected = {"x", *getattr(obj, "params", {})}
        assert set(result.tensors) == expected
        modes = {t.mode for t in result.tensors.values()}
        assert modes == ({"full"} if mode != "random" else {"random"})


def test_large_tensor_random_mode_passes(rng):
    layer, x = affine(rng, n=5, d=100, m=100)
    result = gradcheck(layer, x)
    assert result.passed, result.report()
    assert result.tensors["W"].mode == "random"
    assert result.tensors["W"].n_checked == 10 + 20  # directions + sampled elements
    assert result.tensors["b"].mode == "full"


# ---------------------------------------------------------------------------------------------
# Broken layers are caught, located and explained
# ---------------------------------------------------------------------------------------------


def test_transposed_weight_gradient_is_located(rng):
    layer, x = affine(rng, d=4, m=4, bug="transpose")  # square W, so the shapes agree
    G = rng.standard_normal((5, 4))
    result = gradcheck(layer, x, dout=G)
    assert not result.passed
    assert result.failed == ["W"]
    w = result.tensors["W"]
    assert "transposed" in w.hint
    assert w.worst[0].index == worst_index((G.T @ x), x.T @ G)
    assert w.worst[0].numeric == pytest.approx((x.T @ G)[w.worst[0].index], rel=1e-6)
    assert w.worst[0].analytic == pytest.approx((G.T @ x)[w.worst[0].index], rel=1e-12)


def test_transposed_weight_gradient_of_wrong_shape_raises(rng):
    layer, x = affine(rng, d=4, m=3, bug="transpose")
    pattern = r"layer.grads\['W'\] has shape \(3, 4\) .* \(4, 3\) \(looks transposed\)"
    with pytest.raises(ValueError, match=pattern):
        gradcheck(layer, x)


def test_factor_two(rng):
    layer, x = affine(rng, bug="double")
    result = gradcheck(layer, x)
    assert result.failed == ["W"]
    assert "factor 2" in result.tensors["W"].hint
    w = result.tensors["W"]
    assert w.n_failed == w.n_checked == 12
    assert w.worst[0].analytic == pytest.approx(2 * w.worst[0].numeric, rel=1e-6)
    assert w.max_rel_err == pytest.approx(0.5, rel=1e-6)


def test_sign_flip_on_dx(rng):
    layer, x = affine(rng, bug="sign")
    result = gradcheck(layer, x)
    assert result.failed == ["x"]
    assert "sign flip" in result.tensors["x"].hint
    e = result.tensors["x"].worst[0]
    assert e.analytic == pytest.approx(-e.numeric, rel=1e-6)


def test_missing_one_over_n(rng):
    x, t = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    result = gradcheck(MeanSquaredLoss(forget_mean=True), x, forward_kwargs={"t": t})
    assert result.failed == ["x"]
    hint = result.tensors["x"].hint
    assert "6 x numeric" in hint and "1/N" in hint
    assert gradcheck(MeanSquaredLoss(), x, forward_kwargs={"t": t}).passed


def test_bias_summed_over_wrong_axis(rng):
    layer, x = affine(rng, n=4, d=3, m=4, bug="bias_axis")  # N == M: shapes happen to agree
    G = rng.standard_normal((4, 4))
    result = gradcheck(layer, x, dout=G)
    assert result.failed == ["b"]
    b = result.tensors["b"]
    assert b.worst[0].index == worst_index(G.sum(axis=1), G.sum(axis=0))
    assert b.worst[0].analytic == pytest.approx(G.sum(axis=1)[b.worst[0].index])

    layer, x = affine(rng, n=5, d=3, m=4, bug="bias_axis")
    with pytest.raises(ValueError, match=r"layer.grads\['b'\] has shape \(5,\) but "):
        gradcheck(layer, x)


def test_relu_off_by_one_points_at_the_element(rng):
    x = away_from_zero(rng, (3, 4))
    x[-1, -1] = 0.8  # positive, so its gradient is dout, which the loop never writes
    result = gradcheck(LoopRelu(), x)
    t = result.tensors["x"]
    assert not result.passed and t.n_failed == 1
    assert t.worst[0].index == (2, 3)
    assert t.worst[0].analytic == 0.0 and abs(t.worst[0].numeric) > 0.01
    assert "only 1 of 12 elements is wrong" in t.hint and "(2, 3)" in t.hint


def test_sigmoid_wrong_derivative(rng):
    x = rng.standard_normal((3, 5))
    G = rng.standard_normal((3, 5))
    result = gradcheck(Sigmoid(wrong_derivative=True), x, dout=G)
    assert result.failed == ["x"]
    y = 1 / (1 + np.exp(-x))
    t = result.tensors["x"]
    assert t.n_failed == 15
    assert t.worst[0].index == worst_index(G * y, G * y * (1 - y))
    assert t.worst[0].numeric == pytest.approx((G * y * (1 - y))[t.worst[0].index], rel=1e-6)


def test_random_mode_catches_one_wrong_element_in_a_large_tensor(rng):
    layer, x = affine(rng, n=5, d=100, m=100, bug="one_element")
    result = gradcheck(layer, x)  # auto: W (10,000 elements) is checked in random mode
    w = result.tensors["W"]
    assert result.failed == ["W"] and w.mode == "random"
    assert len(w.worst_directions) == 5 and w.n_failed >= 5
    # the 20 sampled elements miss (37, 42) with this seed; bisection over blocks finds it
    assert 37 * 100 + 42 not in [e.index[0] * 100 + e.index[1] for e in w.worst[1:]]
    assert w.located == 1 and w.n_failed_elements == 1
    assert w.worst[0].index == (37, 42)
    assert w.worst[0].analytic - w.worst[0].numeric == pytest.approx(1.0, rel=1e-6)
    assert "1 wrong element(s) located by bisection" in result.report()
    full = gradcheck(layer, x, mode="full", check_determinism=False)
    assert full.tensors["W"].n_failed == 1
    assert full.tensors["W"].worst[0].index == (37, 42)
    assert full.tensors["W"].worst[0].analytic - full.tensors["W"].worst[0].numeric == (
        pytest.approx(1.0, rel=1e-6)
    )


def test_random_mode_factor_two_hint_on_large_tensor(rng):
    layer, x = affine(rng, n=5, d=100, m=100, bug="double")
    w = gradcheck(layer, x).tensors["W"]
    assert not w.passed and w.n_failed == w.n_checked
    assert "factor 2" in w.hint
    assert w.worst[0].analytic == pytest.approx(2 * w.worst[0].numeric, rel=1e-6)


def test_gradient_never_written(rng):
    x = rng.standard_normal((5, 4))
    result = gradcheck(LocalGrad(rng.standard_normal((4, 3)), rng.standard_normal(3)), x)
    assert result.failed == ["W"]
    assert "all zeros" in result.tensors["W"].hint


def test_forward_reading_a_stale_copy(rng):
    layer = StaleReference(rng.standard_normal((4, 3)), rng.standard_normal(3), copy=True)
    result = gradcheck(layer, rng.standard_normal((5, 4)))
    assert result.failed == ["W"]
    assert "numeric gradient is exactly zero" in result.tensors["W"].hint


def test_forward_reading_its_own_alias_of_a_parameter_passes(rng):
    W = rng.standard_normal((4, 3))
    layer = StaleReference(W, rng.standard_normal(3))  # self.W is params["W"]: correct code
    result = gradcheck(layer, rng.standard_normal((5, 4)))
    assert result.passed, result.report()
    assert layer.W is W and layer.params["W"] is W


# ---------------------------------------------------------------------------------------------
# The user's arrays are never changed
# ---------------------------------------------------------------------------------------------


def test_no_mutation_float32(rng):
    layer, x = affine(rng, dtype=np.float32)
    W, b = layer.params["W"], layer.params["b"]
    params_dict, grads_dict = layer.params, layer.grads
    saved = x.copy(), W.copy(), b.copy()
    result = gradcheck(layer, x)
    assert result.passed, result.report()
    assert result.notes == []  # float32 params were replaced by float64 copies
    assert layer.params is params_dict and layer.grads is grads_dict
    assert {k: v.dtype for k, v in grads_dict.items()} == {"W": np.float32, "b": np.float32}
    assert layer.params["W"] is W and layer.params["b"] is b
    for before, after in zip(saved, (x, W, b)):
        assert after.dtype == np.float32
        np.testing.assert_array_equal(after, before)


def test_layer_state_is_protected_and_restored(rng):
    layer = BatchCenter(rng.standard_normal(3))
    buffers, buffer_mean, running_mean = layer.buffers, layer.buffers["mean"], layer.running_mean
    result = gradcheck(layer, rng.standard_normal((4, 3)), state_names=("running_mean",))
    assert result.passed, result.report()
    assert layer.buffers is buffers and layer.buffers["mean"] is buffer_mean
    assert layer.running_mean is running_mean
    assert not buffer_mean.any() and not running_mean.any()
    gradcheck(layer, rng.standard_normal((4, 3)), buffers_attr=None)  # no options needed
    assert layer.buffers["mean"] is buffer_mean and layer.running_mean is running_mean
    assert not buffer_mean.any() and not running_mean.any()
    assert not hasattr(layer, "xc")  # the cache forward created is removed again


def test_no_mutation_of_dout_with_a_layer_that_modifies_dout(rng):
    x = away_from_zero(rng, (4, 5))
    dout = rng.standard_normal((4, 5))
    x_saved, dout_saved = x.copy(), dout.copy()
    assert gradcheck(Relu(), x, dout=dout).passed
    np.testing.assert_array_equal(dout, dout_saved)
    np.testing.assert_array_equal(x, x_saved)


def test_layers_writing_into_their_arguments_and_buffers(rng):
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    x_saved, dout_saved = x.copy(), dout.copy()
    for layer in (InPlaceScale(), SharedBuffer()):
        result = gradcheck(layer, x, dout=dout)
        assert result.passed, result.report()
    np.testing.assert_array_equal(x, x_saved)
    np.testing.assert_array_equal(dout, dout_saved)


def test_grads_written_in_place_do_not_reach_the_users_arrays(rng):
    layer = InPlaceGrads(rng.standard_normal((4, 3)), rng.standard_normal(3))
    gW = layer.grads["W"]
    x, G = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    assert gradcheck(layer, x, dout=G).passed
    assert not gW.any()  # the user's array is not written ...
    np.testing.assert_allclose(layer.grads["W"], x.T @ G)  # ... the layer holds its gradient


def test_restores_on_exception(rng):
    layer, x = affine(rng)
    W = layer.params["W"]

    def broken_backward(dout):
        raise RuntimeError("boom")

    layer.backward = broken_backward
    with pytest.raises(RuntimeError, match="boom"):
        gradcheck(layer, x)
    assert layer.params["W"] is W and layer.grads == {}


# ---------------------------------------------------------------------------------------------
# Attribute-style layers, function pairs, errors
# ---------------------------------------------------------------------------------------------


def test_attribute_style_layer(rng):
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    layer = AttrAffine(W, b)
    result = gradcheck(layer, rng.standard_normal((5, 4)), param_names={"W": "dW", "b": "db"})
    assert result.passed, result.report()
    assert set(result.tensors) == {"x", "W", "b"}
    assert result.tensors["W"].source == "layer.dW"
    assert layer.W is W and layer.b is b
    x, G = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    assert gradcheck(layer, x, dout=G, param_names={"W": "dW", "b": "db"})
    # the gradients are left as the layer's backward computed them at the user's values
    np.testing.assert_allclose(layer.dW, x.T @ G)
    np.testing.assert_allclose(layer.db, G.sum(axis=0))
    assert not hasattr(layer, "x")  # the cache forward created is removed again


def test_attribute_style_layer_is_detected_without_options(rng):
    layer = AttrAffine(rng.standard_normal((4, 3)), rng.standard_normal(3))
    result = gradcheck(layer, rng.standard_normal((5, 4)))
    assert set(result.tensors) == {"x", "W", "b"} and result.passed, result.report()
    assert result.tensors["b"].source == "layer.db"
    assert set(gradcheck(layer, rng.standard_normal((5, 4)), param_names={}).tensors) == {"x"}


def test_missing_gradient_raises(rng):
    layer = AttrAffine(rng.standard_normal((4, 3)), rng.standard_normal(3), forget_db=True)
    del layer.db
    with pytest.raises(ValueError, match="layer.db does not exist after backward"):
        gradcheck(layer, rng.standard_normal((5, 4)), param_names={"W": "dW", "b": "db"})
    assert not hasattr(layer, "db") and layer.dW is None
    dict_layer, x = affine(rng)
    dict_layer.backward = lambda dout: dout @ dict_layer.params["W"].T
    with pytest.raises(ValueError, match=r"layer.grads\['W'\] does not exist"):
        gradcheck(dict_layer, x)


def test_function_pair(rng):
    x = rng.standard_normal((3, 4))
    result = gradcheck(np.tanh, x, backward=lambda dout, x: dout * (1 - np.tanh(x) ** 2))
    assert result.passed and result.target == "tanh"
    bad = gradcheck(np.tanh, x, backward=lambda dout, x: dout * (1 - np.tanh(x)))
    assert bad.failed == ["x"]
    assert bad.tensors["x"].source == "backward(dout, x)"


def test_coupled_functions(rng):
    """Non-separable functions: every perturbation must be undone before the next one."""
    x = 0.05 * rng.standard_normal((3, 6))

    def softmax(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def softmax_backward(dout, x):
        y = softmax(x)
        return y * (dout - np.sum(dout * y, axis=1, keepdims=True))

    def exp_sum(x):
        return np.exp(10.0 * x.sum(axis=1, keepdims=True))  # (N, 1)

    def exp_sum_backward(dout, x):
        return 10.0 * exp_sum(x) * dout * np.ones_like(x)  # (N, D)

    for mode in ("full", "random"):
        assert gradcheck(softmax, x, backward=softmax_backward, mode=mode).passed
        assert gradcheck(exp_sum, x, backward=exp_sum_backward, mode=mode).passed


def test_tolerance_is_atol_plus_rtol_times_numeric(rng):
    x = rng.standard_normal(20)

    def df(delta):
        return lambda dout, x: 2.0 * dout * (1.0 + delta)

    assert gradcheck(lambda x: 2.0 * x, x, backward=df(5e-6)).passed
    too_far = gradcheck(lambda x: 2.0 * x, x, backward=df(2e-5))
    assert too_far.tensors["x"].n_failed == 20
    assert too_far.tensors["x"].max_rel_err == pytest.approx(2e-5, rel=1e-3)
    assert gradcheck(lambda x: 2.0 * x, x, backward=df(2e-5), rtol=3e-5).passed
    assert gradcheck(lambda x: 2.0 * x, x, backward=df(2e-5), rtol=0, atol=1e-3).passed


def test_hints_only_when_the_pattern_is_clear(rng):
    def doubled(dout, x):
        return 6.0 * dout

    assert (
        "factor 2"
        in gradcheck(lambda x: 3.0 * x, rng.standard_normal(5), backward=doubled).tensors["x"].hint
    )
    # two values fit any ratio: no hint
    two = gradcheck(lambda x: 3.0 * x, rng.standard_normal(2), backward=doubled).tensors["x"]
    assert not two.passed and two.hint is None
    # a wrong derivative that is no simple pattern: no hint
    sig = gradcheck(Sigmoid(wrong_derivative=True), rng.standard_normal((3, 5))).tensors["x"]
    assert not sig.passed and sig.hint is None


def test_function_pair_gradient_with_respect_to_a_weight(rng):
    x0, W0 = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    assert gradcheck(lambda W: x0 @ W, W0, backward=lambda dout, W: x0.T @ dout).passed
    assert not gradcheck(lambda W: x0 @ W, W0, backward=lambda dout, W: x0.T @ dout / 5).passed


def test_wrong_dx_shape_and_bad_arguments(rng):
    x = rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match=r"dx of shape \(4, 3\); expected x.shape \(3, 4\)"):
        gradcheck(np.tanh, x, backward=lambda dout, x: dout.T)
    with pytest.raises(TypeError, match="returned None"):
        gradcheck(np.tanh, x, backward=lambda dout, x: None)
    with pytest.raises(TypeError, match="forward\\(x\\) and backward\\(dout\\)"):
        gradcheck((np.tanh, np.tanh), x)
    with pytest.raises(ValueError, match="dout has shape"):
        gradcheck(np.tanh, x, backward=lambda dout, x: dout, dout=np.ones(3))
    with pytest.raises(ValueError, match="mode must be"):
        gradcheck(np.tanh, x, backward=lambda dout, x: dout, mode="fast")


def test_non_deterministic_forward_is_refused(rng):
    x = rng.standard_normal((4, 5))
    with pytest.raises(ValueError, match="not deterministic"):
        gradcheck(Dropout(), x)
    result = gradcheck(Dropout(seed=3), x, forward_kwargs={"train": True})
    assert result.passed, result.report()


def test_float32_layer_is_reported_up_front_with_fitting_tolerances(rng):
    x = rng.standard_normal((3, 4))
    result = gradcheck(Float32Layer(), x)
    assert "computes in float32" in result.precision
    assert result.report().splitlines()[1].startswith("PRECISION: the object computes in float32")
    tolerances = result.precision.split("float32: ")[-1]  # "eps=0.001, rtol=1e-2, atol=..."
    kwargs = {k: float(v) for k, v in (kv.split("=") for kv in tolerances.split(", "))}
    assert set(kwargs) == {"eps", "rtol", "atol"}
    assert gradcheck(Float32Layer(), x, **kwargs).passed
    assert gradcheck(Sigmoid(), x).precision is None  # a float64 layer gets no such note


# ---------------------------------------------------------------------------------------------
# Report and assert helper
# ---------------------------------------------------------------------------------------------


def test_report_lists_failing_tensor_worst_elements_and_hint(rng):
    layer, x = affine(rng, bug="double")
    result = gradcheck(layer, x)
    assert isinstance(result, GradcheckResult) and not result
    assert repr(result) == "GradcheckResult(passed=False, failed=['W'])"
    text = str(result)
    assert text == result.report()
    assert text.startswith("gradcheck FAILED for Affine")
    assert "hint: analytic ~ 2 x numeric" in text
    assert f"  {result.tensors['W'].worst[0].index}  " in text
    lines = text.splitlines()
    assert any(line.split()[:1] == ["W"] and "FAIL" in line for line in lines)
    assert any(line.split()[:1] == ["b"] and line.split()[-2] == "ok" for line in lines)


def test_assert_gradcheck(rng):
    layer, x = affine(rng)
    assert assert_gradcheck(layer, x).passed
    layer.bug = "double"
    with pytest.raises(AssertionError) as info:
        assert_gradcheck(layer, x, mode="full")
    assert str(info.value) == str(gradcheck(layer, x, mode="full"))
    assert "W FAILED: 12 of 12 checks exceed the tolerance" in str(info.value)
