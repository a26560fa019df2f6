"""Optimizers and learning-rate schedules.

The expected values of the hand-computed steps are written out from the update formulas with
plain Python floats, independently of ``fastdl.optimizers``.
"""

import io
import math

import numpy as np
import pytest

from fastdl.optimizers import (
    OPTIMIZERS,
    SGD,
    Adadelta,
    AdaGrad,
    Adam,
    AdamW,
    Momentum,
    Nadam,
    Nesterov,
    Optimizer,
    RMSprop,
    get_optimizer,
)
from fastdl.schedules import Constant, Cosine, ExponentialDecay, InverseSqrtWarmup, StepDecay

W0 = [1.0, -2.0]
G1 = [0.5, -1.0]
G2 = [-0.25, 2.0]


def two_steps(opt, key="0.W"):
    """Parameter after each of two steps from ``W0`` with gradients ``G1`` then ``G2``."""
    params = {key: np.array(W0)}
    out = []
    for g in (G1, G2):
        opt.step(params, {key: np.array(g)})
        out.append(params[key].tolist())
    return out


def per_element(ref, **hyper):
    """Run the scalar reference ``ref(w, [g1, g2], **hyper)`` on each element; -> [w1, w2]."""
    cols = [ref(w, [g1, g2], **hyper) for w, g1, g2 in zip(W0, G1, G2)]
    return [list(step) for step in zip(*cols)]


# --- scalar references, one element at a time ------------------------------------------------


def ref_adagrad(w, gs, lr, eps):
    h, out = 0.0, []
    for g in gs:
        h += g * g
        w -= lr * g / (math.sqrt(h) + eps)
        out.append(w)
    return out


def ref_rmsprop(w, gs, lr, rho, eps):
    h, out = 0.0, []
    for g in gs:
        h = rho * h + (1 - rho) * g * g
        w -= lr * g / (math.sqrt(h) + eps)
        out.append(w)
    return out


def ref_adadelta(w, gs, lr, rho, eps):
    s = u = 0.0
    out = []
    for g in gs:
        s = rho * s + (1 - rho) * g * g
        d = math.sqrt(u + eps) / math.sqrt(s + eps) * g
        u = rho * u + (1 - rho) * d * d
        w -= lr * d
        out.append(w)
    return out


def ref_adam(w, gs, lr, beta1, beta2, eps, wd=0.0):
    m = v = 0.0
    out = []
    for t, g in enumerate(gs, start=1):
        w *= 1 - lr * wd
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        w -= lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(w)
    return out


def ref_nadam(w, gs, lr, beta1, beta2, eps, psi):
    def mu(t):
        return beta1 * (1 - 0.5 * 0.96 ** (t * psi))

    m = v = 0.0
    prod, out = 1.0, []
    for t, g in enumerate(gs, start=1):
        prod *= mu(t)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        denom = math.sqrt(v / (1 - beta2**t)) + eps
        w -= lr * (1 - mu(t)) / (1 - prod) * g / denom
        w -= lr * mu(t + 1) / (1 - prod * mu(t + 1)) * m / denom
        out.append(w)
    return out


# --- hand-computed steps ---------------------------------------------------------------------


def test_sgd_two_steps():
    # w1 = w0 - 0.1 * g1, w2 = w1 - 0.1 * g2
    np.testing.assert_allclose(two_steps(SGD(0.1)), [[0.95, -1.9], [0.975, -2.1]], rtol=1e-14)


def test_momentum_two_steps():
    # v1 = -0.1 * g1 = [-0.05, 0.1];  w1 = [0.95, -1.9]
    # v2 = 0.9 * v1 - 0.1 * g2 = [-0.045 + 0.025, 0.09 - 0.2] = [-0.02, -0.11];  w2 = w1 + v2
    expected = [[0.95, -1.9], [0.93, -2.01]]
    np.testing.assert_allclose(two_steps(Momentum(0.1, 0.9)), expected, rtol=1e-14)


