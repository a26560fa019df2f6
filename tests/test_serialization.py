"""save_model / load_model: one .npz with a JSON architecture, bit-identical round trips,
clear errors for corrupted or mismatched files, and no pickle anywhere."""

import json

import numpy as np
import pytest

import fastdl
from fastdl.layers import Dense, Flatten, Sequential
from fastdl.models import deep_cnn, mlp, simple_cnn
from fastdl.optimizers import get_optimizer
from fastdl.serialization import load_model, model_from_json, model_to_json, save_model
from fastdl.training import fit, predict


@pytest.fixture(scope="module")
def images():
    (x, t), _ = fastdl.load_mnist(flatten=False)
    return x[:40], t[:40]


def _perturb(model, seed):
    """Non-trivial parameters and running statistics (a fresh model has zero biases)."""
    rng = np.random.default_rng(seed)
    for v in model.params.values():
        v += (rng.standard_normal(v.shape) * 0.05).astype(v.dtype)
    for k, v in model.buffers.items():
        v[...] = rng.uniform(0.5, 1.5, v.shape) if "var" in k else rng.standard_normal(v.shape)


def _assert_round_trip(model, x, tmp_path):
    path = tmp_path / "model.npz"
    save_model(model, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temporary left
    loaded = load_model(path)
    assert repr(loaded) == repr(model)
    assert model_to_json(loaded) == model_to_json(model)  # re-saving keeps the architecture
    for name in ("params", "buffers"):
        ours, theirs = getattr(model, name), getattr(loaded, name)
        assert list(ours) == list(theirs)
        for k in ours:
            assert theirs[k].dtype == ours[k].dtype, k
            np.testing.assert_array_equal(theirs[k], ours[k], err_msg=k)
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))
    return loaded


def test_round_trip_mlp_with_batchnorm_and_dropout(images, tmp_path):
    x, t = images
    x = x.reshape(len(x), -1)
    model = mlp(hidden=(30, 20), batchnorm=True, dropout=0.3, activation="elu", alpha=0.5)
    fit(model, get_optimizer("adam", lr=1e-3), x, t, epochs=2, batch_size=10, verbose=0)
    loaded = _assert_round_trip(model, x, tmp_path)
    assert loaded[2].name == "elu" and loaded[2].act_params == {"alpha": 0.5}


def test_round_trip_textbook_dropout_and_float64(images, tmp_path):
    x, _ = images
    x = x.reshape(len(x), -1).astype(np.float64)
    model = mlp(hidden=(16,), dropout=0.4, dropout_mode="textbook", init=0.05, dtype=np.float64)
    _perturb(model, 1)
    loaded = _assert_round_trip(model, x, tmp_path)
    assert loaded[1].mode == "textbook" and loaded[0].params["W"].dtype == np.float64


def test_round_trip_simple_cnn(images, tmp_path):
    x, _ = images
    model = simple_cnn(filters=6, hidden=20)
    _perturb(model, 2)
    _assert_round_trip(model, x[:8], tmp_path)


def test_round_trip_deep_cnn(images, tmp_path):
    x, _ = images
    model = deep_cnn()
    _perturb(model, 3)
    _assert_round_trip(model, x[:4], tmp_path)


def test_no_pickle_and_plain_contents(tmp_path):
    model = mlp(input_size=6, hidden=(4,), output_size=3, batchnorm=True)
    path = tmp_path / "m.npz"
    save_model(model, str(path))
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    assert all(a.dtype.kind in "fU" for a in arrays.values())  # floats and the JSON string
    arch = json.loads(str(arrays.pop("architecture")))
    assert arch["format"] == "fastdl-model" and arch["version"] == 1
    assert [layer["type"] for layer in arch["layers"]] == [
        "Dense",
        "BatchNorm",
        "Activation",
        "Dense",
    ]
    assert arch["layers"][0]["config"]["in_features"] == 6
    assert set(arrays) == {f"param/{k}" for k in model.params} | {
        f"buffer/{k}" for k in model.buffers
    }
    np.testing.assert_array_equal(arrays["param/3.W"], model.params["3.W"])


def test_json_round_trip_builds_an_equal_architecture():
    model = simple_cnn(filters=4, hidden=8)
    rebuilt = model_from_json(model_to_json(model))
    assert repr(rebuilt) == repr(model)
    assert {k: v.shape for k, v in rebuilt.params.items()} == {
        k: v.shape for k, v in model.params.items()
    }


# --------------------------------------------------------------------------- bad files


