"""fastdl.gradcheck on code written the textbook's way, on real MNIST images (bundled subset).

Correct layers and networks pass with zero biases and no options (beyond ``random_seed`` for
dropout); realistic bugs fail naming the tensor and a wrong element; the objects' arrays and
aliases are exactly as before after every call.
"""

import copy
import pathlib
import re
from collections import OrderedDict

import numpy as np
import pytest
from textbook_style import (
    Affine,
    BatchNormalization,
    BatchNormDropoutNet,
    Convolution,
    Pooling,
    Relu,
    Sigmoid,
    SimpleConvNet,
    SoftmaxWithLoss,
    TwoLayerNet,
)
from textbook_style import Dropout as TextbookDropout

import fastdl
from fastdl.gradcheck import gradcheck
from fastdl.layers import Activation, Dense, Dropout, Sequential
from fastdl.testing import assert_gradcheck


@pytest.fixture(scope="module")
def mnist():
    """The first 20 training images as float64 rows (N, 784) in [0, 1], and their labels."""
    (x, t), _ = fastdl.datasets.load_mnist(dtype=np.float64)
    return x[:20], t[:20]


def images(mnist, n=2):
    return mnist[0][:n].reshape(n, 1, 28, 28)  # (n, 1, 28, 28)


def snapshot(obj, seen=None):
    """Every attribute, dict entry and list item reachable from ``obj``: ids and array bits."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return "<seen>"
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return ("array", id(obj), obj.dtype.str, obj.shape, obj.tobytes())
    if isinstance(obj, dict):
        return ("dict", id(obj), {k: snapshot(v, seen) for k, v in obj.items()})
    if isinstance(obj, list):
        return ("list", id(obj), [snapshot(v, seen) for v in obj])
    if hasattr(obj, "__dict__") and not callable(obj):
        return (type(obj).__name__, id(obj), {k: snapshot(v, seen) for k, v in vars(obj).items()})
    return repr(obj)


def wrong_elements(buggy, correct, rtol=1e-5, atol=1e-7):
    """Indices where the buggy gradient violates the tolerance against the correct one."""
    bad = ~(np.abs(buggy - correct) <= atol + rtol * np.abs(correct))
    return {tuple(int(i) for i in w) for w in np.argwhere(bad)}


def layer_grads(make, x, G, **fkw):
    """dx and parameter gradients of a fresh layer from ``make()`` (textbook calls, no
    gradcheck), as name -> array."""
    layer = make()
    layer.forward(x.copy(), **fkw)
    out = {"x": np.asarray(layer.backward(G.copy()), dtype=np.float64)}
    out.update({k[1:]: v for k, v in vars(layer).items() if k in ("dW", "db", "dgamma", "dbeta")})
    return out


# ---------------------------------------------------------------------------------------------
# Correct code passes on MNIST with zero biases, no options
# ---------------------------------------------------------------------------------------------


def test_correct_textbook_layers_pass_on_mnist(mnist):
    x, t = mnist
    img = images(mnist)
    rng = np.random.default_rng(0)
    cases = [
        (Relu(), x[:2, 150:250], {}),
        (Sigmoid(), x[:2, 150:250], {}),
        (Affine(0.1 * rng.standard_normal((784, 6)), np.zeros(6)), x[:3], {}),
        (
            Convolution(0.1 * rng.standard_normal((2, 1, 3, 3)), np.zeros(2)),
            img[:1, :, 4:16, 4:16],
            {},
        ),
        (Pooling(2, 2, stride=2), img[:, :, 4:16, 4:16], {}),
        (BatchNormalization(np.ones(12), np.zeros(12)), x[:6, 400:412], {}),
        (TextbookDropout(0.3), x[:2, 150:250], {"random_seed": 0}),
        (SoftmaxWithLoss(), x[:4, 200:210], {"t": t[:4]}),
    ]
    for layer, inp, opts in cases:
        before = snapshot(layer)
        result = gradcheck(layer, inp, **opts)
        assert result.passed, result.report()
        assert "x" in result.tensors and result.precision is None
        params = {"W", "b", "gamma", "beta"} & set(vars(layer))
        assert set(result.tensors) == {"x", *params}
        # everything as before, but the gradients dW, db, ... that backward left
        grads = {f"d{p}" for p in params}
        kept = {k: v for k, v in snapshot(layer)[2].items() if k not in grads}
        assert kept == {k: v for k, v in before[2].items() if k not in grads}
        assert all(getattr(layer, g).shape == getattr(layer, g[1:]).shape for g in grads)
    # MNIST zeros sit on Relu's kink and make ties in max pooling: skipped, counted, not failed
    relu = gradcheck(Relu(), x[:2, 150:250]).tensors["x"]
    assert relu.n_kinks == int(np.sum(x[:2, 150:250] == 0)) > 0
    assert relu.n_checked + relu.n_kinks == 200


def test_kinks_are_real_and_nudging_checks_them(mnist):
    x = mnist[0][:2, 150:250]
    failing = gradcheck(Relu(), x, kinks="fail")
    assert failing.tensors["x"].n_failed == int(np.sum(x == 0))  # every zero pixel
    nudged = gradcheck(Relu(), x, kinks="nudge").tensors["x"]
    assert nudged.passed and nudged.n_kinks == 0 and nudged.n_nudged == int(np.sum(x == 0))
    pool = gradcheck(Pooling(2, 2, stride=2), images(mnist)[:, :, 4:16, 4:16], kinks="nudge")
    assert pool.passed and pool.tensors["x"].n_kinks == 0 and pool.tensors["x"].n_nudged > 0
    assert "nudged off it" in str(pool)


def test_random_directions_across_kinks_are_skipped_then_nudged(mnist):
    x = mnist[0][:3]  # 2,352 elements: random mode; every direction moves some zero pixel
    skipped = gradcheck(Relu(), x).tensors["x"]
    assert skipped.mode == "random" and skipped.passed
    assert skipped.n_kinks >= 10 and not skipped.worst_directions  # all 10 directions at kinks
    nudged = gradcheck(Relu(), x, kinks="nudge").tensors["x"]
    assert nudged.passed and nudged.n_kinks == 0 and len(nudged.worst_directions) == 5


def test_a_wrong_gradient_at_a_non_kink_element_still_fails(mnist):
    x = mnist[0][:2, 150:250]
    i, j = np.argwhere(x > 0.5)[0]

    class OneWrong(Relu):
        def backward(self, dout):
            dx = super().backward(dout)
            dx[i, j] = 0.0  # the gradient of one positive pixel is lost
            return dx

    t = gradcheck(OneWrong(), x).tensors["x"]
    assert not t.passed and t.n_failed == 1 and t.n_kinks > 0
    assert t.worst[0].index == (i, j)


@pytest.mark.parametrize("net_name", ["two_layer", "conv", "bn_dropout"])
def test_correct_networks_pass_on_mnist(mnist, net_name):
    x, t = mnist
    if net_name == "two_layer":
        net, xb, opts = TwoLayerNet(784, 20, 10, weight_decay=0.1), x[:10], {}
    elif net_name == "conv":
        net, xb, opts = SimpleConvNet(), images(mnist), {}
    else:  # loss(x, t, train_flg=False): the check calls it in training mode
        net, xb, opts = BatchNormDropoutNet(), x[:10], {"random_seed": 0}
    tb = t[: len(xb)]
    np.random.seed(0)  # noqa: NPY002 (gradcheck re-seeds so before every call with random_seed=0)
    reference = copy.deepcopy(net).gradient(xb.copy(), tb)
    before = snapshot(net)
    result = gradcheck(net, xb, tb, **opts)
    assert result.passed, result.report()
    assert set(result.tensors) == set(net.params)
    assert any("dx was not checked" in n for n in result.notes)
    # the user's arrays (ids and bits) in params, and the layers' references to them
    assert snapshot(net)[2]["params"] == before[2]["params"]
    for key, layer in net.layers.items():
        for attr in ("W", "b", "gamma", "beta"):
            if hasattr(layer, attr):
                assert any(getattr(layer, attr) is p for p in net.params.values()), key
    # the layers' own gradients are left as their backward computed them
    grads_now = {
        "two_layer": lambda: {"W1": net.layers["Affine1"].dW, "b2": net.layers["Affine2"].db},
        "conv": lambda: {"W1": net.layers["Conv1"].dW, "W3": net.layers["Affine2"].dW},
        "bn_dropout": lambda: {"gamma1": net.layers["BatchNorm1"].dgamma},
    }[net_name]()
    for name, g in grads_now.items():
        extra = 0.1 * net.params[name] if net_name == "two_layer" and name == "W1" else 0
        np.testing.assert_allclose(g + extra, reference[name], rtol=1e-12, atol=1e-15)


def test_network_aliases_and_bits_are_exactly_as_before(mnist):
    net = SimpleConvNet()
    x, t = images(mnist), mnist[1][:2]
    W1, conv = net.params["W1"], net.layers["Conv1"]
    saved = {k: v.copy() for k, v in net.params.items()}
    gradcheck(net, x, t)
    assert conv.W is W1 and net.params["W1"] is W1
    for layer_key, (w, b) in {"Conv1": ("W1", "b1"), "Affine1": ("W2", "b2")}.items():
        assert net.layers[layer_key].W is net.params[w] and net.layers[layer_key].b is net.params[b]
    for k, v in saved.items():
        assert net.params[k].tobytes() == v.tobytes() and net.params[k].dtype == v.dtype


def test_everything_is_restored_when_user_code_raises(mnist):
    net = SimpleConvNet()
    x, t = images(mnist), mnist[1][:2]
    before = snapshot(net)
    calls = {"n": 0}
    real_loss = net.loss

    def loss(x, t):
        calls["n"] += 1
        if calls["n"] == 40:  # in the middle of the numeric differences of W1
            raise RuntimeError("boom")
        return real_loss(x, t)

    net.loss = loss
    with pytest.raises(RuntimeError, match="boom"):
        gradcheck(net, x, t)
    del net.loss
    assert snapshot(net) == before

    pool, real_forward = net.layers["Pool1"], net.layers["Pool1"].forward

    def forward(x):
        calls["n"] += 1
        if calls["n"] == 25:  # in the middle of the differences of W1, with random_seed
            raise RuntimeError("pool")
        return real_forward(x)

    calls["n"] = 0
    pool.forward = forward
    before = snapshot(net)
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    with pytest.raises(RuntimeError, match="pool"):
        gradcheck(net, x, t, random_seed=3)
    assert snapshot(net) == before
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_running_statistics_and_caches_are_restored_without_options(mnist):
    bn = BatchNormalization(np.ones(12), np.zeros(12))
    x = mnist[0][:6, 400:412]
    bn.forward(x)  # running stats and caches exist, as after some training
    before = snapshot(bn)
    running_mean = bn.running_mean
    assert gradcheck(bn, x)
    assert bn.running_mean is running_mean
    for key in ("running_mean", "running_var", "xc", "std", "xn"):
        assert snapshot(bn)[2][key] == before[2][key]


def test_global_random_state_and_generators_are_put_back(mnist):
    x, t = mnist
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    net = BatchNormDropoutNet()
    assert gradcheck(net, x[:10], t[:10], random_seed=0)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    with pytest.raises(ValueError, match="random_seed="):
        gradcheck(net, x[:10], t[:10])
    rng = np.random.default_rng(5)
    model = Sequential([Dense(20, 8, rng=rng), Dropout(0.3, rng=rng), Dense(8, 3, rng=rng)])
    gen_state = rng.bit_generator.state
    result = gradcheck(
        model, x[:4, 300:320], t[:4] % 3, loss="softmax_cross_entropy", random_seed=1
    )
    assert result.passed, result.report()
    assert rng.bit_generator.state == gen_state


def test_sequential_with_a_loss_on_mnist(mnist):
    x, t = mnist
    rng = np.random.default_rng(1)
    model = Sequential(
        [Dense(784, 16, rng=rng), Activation("relu"), Dense(16, 10, init=0.1, rng=rng)]
    )
    params = dict(model.params)
    saved = {k: v.copy() for k, v in params.items()}
    result = gradcheck(model, x[:2], t[:2], loss=fastdl.losses.SoftmaxCrossEntropy())
    assert result.passed, result.report()
    assert set(result.tensors) == {"x", *params}
    assert result.target == "Sequential + SoftmaxCrossEntropy"
    for k, v in params.items():
        assert model.params[k] is v and v.dtype == np.float32
        assert v.tobytes() == saved[k].tobytes()
    assert all(g.dtype == np.float32 for g in model.grads.values())


# ---------------------------------------------------------------------------------------------
# A dozen realistic bugs: each fails, naming the tensor and a wrong element
# ---------------------------------------------------------------------------------------------


def _layer_case(mnist, bug):
    """``(make(bug), x, G, forward kwargs, expected failing tensors)`` for a layer bug."""
    x, t = mnist
    rng = np.random.default_rng(3)
    W, Wc = 0.1 * rng.standard_normal((784, 5)), 0.3 * rng.standard_normal((3, 2, 3, 3))
    two = images(mnist).reshape(1, 2, 28, 28)[:, :, 6:14, 6:14]  # (1, 2, 8, 8): C = 2
    gamma = 1.0 + 0.1 * rng.standard_normal(12)
    cases = {
        "relu_inverted_mask": (lambda b: Relu(b), x[:2, 150:250], {}, ["x"]),
        "sigmoid_no_out": (lambda b: Sigmoid(b), x[:2, 150:250], {}, ["x"]),
        "affine_db_first_row": (lambda b: Affine(W, np.zeros(5), b), x[:3], {}, ["b"]),
        "conv_reshape_without_transpose": (
            lambda b: Convolution(Wc, np.zeros(3), bug=b),
            two,
            {},
            ["W"],
        ),
        "conv_col2im_overwrites": (
            lambda b: Convolution(Wc, np.zeros(3), bug=b),
            two,
            {},
            ["x"],
        ),
        "pool_no_transpose": (  # two channels: with one the transpose changes nothing
            lambda b: Pooling(2, 2, stride=2, bug=b),
            images(mnist, 4).reshape(2, 2, 28, 28)[:, :, 6:14, 6:14],  # (2, 2, 8, 8)
            {},
            ["x"],
        ),
        "bn_swapped_gamma_beta": (
            lambda b: BatchNormalization(gamma, np.zeros(12), bug=b),
            x[:6, 400:412],
            {},
            ["gamma", "beta"],
        ),
        "bn_no_half": (
            lambda b: BatchNormalization(gamma, np.zeros(12), bug=b),
            x[:6, 400:412],
            {},
            ["x"],
        ),
        "dropout_no_mask": (lambda b: TextbookDropout(0.3, b), x[:2, 150:250], {}, ["x"]),
    }
    make, inp, fkw, expected = cases[bug]
    bug_name = bug.split("_", 1)[1]
    G = np.random.default_rng(4).standard_normal(make(None).forward(inp.copy()).shape)
    return (lambda: make(bug_name)), (lambda: make(None)), inp, G, fkw, expected


LAYER_BUGS = [
    "relu_inverted_mask",
    "sigmoid_no_out",
    "affine_db_first_row",
    "conv_reshape_without_transpose",
    "conv_col2im_overwrites",
    "pool_no_transpose",
    "bn_swapped_gamma_beta",
    "bn_no_half",
    "dropout_no_mask",
]


@pytest.mark.parametrize("bug", LAYER_BUGS)
def test_layer_bug_is_caught_and_located(mnist, bug):
    make_buggy, make_correct, x, G, fkw, expected = _layer_case(mnist, bug)
    seed = {"random_seed": 0} if "dropout" in bug else {}
    result = gradcheck(make_buggy(), x, dout=G, **seed, **fkw)
    assert result.failed == expected, result.report()
    np.random.seed(0)  # noqa: NPY002 (the textbook Dropout draws from the global state)
    buggy = layer_grads(make_buggy, x, G)
    np.random.seed(0)  # noqa: NPY002 (the textbook Dropout draws from the global state)
    correct = layer_grads(make_correct, x, G)
    for name in expected:
        t = result.tensors[name]
        assert t.mode == "full" and t.n_failed_elements > 0
        worst = t.worst[0]
        assert worst.index in wrong_elements(buggy[name], correct[name])
        assert worst.analytic == pytest.approx(buggy[name][worst.index], rel=1e-12)
        assert worst.numeric == pytest.approx(correct[name][worst.index], rel=1e-4, abs=1e-6)


def test_softmax_with_loss_bugs_get_the_right_hints(mnist):
    x, t = mnist
    logits = 3.0 * np.random.default_rng(5).standard_normal((8, 10))
    batch = gradcheck(SoftmaxWithLoss("no_batch_mean"), logits, t[:8])
    assert batch.failed == ["x"] and "1/N" in batch.tensors["x"].hint
    sign = gradcheck(SoftmaxWithLoss("sign"), logits, t[:8])
    assert sign.failed == ["x"] and "sign flip" in sign.tensors["x"].hint


def test_network_bug_forgotten_weight_decay_names_W2(mnist):
    x, t = mnist
    net = TwoLayerNet(784, 20, 10, weight_decay=0.1, bug="forget_decay")
    result = gradcheck(net, x[:10], t[:10])
    assert result.failed == ["W2"], result.report()
    w2 = result.tensors["W2"]
    assert w2.worst[0].analytic - w2.worst[0].numeric == pytest.approx(
        -0.1 * net.params["W2"][w2.worst[0].index], rel=1e-3
    )


def test_network_bug_in_a_layer_names_the_tensors_before_it(mnist):
    net = SimpleConvNet(bugs={"Pool1": "no_transpose"})
    result = gradcheck(net, images(mnist), mnist[1][:2])
    assert "W1" in result.failed and set(result.failed) <= {"W1", "b1"}, result.report()
    correct = SimpleConvNet().gradient(images(mnist), mnist[1][:2])["W1"]
    buggy = SimpleConvNet(bugs={"Pool1": "no_transpose"}).gradient(images(mnist), mnist[1][:2])
    assert result.tensors["W1"].worst[0].index in wrong_elements(buggy["W1"], correct)


def test_one_wrong_weight_of_784x100_is_located_by_bisection(mnist):
    x, t = mnist
    net = TwoLayerNet(784, 100, 10)
    col = int(np.argmax(x[:10].sum(axis=0)))  # a pixel that is bright in this batch
    net.layers["Affine1"].bug, net.layers["Affine1"].bug_at = "one_weight", (col, 37)
    result = gradcheck(net, x[:10], t[:10])
    w1 = result.tensors["W1"]
    assert result.failed == ["W1"] and w1.mode == "random"
    assert w1.located == 1 and w1.worst[0].index == (col, 37)
    assert w1.worst[0].analytic == 0.0 and abs(w1.worst[0].numeric) > 1e-5
    assert "located by bisection" in str(result)


# ---------------------------------------------------------------------------------------------
# Hints that do not mislead
# ---------------------------------------------------------------------------------------------


def test_hints_do_not_mislead(mnist):
    x, t = mnist
    logits = 3.0 * np.random.default_rng(6).standard_normal((10, 10))
    eps_in_log = gradcheck(SoftmaxWithLoss(), logits, t[:10])  # correct code, 1e-7 in the log
    xt = eps_in_log.tensors["x"]
    assert not xt.passed and "small systematic relative error" in xt.hint
    assert "log(y + 1e-7)" in xt.hint and "off-by-one" not in str(eps_in_log)
    make_buggy, _, xc, G, _, _ = _layer_case(mnist, "conv_reshape_without_transpose")
    scrambled = gradcheck(make_buggy(), xc, dout=G).tensors["W"]
    assert "wrong places" in scrambled.hint and "reshape or transpose" in scrambled.hint
    sig = gradcheck(Sigmoid("no_out"), x[:2, 150:250]).tensors["x"]
    assert not sig.passed and sig.hint is None  # no pattern fits: no hint


# ---------------------------------------------------------------------------------------------
# Object graphs: views, tuples, float32
# ---------------------------------------------------------------------------------------------


class TransposedView:
    """y = x W with forward reading ``self.W_T`` (a view of ``W`` made in __init__) transposed
    back; the check must perturb the view together with ``W``."""

    def __init__(self, W):
        self.W, self.W_T, self.dW = W, W.T, None

    def forward(self, x):
        self.x = x
        return x @ self.W_T.T

    def backward(self, dout):
        self.dW = self.x.T @ dout
        return dout @ self.W.T


def test_a_cached_view_of_a_parameter_follows_the_working_copy(mnist):
    W = np.random.default_rng(7).standard_normal((10, 4))
    layer = TransposedView(W)
    view = layer.W_T
    result = gradcheck(layer, mnist[0][:3, 400:410])
    assert result.passed, result.report()
    assert layer.W is W and layer.W_T is view and view.base is W


def test_a_parameter_in_a_tuple_is_refused_and_nothing_changes(mnist):
    layer = Affine(np.ones((10, 3)), np.zeros(3))
    layer.pair = (layer.W, layer.b)
    before = snapshot(layer)
    with pytest.raises(ValueError, match=r"layer.pair is a tuple holding a parameter"):
        gradcheck(layer, mnist[0][:3, 400:410])
    assert snapshot(layer) == before


def test_readme_network_example_prints_what_the_readme_shows(capsys):
    readme = pathlib.Path(__file__).resolve().parent.parent / "README.md"
    if not readme.exists():
        pytest.skip("README.md not beside the tests (installed test run)")
    text = readme.read_text().split("## Checking the textbook's networks", 1)[1]
    code, shown = re.search(r"```python\n(.*?)```\s*```text\n(.*?)```", text, flags=re.S).groups()
    exec(compile(code, str(readme), "exec"), {})
    printed = capsys.readouterr().out
    assert printed == shown
    assert "skipped at a kink" in printed and "dx was not checked" in printed


def test_assert_gradcheck_takes_the_labels_of_a_network(mnist):
    x, t = mnist
    assert assert_gradcheck(TwoLayerNet(784, 10, 10), x[:3], t[:3]).passed
    with pytest.raises(AssertionError, match="W2 FAILED"):
        buggy = TwoLayerNet(784, 10, 10, weight_decay=0.1, bug="forget_decay")
        assert_gradcheck(buggy, x[:3], t[:3])


class Recording(Affine):
    """An Affine that appends to a list and adds keys to an OrderedDict in every forward."""

    def __init__(self, W, b):
        super().__init__(W, b)
        self.history, self.seen = [np.zeros(2)], OrderedDict(first=np.ones(2))

    def forward(self, x):
        self.history.append(x.sum())
        self.seen[len(self.seen)] = x
        return super().forward(x)


def test_lists_and_ordered_dicts_the_forward_grows_are_put_back(mnist):
    layer = Recording(np.ones((10, 3)), np.zeros(3))
    history, seen = layer.history, layer.seen
    before = snapshot(layer)
    assert gradcheck(layer, mnist[0][:3, 400:410], param_names={})
    assert snapshot(layer) == before and layer.history is history and layer.seen is seen
    assert list(seen) == ["first"]


class BufferedScale:
    """y = 2 x written into a buffer the layer keeps, read back through a view of it."""

    def __init__(self, shape):
        self.buf = np.zeros(shape)
        self.out = self.buf[:, :]  # a view of the buffer, what forward returns from

    def forward(self, x):
        np.multiply(x, 2.0, out=self.buf)
        return self.out.copy()

    def backward(self, dout):
        return 2.0 * dout


def test_a_view_of_a_buffer_the_object_holds_follows_its_copy(mnist):
    x = mnist[0][:3, 400:410]
    layer = BufferedScale(x.shape)
    buf, out = layer.buf, layer.out
    assert gradcheck(layer, x).passed
    assert layer.buf is buf and layer.out is out and not buf.any()


def test_bad_arguments_for_networks_are_named(mnist):
    x, t = mnist[0][:3], mnist[1][:3]
    net = TwoLayerNet(784, 5, 10)
    with pytest.raises(TypeError, match=r"TwoLayerNet is a network: pass the labels"):
        gradcheck(net, x)
    with pytest.raises(ValueError, match="dout= does not apply to a network"):
        gradcheck(net, x, t, dout=1.0)
    with pytest.raises(ValueError, match=r"kinks must be one of \('skip', 'nudge', 'fail'\)"):
        gradcheck(net, x, t, kinks="ignore")
    net.params = list(net.params.values())
    with pytest.raises(TypeError, match="no params dict"):
        gradcheck(net, x, t)
    with pytest.raises(TypeError, match="with loss=, pass the labels too"):
        gradcheck(Relu(), x, loss="mse")