def test_nesterov_two_steps():
    # v1 = [-0.05, 0.1]; w1 = w0 + 0.9 * v1 - 0.1 * g1 = [1 - 0.045 - 0.05, -2 + 0.09 + 0.1]
    # v2 = [-0.02, -0.11]; w2 = w1 + 0.9 * v2 - 0.1 * g2 = [0.905 - 0.018 + 0.025, -1.81 - 0.099
    # - 0.2]. Also PyTorch's form: w1 = w0 - 0.1 * (1 + 0.9) * g1.
    expected = [[0.905, -1.81], [0.912, -2.109]]
    np.testing.assert_allclose(two_steps(Nesterov(0.1, 0.9)), expected, rtol=1e-14)


def test_adagrad_two_steps():
    expected = per_element(ref_adagrad, lr=0.1, eps=1e-7)
    np.testing.assert_allclose(two_steps(AdaGrad(0.1, eps=1e-7)), expected, rtol=1e-14)
    # first step: h = g * g, so the step is lr * sign(g) up to eps
    np.testing.assert_allclose(expected[0], [0.9, -1.9], rtol=1e-6)


def test_rmsprop_two_steps():
    expected = per_element(ref_rmsprop, lr=0.01, rho=0.99, eps=1e-7)
    np.testing.assert_allclose(two_steps(RMSprop(0.01, 0.99, 1e-7)), expected, rtol=1e-14)
    # first step: h = 0.01 * g * g, so the step is lr * g / (0.1 * |g|) = 0.1 * sign(g)
    np.testing.assert_allclose(expected[0], [0.9, -1.9], rtol=1e-5)


def test_adadelta_two_steps():
    expected = per_element(ref_adadelta, lr=1.0, rho=0.95, eps=1e-6)
    np.testing.assert_allclose(two_steps(Adadelta(1.0, 0.95, 1e-6)), expected, rtol=1e-14)
    # first step: d = sqrt(eps) / sqrt(0.05 * g * g + eps) * g ~ 1e-3 / sqrt(0.05) * sign(g)
    first = 1e-3 / math.sqrt(0.05)
    np.testing.assert_allclose(expected[0], [1 - first, -2 + first], rtol=1e-6)


def test_adam_two_steps():
    expected = per_element(ref_adam, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8)
    np.testing.assert_allclose(two_steps(Adam()), expected, rtol=1e-14)
    # first step: m_hat = g, v_hat = g * g, so the step is lr * sign(g) up to eps
    np.testing.assert_allclose(expected[0], [0.999, -1.999], rtol=1e-10)


def test_adamw_two_steps_decays_weights_only():
    hyper = {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    decayed = per_element(ref_adam, wd=0.01, **hyper)
    np.testing.assert_allclose(two_steps(AdamW(), key="0.W"), decayed, rtol=1e-14)
    np.testing.assert_allclose(two_steps(AdamW(), key="0.b"), per_element(ref_adam, **hyper))
    np.testing.assert_allclose(two_steps(AdamW(weight_decay=0.0)), two_steps(Adam()), rtol=0)


def test_adamw_decay_alone_is_geometric():
    # with a zero gradient m = v = 0 and only the decay W *= 1 - lr * wd acts
    opt = AdamW(lr=0.1, weight_decay=0.5)
    params = {"W": np.array([2.0, -4.0])}
    for _ in range(3):
        opt.step(params, {"W": np.zeros(2)})
    np.testing.assert_allclose(params["W"], [2.0 * 0.95**3, -4.0 * 0.95**3], rtol=1e-14)


def test_nadam_two_steps():
    hyper = {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    expected = per_element(ref_nadam, psi=0.004, **hyper)
    np.testing.assert_allclose(two_steps(Nadam()), expected, rtol=1e-14)


@pytest.mark.parametrize(
    ("key", "decays"),
    [
        ("W", True),
        ("0.W", True),
        ("W1", True),
        ("conv.W12", True),
        ("b", False),
        ("0.b", False),
        ("b1", False),
        ("3.gamma", False),
        ("beta1", False),
        ("0.Wx", False),
        ("W.b", False),
    ],
)
def test_adamw_default_decay_selects_weights(key, decays):
    params = {key: np.ones(2)}
    AdamW(lr=0.1, weight_decay=0.5).step(params, {key: np.zeros(2)})
    assert bool(params[key][0] == 0.95) is decays


def test_adamw_decay_argument():
    params = {"a": np.ones(1), "b": np.ones(1)}
    grads = {"a": np.zeros(1), "b": np.zeros(1)}
    AdamW(lr=0.1, weight_decay=0.5, decay={"a"}).step(params, grads)
    AdamW(lr=0.1, weight_decay=0.5, decay=lambda k: k == "b").step(params, grads)
    assert params["a"][0] == params["b"][0] == 0.95
    with pytest.raises(TypeError, match="decay"):
        AdamW(decay="0.W")


# --- convergence ------------------------------------------------------------------------------

A = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])  # eigenvalues 0.71 .. 3.64
W_STAR = np.array([1.0, -2.0, 0.5])