@pytest.fixture
def saved(tmp_path):
    """A saved small model: (model, path, {name: array} of the file)."""
    model = mlp(input_size=6, hidden=(4,), output_size=3, batchnorm=True)
    path = tmp_path / "good.npz"
    save_model(model, path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    return model, path, arrays


def _write(tmp_path, arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


def test_truncated_and_random_files(saved, tmp_path):
    _, path, _ = saved
    data = path.read_bytes()
    bad = tmp_path / "bad.npz"
    for content in (data[: len(data) // 2], data[:-1], b"", b"\x93NUMPY" + b"\0" * 50):
        bad.write_bytes(content)
        with pytest.raises(ValueError, match="bad.npz: not a fastdl model file .not an .npz"):
            load_model(bad)
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ValueError, match="bad.npz: not a fastdl model file") as info:
        load_model(bad)
    assert "pickle" not in str(info.value)  # no hint at loading it unsafely


def test_corrupted_bytes_inside_the_archive(saved, tmp_path):
    _, path, _ = saved
    data = bytearray(path.read_bytes())
    at = data.index(b"param/0.W.npy") + 200  # inside that array's data
    data[at] ^= 0xFF
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a readable fastdl model file .*CRC"):
        load_model(bad)


def test_lone_npy_file(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(3.0))
    with pytest.raises(ValueError, match="not a fastdl model file .not an .npz archive"):
        load_model(tmp_path / "a.npy")


def test_npz_without_architecture(saved, tmp_path):
    _, _, arrays = saved
    del arrays["architecture"]
    with pytest.raises(ValueError, match="not a fastdl model file .no architecture entry"):
        load_model(_write(tmp_path, arrays))


def _arch(layers=(), **top):
    """An architecture entry: the JSON text of ``top`` (format, version) and ``layers``."""
    return np.array(json.dumps({"format": "fastdl-model", "version": 1, "layers": layers, **top}))


def _dense(**config):
    return [{"type": "Dense", "config": config}]


@pytest.mark.parametrize(
    ("architecture", "message"),
    [
        (np.array("{not json"), "invalid fastdl architecture description: Expecting"),
        (np.array("[1, 2]"), "invalid fastdl architecture description"),
        (np.arange(3.0), "invalid fastdl architecture description"),
        (_arch(format="keras"), "format is 'keras', not 'fastdl-model'"),
        (_arch(version=99), "version 99 is not supported"),
        (_arch([{"type": "Conv3D", "config": {}}]), "invalid fastdl architecture description"),
        (
            _arch(_dense(in_features=0, out_features=2)),
            "invalid fastdl architecture description: in_features must be a positive int",
        ),
        (
            _arch(_dense(in_features=2, out_features=2, width=2)),
            "invalid fastdl architecture description: activation 'identity' .* got width",
        ),
        (
            _arch([{"type": "BatchNorm", "config": {"num_features": 2, "width": 2}}]),
            "invalid fastdl architecture description: .*unexpected keyword argument 'width'",
        ),
    ],
)
def test_bad_architecture(saved, tmp_path, architecture, message):
    _, _, arrays = saved
    with pytest.raises(ValueError, match=message):
        load_model(_write(tmp_path, {**arrays, "architecture": architecture}))


def test_mismatched_arrays(saved, tmp_path):
    _, _, arrays = saved
    wrong_shape = {**arrays, "param/0.W": np.zeros((6, 5), np.float32)}
    with pytest.raises(ValueError, match=r"param/0.W has shape \(6, 5\) float32, .* \(6, 4\)"):
        load_model(_write(tmp_path, wrong_shape))
    wrong_dtype = {**arrays, "buffer/1.running_var": np.ones(4, np.float64)}
    with pytest.raises(ValueError, match=r"buffer/1.running_var has shape \(4,\) float64"):
        load_model(_write(tmp_path, wrong_dtype))
    missing = {k: v for k, v in arrays.items() if k != "param/3.b"}
    with pytest.raises(ValueError, match=r"missing \['param/3.b'\], extra \[\]"):
        load_model(_write(tmp_path, missing))
    extra = {**arrays, "param/9.W": np.zeros(2, np.float32)}
    with pytest.raises(ValueError, match=r"missing \[\], extra \['param/9.W'\]"):
        load_model(_write(tmp_path, extra))
    # the arrays of another architecture
    other = mlp(input_size=6, hidden=(5,), output_size=3)
    arrays_other = {**arrays, "architecture": np.array(model_to_json(other))}
    with pytest.raises(ValueError, match="arrays do not match the architecture"):
        load_model(_write(tmp_path, arrays_other))


def test_missing_path_and_unsaveable_models(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nope.npz")
    with pytest.raises(TypeError, match="only Sequential models can be saved, got Dense"):
        save_model(Dense(2, 2), tmp_path / "d.npz")

    class MyDense(Dense):
        pass

    model = Sequential([Flatten(), MyDense(2, 2)])
    with pytest.raises(TypeError, match=r"layer 1 \(MyDense\) is not a built-in fastdl layer"):
        save_model(model, tmp_path / "m.npz")
    with pytest.raises(FileNotFoundError):
        save_model(mlp(input_size=2, hidden=()), tmp_path / "no_dir" / "m.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing half-written
