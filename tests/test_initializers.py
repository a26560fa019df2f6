"""Tests of fastdl.initializers: fans, distributions, reproducibility, no global RNG, errors."""

import math

import numpy as np
import pytest

from fastdl import initializers as init
from fastdl.initializers import INITIALIZERS, compute_fans, get_initializer

DENSE, CONV = (512, 512), (64, 32, 3, 3)  # conv: fan_in 32*9 = 288, fan_out 64*9 = 576

# name -> (kind, expected std as a function of (fan_in, fan_out)), written from the formulas
EXPECTED = {
    "lecun_normal": ("normal", lambda fi, fo: math.sqrt(1 / fi)),
    "lecun_uniform": ("uniform", lambda fi, fo: math.sqrt(3 / fi) / math.sqrt(3)),
    "glorot_normal": ("normal", lambda fi, fo: math.sqrt(2 / (fi + fo))),
    "glorot_uniform": ("uniform", lambda fi, fo: math.sqrt(6 / (fi + fo)) / math.sqrt(3)),
    "he_normal": ("normal", lambda fi, fo: math.sqrt(2 / fi)),
    "he_uniform": ("uniform", lambda fi, fo: math.sqrt(6 / fi) / math.sqrt(3)),
}


@pytest.mark.parametrize(
    "shape, fans",
    [((784, 100), (784, 100)), ((30, 1, 5, 5), (25, 750)), ((16, 3, 3, 5), (45, 240))],
)
def test_compute_fans_dense_and_conv(shape, fans):
    assert compute_fans(shape) == fans


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fan_based_std_and_support(name, shape, rng):
    kind, std_of = EXPECTED[name]
    fan_in, fan_out = (512, 512) if len(shape) == 2 else (288, 576)
    w = get_initializer(name)(shape, rng)
    assert w.shape == shape and w.dtype == np.float32
    std = std_of(fan_in, fan_out)
    assert abs(w.std() / std - 1) < 0.03
    assert abs(w.mean()) < 0.03 * std
    if kind == "uniform":
        limit = std * math.sqrt(3)
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit


def test_normal_std_and_any_shape(rng):
    w = init.normal(DENSE, rng)
    assert abs(w.std() / 0.01 - 1) < 0.03
    assert abs(get_initializer(0.05)(DENSE, rng).std() / 0.05 - 1) < 0.03
    assert abs(get_initializer("normal", std=0.2)(DENSE, rng).std() / 0.2 - 1) < 0.03
    assert init.normal(7, rng).shape == (7,) and init.normal((2, 3, 4), rng).shape == (2, 3, 4)
    np.testing.assert_array_equal(init.normal((3, 3), rng, std=0), np.zeros((3, 3), np.float32))


def test_zeros_and_ones_any_shape_rng_optional(rng):
    np.testing.assert_array_equal(init.zeros(4), np.zeros(4, np.float32))
    np.testing.assert_array_equal(init.ones((2, 3), rng, np.float64), np.ones((2, 3)))
    assert get_initializer("ones")(5, rng).dtype == np.float32


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_same_seed_same_array_and_float64(name):
    shape = (4, 3, 2, 2)
    a = get_initializer(name)(shape, np.random.default_rng(7))
    b = get_initializer(name)(shape, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    c = get_initializer(name)(shape, np.random.default_rng(7), np.float64)
    assert c.dtype == np.float64
    np.testing.assert_array_equal(c.astype(np.float32), a)  # drawn in float64, then cast
    if name not in ("zeros", "ones"):
        assert not np.array_equal(a, get_initializer(name)(shape, np.random.default_rng(8)))


@pytest.fixture
def global_rng():
    """NumPy's legacy global RNG (the thing fastdl must not use), restored after the test."""
    saved = np.random.get_state()  # noqa: NPY002
    yield np.random
    np.random.set_state(saved)  # noqa: NPY002


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_global_rng_neither_used_nor_consumed(name, global_rng):
    global_rng.seed(0)
    state = global_rng.get_state()[1].copy()
    a = get_initializer(name)((5, 6), np.random.default_rng(3))
    np.testing.assert_array_equal(global_rng.get_state()[1], state)
    global_rng.seed(1)
    np.testing.assert_array_equal(a, get_initializer(name)((5, 6), np.random.default_rng(3)))


def test_get_initializer_names_aliases_and_callables():
    assert get_initializer("xavier_normal") is init.glorot_normal
    assert get_initializer("xavier_uniform") is init.glorot_uniform
    assert get_initializer("he_normal") is init.he_normal

    def mine(shape, rng, dtype=np.float32):
        return np.full(shape, 2.0, dtype)

    assert get_initializer(mine) is mine


@pytest.mark.parametrize("name, advice", [("xavier", "lecun_normal"), ("relu", "he_normal")])
def test_textbook_strings_point_to_the_right_name(name, advice):
    with pytest.raises(
        ValueError, match=f"unknown initializer '{name}'.*'{advice}'.*xavier_normal"
    ):
        get_initializer(name)


def test_get_initializer_bad_input():
    with pytest.raises(ValueError, match="unknown initializer 'glorot'.*he_normal"):
        get_initializer("glorot")
    with pytest.raises(TypeError, match=r"'he_normal' takes no parameter\(s\) \['std'\]"):
        get_initializer("he_normal", std=0.1)
    with pytest.raises(TypeError, match=r"'normal' takes no parameter\(s\) \['mean'\]"):
        get_initializer("normal", mean=1.0)
    with pytest.raises(ValueError, match=r"std must be finite and >= 0, got -0\.1"):
        get_initializer(-0.1)
    with pytest.raises(ValueError, match="std must be finite and >= 0, got inf"):
        get_initializer("normal", std=float("inf"))
    with pytest.raises(TypeError, match="need an initializer name"):
        get_initializer(0.1, std=0.2)
    for bad in (None, True, [0.1]):
        with pytest.raises(TypeError, match="init must be an initializer name"):
            get_initializer(bad)


@pytest.mark.parametrize(
    "rng", [None, 0, np.random.RandomState(0)], ids=["None", "int", "RandomState"]
)
def test_rng_must_be_a_generator(rng):
    for fn in (init.he_normal, init.glorot_uniform, init.normal):
        with pytest.raises(TypeError, match=r"numpy.random.Generator.*default_rng\(seed\)"):
            fn((3, 3), rng)
    with pytest.raises(TypeError, match="Generator"):
        init.zeros((3, 3), rng if rng is not None else 0)


def test_bad_shapes_and_dtypes(rng):
    with pytest.raises(ValueError, match=r"2-D \(in, out\).*4-D \(F, C, KH, KW\).*got \(10,\)"):
        init.he_normal((10,), rng)
    with pytest.raises(ValueError, match=r"got \(2, 3, 4\)"):
        compute_fans((2, 3, 4))
    with pytest.raises(ValueError, match=r"positive sizes, got \(3, 0\)"):
        init.glorot_normal((3, 0), rng)
    with pytest.raises(TypeError, match=r"tuple of ints, got \(3\.0, 4\)"):
        init.normal((3.0, 4), rng)
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got int32"):
        init.he_uniform((3, 3), rng, np.int32)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        init.zeros(3, None, "nonsense")