# RMSprop and Adadelta take steps of about lr whatever the gradient's size, so with a constant
# lr they hover around the minimum; they converge with a decaying schedule.
CONVERGENCE = {
    "sgd": (lambda: SGD(0.3), 200, 1e-10),
    "momentum": (lambda: Momentum(0.05, 0.9), 300, 1e-5),
    "nesterov": (lambda: Nesterov(0.05, 0.9), 300, 1e-7),
    "adagrad": (lambda: AdaGrad(0.5), 500, 1e-10),
    "rmsprop": (lambda: RMSprop(0.01, schedule=Cosine(0.01, 1000)), 1000, 1e-8),
    "adadelta": (lambda: Adadelta(1.0, schedule=Cosine(1.0, 3000)), 3000, 1e-8),
    "adam": (lambda: Adam(0.05), 1000, 1e-10),
    "adamw-no-decay": (lambda: AdamW(0.05, weight_decay=0.0), 1000, 1e-10),
    "adamw": (lambda: AdamW(0.05), 1000, 2e-2),  # the decay pulls the weights toward 0
    "nadam": (lambda: Nadam(0.05), 1000, 1e-10),
}


@pytest.mark.parametrize(("make", "steps", "tol"), CONVERGENCE.values(), ids=list(CONVERGENCE))
def test_converges_on_quadratic(make, steps, tol):
    """Minimise 0.5 * (w - w*)^T A (w - w*) from w = 0."""
    opt = make()
    params, grads = {"W": np.zeros(3)}, {"W": np.zeros(3)}
    for _ in range(steps):
        np.dot(A, params["W"] - W_STAR, out=grads["W"])
        opt.step(params, grads)
    assert opt.iterations == steps
    assert np.linalg.norm(params["W"] - W_STAR) < tol


# --- PyTorch cross-check -----------------------------------------------------------------------

