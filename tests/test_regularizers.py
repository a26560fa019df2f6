"""Tests of fastdl.regularizers: hand values, weights-only selection, predicate, errors."""

import numpy as np
import pytest

from fastdl.regularizers import L1, L2, get_regularizer, is_weight

from helpers import numerical_grad


def _model(dtype=np.float64):
    """Params/grads shaped like a Sequential of Dense, BatchNorm, Dense (grads all zero)."""
    params = {
        "0.W": np.array([[1.0, -2.0], [0.0, 4.0]], dtype),
        "0.b": np.array([10.0, -10.0], dtype),
        "1.gamma": np.array([3.0, 3.0], dtype),
        "1.beta": np.array([1.0, 1.0], dtype),
        "2.W": np.array([[-1.0], [2.0]], dtype),
        "2.b": np.array([5.0], dtype),
    }
    return params, {k: np.zeros_like(v) for k, v in params.items()}


def test_l2_penalty_and_grad_by_hand():
    params, grads = _model()
    reg = L2(0.1)
    # 0.5 * 0.1 * (1 + 4 + 0 + 16 + 1 + 4)
    assert reg.penalty(params) == pytest.approx(0.05 * 26)
    reg.add_grad(params, grads)
    np.testing.assert_allclose(grads["0.W"], [[0.1, -0.2], [0.0, 0.4]])
    np.testing.assert_allclose(grads["2.W"], [[-0.1], [0.2]])
    for k in ("0.b", "1.gamma", "1.beta", "2.b"):
        np.testing.assert_array_equal(grads[k], 0)


def test_l1_penalty_and_grad_by_hand():
    params, grads = _model()
    reg = L1(0.1)
    assert reg.penalty(params) == pytest.approx(0.1 * 10)  # 0.1 * (1 + 2 + 0 + 4 + 1 + 2)
    reg.add_grad(params, grads)
    np.testing.assert_allclose(grads["0.W"], [[0.1, -0.1], [0.0, 0.1]])  # 0 at W == 0
    np.testing.assert_allclose(grads["2.W"], [[-0.1], [0.1]])
    for k in ("0.b", "1.gamma", "1.beta", "2.b"):
        np.testing.assert_array_equal(grads[k], 0)


def test_add_grad_adds_in_place_keeping_dtype():
    params, grads = _model(np.float32)
    grads["0.W"][...] = 1.0
    target = grads["0.W"]
    L2(0.5).add_grad(params, grads)
    assert grads["0.W"] is target and target.dtype == np.float32
    np.testing.assert_allclose(target, 1.0 + 0.5 * params["0.W"])
    assert isinstance(L2(0.5).penalty(params), float)


@pytest.mark.parametrize("cls", [L2, L1])
def test_grad_matches_numerical_derivative_of_penalty(cls, rng):
    params = {"W": rng.standard_normal((3, 4)) + 0.5, "b": rng.standard_normal(4)}
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    reg = cls(0.3)
    reg.add_grad(params, grads)
    numeric = numerical_grad(lambda: reg.penalty(params), params["W"])
    np.testing.assert_allclose(grads["W"], numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "name, decayed",
    [
        ("W", True),
        ("0.W", True),
        ("conv1.W", True),
        ("W1", True),
        ("W12", True),
        ("b", False),
        ("b1", False),
        ("gamma1", False),
        ("1.beta", False),
        ("Wx", False),
        ("running_W", False),
        ("0.W.b", False),
    ],
)
def test_default_selection(name, decayed):
    assert is_weight(name) is decayed


def test_textbook_parameter_names():
    params = {k: np.ones(2) for k in ("W1", "b1", "gamma1", "beta1", "W2", "b2")}
    assert L2(1.0).names(params) == ["W1", "W2"]
    assert L2(1.0).penalty(params) == pytest.approx(2.0)


def test_predicate_override():
    params, grads = _model()
    reg = L2(1.0, applies_to=lambda name: name.endswith("gamma"))
    assert reg.names(params) == ["1.gamma"]
    assert reg.penalty(params) == pytest.approx(0.5 * 18)
    reg.add_grad(params, grads)
    np.testing.assert_array_equal(grads["1.gamma"], [3.0, 3.0])
    np.testing.assert_array_equal(grads["0.W"], 0)
    assert "applies_to=" in repr(reg) and repr(L1(0.5)) == "L1(lam=0.5)"


def test_zero_lambda_changes_nothing():
    params, grads = _model()
    L2(0).add_grad(params, grads)
    assert L2(0).penalty(params) == 0.0
    assert all(not g.any() for g in grads.values())


def test_with_real_layers(rng):
    layers = pytest.importorskip("fastdl.layers")
    model = layers.Sequential(
        [
            layers.Conv2D(1, 2, 3, rng=rng),
            layers.BatchNorm(2),
            layers.Flatten(),
            layers.Dense(8, 3, rng=rng),
        ]
    )
    assert L2(1e-4).names(model.params) == ["0.W", "3.W"]


def test_get_regularizer():
    reg = get_regularizer("L2", 0.01)
    assert isinstance(reg, L2) and reg.lam == 0.01
    assert isinstance(get_regularizer("l1", 0.1, applies_to=is_weight), L1)
    assert get_regularizer(None) is None
    assert get_regularizer(reg) is reg
    with pytest.raises(ValueError, match="unknown regularizer 'l3'.*'l1', 'l2'"):
        get_regularizer("l3", 0.1)
    with pytest.raises(TypeError, match=r"'l2' needs lam, e.g. get_regularizer\('l2', 1e-4\)"):
        get_regularizer("l2")
    with pytest.raises(TypeError, match="must be 'l2', 'l1' or None, got float"):
        get_regularizer(0.1)


def test_bad_input():
    with pytest.raises(ValueError, match="L2: lam must be finite and >= 0, got -0.1"):
        L2(-0.1)
    with pytest.raises(ValueError, match="L1: lam must be finite and >= 0, got nan"):
        L1(float("nan"))
    with pytest.raises(TypeError, match="L2: lam must be a real number, got str"):
        L2("0.1")
    with pytest.raises(TypeError, match="applies_to must be a callable"):
        L2(0.1, applies_to="W")
    params, grads = _model()
    with pytest.raises(TypeError, match="params must be a dict name -> ndarray, got list"):
        L2(0.1).penalty([params["0.W"]])
    del grads["2.W"]
    with pytest.raises(ValueError, match="params has '2.W' but grads has no entry '2.W'"):
        L2(0.1).add_grad(params, grads)
    grads["2.W"] = np.zeros((1, 2))
    with pytest.raises(ValueError, match=r"grads\['2.W'\] has shape \(1, 2\) but .* \(2, 1\)"):
        L1(0.1).add_grad(params, grads)
    grads["2.W"] = [[0.0], [0.0]]
    with pytest.raises(TypeError, match=r"grads\['2.W'\] must be an ndarray, got list"):
        L1(0.1).add_grad(params, grads)
