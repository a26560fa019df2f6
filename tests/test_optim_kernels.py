"""The optimizer update kernels (``_optim``): reference against plain loops, backends against
the reference, in-place semantics and the validation of ``fastdl.functional``'s wrappers."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastdl import functional
from fastdl._kernels.ref import _optim as ref

from helpers import assert_close

# kernel -> (number of state arrays, hyperparameters after the arrays)
RULES = {
    "sgd_update": (0, {"lr": 0.1}),
    "momentum_update": (1, {"lr": 0.1, "momentum": 0.9}),
    "nesterov_update": (1, {"lr": 0.1, "momentum": 0.9}),
    "adagrad_update": (1, {"lr": 0.1, "eps": 1e-7}),
    "rmsprop_update": (1, {"lr": 0.01, "rho": 0.99, "eps": 1e-7}),
    "adadelta_update": (2, {"lr": 1.0, "rho": 0.95, "eps": 1e-6}),
    "adam_update": (
        2,
        {
            "step_size": 0.01,
            "beta1": 0.9,
            "beta2": 0.999,
            "sqrt_bc2": math.sqrt(1 - 0.999),
            "eps": 1e-8,
            "decay": 0.999,
        },
    ),
    "nadam_update": (
        2,
        {"coef_g": 0.002, "coef_m": 0.01, "beta1": 0.9, "beta2": 0.999, "bc2": 1e-3, "eps": 1e-8},
    ),
}


def _naive_element(name, p, g, s, h):
    """One element's update, written out with Python floats: returns ``(p, state list)``."""
    if name == "sgd_update":
        return p - h["lr"] * g, s
    if name in ("momentum_update", "nesterov_update"):
        v = h["momentum"] * s[0] - h["lr"] * g
        if name == "momentum_update":
            return p + v, [v]
        return p + h["momentum"] * v - h["lr"] * g, [v]
    if name in ("adagrad_update", "rmsprop_update"):
        rho = h.get("rho", 1.0)
        acc = rho * s[0] + (1 - rho if "rho" in h else 1.0) * g * g
        return p - h["lr"] * g / (math.sqrt(acc) + h["eps"]), [acc]
    if name == "adadelta_update":
        rho, eps = h["rho"], h["eps"]
        sq = rho * s[0] + (1 - rho) * g * g
        d = math.sqrt(s[1] + eps) / math.sqrt(sq + eps) * g
        return p - h["lr"] * d, [sq, rho * s[1] + (1 - rho) * d * d]
    m = h["beta1"] * s[0] + (1 - h["beta1"]) * g
    v = h["beta2"] * s[1] + (1 - h["beta2"]) * g * g
    if name == "adam_update":
        step = h["step_size"] * m / (math.sqrt(v) / h["sqrt_bc2"] + h["eps"])
        return p * h["decay"] - step, [m, v]
    denom = math.sqrt(v / h["bc2"]) + h["eps"]
    return p - (h["coef_g"] * g + h["coef_m"] * m) / denom, [m, v]


def naive_update(name, p, g, states, hyper):
    """Plain-loop oracle in float64: new ``(p, states)``, inputs untouched."""
    p, g = p.astype(np.float64).ravel(), g.astype(np.float64).ravel()
    states = [s.astype(np.float64).ravel() for s in states]
    for i in range(p.size):
        p[i], new = _naive_element(name, p[i], g[i], [s[i] for s in states], hyper)
        for s, value in zip(states, new):
            s[i] = value
    return p, states


def _problem(rng, name, shape, dtype):
    n_state, hyper = RULES[name]
    p = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    states = [rng.uniform(0, 1, shape).astype(dtype) for _ in range(n_state)]
    return p, g, states, hyper