TORCH_CASES = {
    "sgd": ({"lr": 0.05}, "SGD", {"lr": 0.05}),
    "momentum": ({"lr": 0.05}, "SGD", {"lr": 0.05, "momentum": 0.9}),
    "nesterov": ({"lr": 0.05}, "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "adagrad": ({"lr": 0.05}, "Adagrad", {"lr": 0.05, "eps": 1e-7}),
    "rmsprop": ({"lr": 0.01}, "RMSprop", {"lr": 0.01, "alpha": 0.99, "eps": 1e-7}),
    "adadelta": ({}, "Adadelta", {"lr": 1.0, "rho": 0.95, "eps": 1e-6}),
    "adam": ({"lr": 0.01}, "Adam", {"lr": 0.01, "eps": 1e-8}),
    "adamw": ({"lr": 0.01, "weight_decay": 0.1}, "AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    "nadam": ({}, "NAdam", {"lr": 0.002, "momentum_decay": 4e-3}),
}


@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    ours_kwargs, torch_name, torch_kwargs = TORCH_CASES[name]
    rng = np.random.default_rng(0)
    init = {"0.W": rng.standard_normal((3, 4)), "0.b": rng.standard_normal(4)}
    noise = rng.standard_normal((20, 16))

    def grad(w, t):  # a gradient that depends on the parameter, plus fixed noise
        return 0.5 * w - 0.3 + noise[t, : w.size].reshape(w.shape)

    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
    if name == "adamw":  # PyTorch decays a whole group; fastdl decays "0.W" and not "0.b"
        groups = [{"params": [tparams["0.W"]]}, {"params": [tparams["0.b"]], "weight_decay": 0.0}]
    else:
        groups = list(tparams.values())
    topt = getattr(torch.optim, torch_name)(groups, foreach=False, **torch_kwargs)
    opt = get_optimizer(name, **ours_kwargs)
    params = {k: v.copy() for k, v in init.items()}
    for t in range(20):
        opt.step(params, {k: grad(w, t) for k, w in params.items()})
        for tp in tparams.values():
            tp.grad = torch.from_numpy(grad(tp.detach().numpy(), t))
        topt.step()
    for k, tp in tparams.items():
        # torch's NAdam keeps its momentum product in float32 (its default scalar dtype)
        rtol = 1e-8 if name == "nadam" else 1e-13
        np.testing.assert_allclose(params[k], tp.detach().numpy(), rtol=rtol, atol=1e-14)


# --- state dict ----------------------------------------------------------------------------------


def _problem(seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = {"0.W": rng.standard_normal((3, 2)).astype(dtype), "0.b": np.zeros(2, dtype)}
    grads = [
        {k: rng.standard_normal(v.shape).astype(dtype) for k, v in params.items()}
        for _ in range(10)
    ]
    return params, grads


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("scheduled", [False, True], ids=["const", "sched"])
def test_state_dict_round_trip_is_bit_identical(name, scheduled, dtype):
    def make():
        schedule = ExponentialDecay(0.01, 0.9) if scheduled else None
        return get_optimizer(name, schedule=schedule)

    params, grads = _problem(dtype=dtype)
    a = make()
    for g in grads[:5]:
        a.step(params, g)
    buf = io.BytesIO()
    np.savez(buf, **a.state_dict())
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as saved:
        b = make()
        b.load_state_dict(dict(saved))
    assert (b.iterations, b.lr) == (5, a.lr)
    params_b = {k: v.copy() for k, v in params.items()}
    for g in grads[5:]:
        a.step(params, g)
        b.step(params_b, g)
    for k in params:
        np.testing.assert_array_equal(params_b[k], params[k])
    assert a.state_dict().keys() == b.state_dict().keys()


def test_state_dict_contents():
    params, grads = _problem()
    opt = Nadam(beta1=0.8)
    opt.step(params, grads[0])
    state = opt.state_dict()
    assert state["optimizer"] == "Nadam" and state["iterations"] == 1
    assert state["beta1"] == 0.8 and state["lr"] == 0.002
    assert 0 < state["mu_product"] < 1
    assert {k for k in state if "/" in k} == {"m/0.W", "m/0.b", "v/0.W", "v/0.b"}
    state["m/0.W"][...] = 7.0  # a copy
    assert not (opt.state["m"]["0.W"] == 7.0).any()


def test_load_state_dict_errors():
    params, grads = _problem()
    adam = Adam()
    adam.step(params, grads[0])
    state = adam.state_dict()
    with pytest.raises(ValueError, match="for optimizer 'Adam', not Nadam"):
        Nadam().load_state_dict(state)
    with pytest.raises(ValueError, match=r"missing keys \['beta2'\]"):
        Adam().load_state_dict({k: v for k, v in state.items() if k != "beta2"})
    with pytest.raises(ValueError, match=r"unknown keys \['h/0.W'\]"):
        Adam().load_state_dict({**state, "h/0.W": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="one shape"):
        Adam().load_state_dict({**state, "v/0.W": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="one shape"):
        Adam().load_state_dict({k: v for k, v in state.items() if k != "v/0.b"})
    with pytest.raises(ValueError, match="beta1 must be in"):
        Adam().load_state_dict({**state, "beta1": 1.5})
    with pytest.raises(ValueError, match="iterations"):
        Adam().load_state_dict({**state, "iterations": -1})

    restored = Adam()
    restored.load_state_dict(state)
    with pytest.raises(ValueError, match=r"missing \['0.b'\], not in it \['1.b'\]"):
        restored.step(
            {"0.W": params["0.W"], "1.b": params["0.b"]}, {**grads[1], "1.b": grads[1]["0.b"]}
        )
    restored.state["m"]["0.W"] = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"m/0.W has shape \(2, 3\).*\(3, 2\)"):
        restored.step(params, grads[1])


# --- schedules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "text", "values"),
    [
        (Constant(0.3), "Constant(lr=0.3)", {0: 0.3, 100: 0.3}),
        (
            StepDecay(0.1, 0.5, 2),
            "StepDecay(lr=0.1, drop=0.5, every=2)",
            {0: 0.1, 1: 0.1, 2: 0.05, 3: 0.05, 4: 0.025},
        ),
        (ExponentialDecay(1, 0.5), "ExponentialDecay(lr=1.0, rate=0.5)", {0: 1, 1: 0.5, 3: 0.125}),
        (
            Cosine(1.0, 4, min_lr=0.2),
            "Cosine(lr=1.0, total=4, min_lr=0.2)",
            {0: 1.0, 2: 0.6, 4: 0.2, 10: 0.2},
        ),
        (
            InverseSqrtWarmup(1.0, 4),
            "InverseSqrtWarmup(lr=1.0, warmup=4)",
            {0: 0.25, 1: 0.5, 3: 1.0, 15: 0.5},
        ),
    ],
    ids=["constant", "step", "exponential", "cosine", "warmup"],
)
def test_schedule_values(schedule, text, values):
    assert repr(schedule) == text
    for it, lr in values.items():
        assert schedule(it) == pytest.approx(lr, rel=1e-14)


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: Constant(0), ValueError, "lr must be a finite number > 0, got 0"),
        (lambda: Constant("1"), TypeError, "lr must be a real number"),
        (lambda: StepDecay(0.1, 1.5, 2), ValueError, r"drop must be in \(0, 1\], got 1.5"),
        (lambda: StepDecay(0.1, 0.5, 0), ValueError, "every must be >= 1, got 0"),
        (lambda: StepDecay(0.1, 0.5, 2.0), TypeError, "every must be an int"),
        (lambda: ExponentialDecay(0.1, 0), ValueError, "rate must be a finite number > 0"),
        (lambda: Cosine(0.1, 10, min_lr=0.2), ValueError, "min_lr must be in"),
        (lambda: InverseSqrtWarmup(0.1, 0), ValueError, "warmup must be >= 1"),
        (lambda: Constant(1.0)(-1), ValueError, "iteration must be >= 0"),
        (lambda: Constant(1.0)(0.5), TypeError, "iteration must be an int"),
    ],
)
def test_schedule_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_schedule_sets_lr_before_each_step():
    opt = SGD(1.0, schedule=StepDecay(0.1, 0.5, 2))
    assert opt.lr == 0.1
    params = {"W": np.zeros(1)}
    moves, lrs = [], []
    for _ in range(5):
        before = params["W"][0]
        opt.step(params, {"W": np.ones(1)})
        moves.append(before - params["W"][0])
        lrs.append(opt.lr)
    np.testing.assert_allclose(moves, [0.1, 0.1, 0.05, 0.05, 0.025], rtol=1e-12)
    assert lrs == [0.1, 0.1, 0.05, 0.05, 0.025]
    seen = []
    opt = Adam(schedule=lambda it: seen.append(it) or 0.01)
    for _ in range(3):
        opt.step(params, {"W": np.ones(1)})
    assert seen == [0, 0, 1, 2]  # the constructor asks for the first lr


def test_schedule_errors_and_manual_lr():
    with pytest.raises(TypeError, match="schedule must be callable"):
        SGD(schedule=0.1)
    with pytest.raises(ValueError, match=r"schedule\(0\) must return a number >= 0"):
        SGD(schedule=lambda it: -1.0)
    opt = SGD(0.1)
    opt.lr = 0.5  # no schedule: an assigned lr is kept, e.g. by a callback
    params = {"W": np.zeros(1)}
    opt.step(params, {"W": np.ones(1)})
    assert params["W"][0] == -0.5


# --- API, in-place updates, dtypes, errors -------------------------------------------------------


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_in_place_and_float32(name):
    params, grads = _problem(dtype=np.float32)
    arrays = dict(params)
    before = {k: v.copy() for k, v in params.items()}
    opt = get_optimizer(name)
    for g in grads[:3]:
        opt.step(params, g)
    for k in params:
        assert params[k] is arrays[k]
        assert params[k].dtype == np.float32
        assert not np.array_equal(params[k], before[k])
    for slot in opt.state.values():
        assert all(a.dtype == np.float32 for a in slot.values())
    assert opt.iterations == 3


def test_zero_grad():
    grads = {"a": np.ones((2, 2)), "b": np.full(3, 5.0, np.float32)}
    arrays = dict(grads)
    Optimizer.zero_grad(grads)
    SGD().zero_grad(grads)
    for k, g in grads.items():
        assert g is arrays[k] and not g.any()
    with pytest.raises(TypeError, match=r"grads\['a'\] must be an ndarray"):
        SGD().zero_grad({"a": [1.0]})