@pytest.mark.parametrize("name", sorted(RULES))
def test_reference_equals_naive_loops(rng, name):
    p, g, states, hyper = _problem(rng, name, (3, 5), np.float64)
    want_p, want_states = naive_update(name, p, g, states, hyper)
    getattr(ref, name)(p, g, *states, **hyper)
    np.testing.assert_allclose(p.ravel(), want_p, rtol=1e-13, atol=1e-15)
    for s, w in zip(states, want_states):
        np.testing.assert_allclose(s.ravel(), w, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", sorted(RULES))
def test_backend_equals_reference_over_steps(backend, dtype, rng, name):
    """Five steps in a row, float32 arithmetic staying float32; ``g`` never modified."""
    p, g, states, hyper = _problem(rng, name, (37, 11), dtype)
    p_ref, states_ref = p.copy(), [s.copy() for s in states]
    for step in range(5):
        g = rng.standard_normal(p.shape).astype(dtype)
        g0 = g.copy()
        assert getattr(functional, name)(p, g, *states, **hyper, backend=backend) is None
        getattr(ref, name)(p_ref, g, *states_ref, **hyper)
        np.testing.assert_array_equal(g, g0, err_msg=f"{name} modified g")
        assert_close(p, p_ref, err_msg=f"{name} p, step {step}")
        for i, (s, r) in enumerate(zip(states, states_ref)):
            assert_close(s, r, err_msg=f"{name} state {i}, step {step}")


@pytest.mark.parametrize("name", sorted(RULES))
def test_float32_close_to_float64_oracle(backend, rng, name):
    p, g, states, hyper = _problem(rng, name, (4, 6), np.float32)
    want_p, want_states = naive_update(name, p, g, states, hyper)
    getattr(functional, name)(p, g, *states, **hyper, backend=backend)
    np.testing.assert_allclose(p.ravel(), want_p, rtol=1e-5, atol=1e-6)
    for s, w in zip(states, want_states):
        np.testing.assert_allclose(s.ravel(), w, rtol=1e-5, atol=1e-6)


def _strided(a):
    """A writeable non-contiguous view holding ``a``'s values (every other column)."""
    wide = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), a.dtype)
    wide[..., ::2] = a
    return wide[..., ::2]


SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(
    name=st.sampled_from(sorted(RULES)),
    shape=st.lists(st.integers(1, 9), min_size=1, max_size=3).map(tuple),
    dtype=st.sampled_from([np.float32, np.float64]),
    layout=st.sampled_from(["strided", "fortran", "read-only g"]),
)
def test_awkward_layouts_update_in_place(backend, name, shape, dtype, layout):
    """Non-contiguous p and state arrays are updated in place (through a copy written back);
    a non-contiguous or read-only g works and is left untouched."""
    rng = np.random.default_rng(list(shape))
    p, g, states, hyper = _problem(rng, name, shape, dtype)
    p_ref, g_ref, states_ref = p.copy(), g.copy(), [s.copy() for s in states]
    if layout == "strided":
        p, g, states = _strided(p), _strided(g), [_strided(s) for s in states]
    elif layout == "fortran":
        p, g = np.asfortranarray(p), np.asfortranarray(g)
        states = [np.asfortranarray(s) for s in states]
    else:
        g.setflags(write=False)
    getattr(functional, name)(p, g, *states, **hyper, backend=backend)
    getattr(ref, name)(p_ref, g_ref, *states_ref, **hyper)
    np.testing.assert_array_equal(g, g_ref)
    assert_close(p, p_ref, err_msg=f"{name} p ({layout})")
    for s, r in zip(states, states_ref):
        assert_close(s, r, err_msg=f"{name} state ({layout})")


def test_empty_parameter_is_a_no_op(backend):
    p = np.zeros((0, 3), np.float32)
    functional.adam_update(p, p.copy(), p.copy(), p.copy(), 0.1, 0.9, 0.99, 0.5, 1e-8)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"p": "read-only"}, ValueError, "p is read-only"),
        ({"v": "read-only"}, ValueError, "v is read-only"),
        ({"p": "float16"}, TypeError, "p must be a float32 or float64 array"),
        ({"g": "float64"}, TypeError, "mixed dtypes: g is float64"),
        ({"v": "float64"}, TypeError, "mixed dtypes: v is float64"),
        ({"g": "shape"}, ValueError, r"g must have shape \(4, 3\)"),
        ({"m": "shape"}, ValueError, r"m must have p's shape \(4, 3\), got \(3, 4\)"),
        ({"m": "list"}, TypeError, "m must be an ndarray updated in place, got list"),
        ({"eps": 0.0}, ValueError, "eps must be a finite number > 0, got 0.0"),
        ({"beta1": float("nan")}, ValueError, "beta1 must be a finite number"),
        ({"step_size": "0.1"}, TypeError, "step_size must be a real number"),
        ({"decay": True}, TypeError, "decay must be a real number"),
    ],
)
def test_bad_input_raises_before_any_update(change, error, match):
    args = {k: np.ones((4, 3), np.float32) for k in ("p", "g", "m", "v")}
    args.update(RULES["adam_update"][1])
    for key, how in change.items():
        a = args[key]
        if how == "read-only":
            a.setflags(write=False)
        elif how in ("float16", "float64"):
            args[key] = a.astype(how)
        elif how == "shape":
            args[key] = np.ones((3, 4), np.float32)
        elif how == "list":
            args[key] = a.tolist()
        else:
            args[key] = how
    before = {k: a.copy() for k, a in args.items() if isinstance(a, np.ndarray)}
    with pytest.raises(error, match=match):
        functional.adam_update(**args)
    for k, a in before.items():
        np.testing.assert_array_equal(args[k], a, err_msg=f"{k} changed by a refused call")