def test_step_errors_leave_params_unchanged():
    params = {"0.W": np.ones((2, 3)), "0.b": np.zeros(3)}
    grads = {"0.W": np.ones((2, 3)), "0.b": np.ones(3)}
    opt = Adam()
    with pytest.raises(KeyError, match="'0.b'"):
        opt.step(params, {"0.W": grads["0.W"]})
    with pytest.raises(
        ValueError, match=r"grads\['0.b'\] has shape \(4,\), params\['0.b'\] \(3,\)"
    ):
        opt.step(params, {**grads, "0.b": np.ones(4)})
    with pytest.raises(TypeError, match=r"params\['0.b'\] must be a float32/float64 ndarray"):
        opt.step({**params, "0.b": np.zeros(3, int)}, grads)
    with pytest.raises(TypeError, match=r"grads\['0.b'\] must be .* got list"):
        opt.step(params, {**grads, "0.b": [1.0, 1.0, 1.0]})
    with pytest.raises(TypeError, match="float32 but params"):
        opt.step(params, {**grads, "0.b": np.ones(3, np.float32)})
    with pytest.raises(TypeError, match="dicts"):
        opt.step([params["0.W"]], grads)
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\['0.b'\] is read-only"):
        opt.step({**params, "0.b": frozen}, grads)
    assert opt.iterations == 0 and not opt.state["m"]
    assert (params["0.W"] == 1).all() and (params["0.b"] == 0).all()
    opt.step(params, {**grads, "extra": np.ones(1)})  # extra grads are ignored
    assert opt.iterations == 1


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: SGD(0), ValueError, "lr must be a finite number > 0, got 0"),
        (lambda: Adam(lr=-1e-3), ValueError, "lr must be a finite number > 0, got -0.001"),
        (lambda: SGD(float("nan")), ValueError, "lr must be a finite number > 0, got nan"),
        (lambda: SGD("0.1"), TypeError, "lr must be a real number, got '0.1'"),
        (lambda: Momentum(momentum=1.0), ValueError, r"momentum must be in \[0, 1\), got 1.0"),
        (lambda: Nesterov(momentum=-0.1), ValueError, r"momentum must be in \[0, 1\), got -0.1"),
        (lambda: AdaGrad(eps=0), ValueError, "eps must be a finite number > 0, got 0"),
        (lambda: RMSprop(rho=1), ValueError, r"rho must be in \[0, 1\), got 1"),
        (lambda: Adadelta(rho=1.5), ValueError, r"rho must be in \[0, 1\), got 1.5"),
        (lambda: Adam(beta1=1.0), ValueError, r"beta1 must be in \[0, 1\), got 1.0"),
        (lambda: Adam(beta2=-0.5), ValueError, r"beta2 must be in \[0, 1\), got -0.5"),
        (lambda: AdamW(weight_decay=-1), ValueError, "weight_decay must be a finite number >= 0"),
        (lambda: Nadam(momentum_decay=-1), ValueError, "momentum_decay must be a finite number"),
        (lambda: Nadam(eps=True), TypeError, "eps must be a real number, got True"),
    ],
)
def test_hyperparameter_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_get_optimizer():
    assert sorted(OPTIMIZERS) == sorted(
        ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "nadam"]
    )
    opt = get_optimizer("AdamW", lr=0.1, weight_decay=0.2)
    assert type(opt) is AdamW and (opt.lr, opt.weight_decay) == (0.1, 0.2)
    assert type(get_optimizer("NESTEROV")) is Nesterov
    with pytest.raises(
        ValueError, match="unknown optimizer 'adamax'; choose one of: sgd, momentum"
    ):
        get_optimizer("adamax")
    with pytest.raises(TypeError, match="unexpected keyword"):
        get_optimizer("sgd", momentum=0.9)
    assert repr(get_optimizer("momentum")) == "Momentum(lr=0.01, momentum=0.9, schedule=None)"
