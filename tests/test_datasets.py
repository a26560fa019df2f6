"""Dataset loaders: bundled subsets, strict IDX reader, directory loading and offline download.

The facts hard-coded here (first labels, class counts) come from the data's
documentation (``/work/shared/data/README.md``, ``fastdl/data/NOTICE.md``). Tests that need the
shared copies under ``/work/shared/data`` are skipped where that directory does not exist. No test
reaches the network: ``urllib.request.urlopen`` is replaced for every test in this module.
"""

import gzip
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import fastdl
from fastdl import datasets
from fastdl.datasets import (
    FASHION_MNIST_CLASSES,
    FILES,
    MNIST_CLASSES,
    download,
    load_fashion_mnist,
    load_mnist,
    read_idx,
)

SHARED = Path("/work/shared/data")
FULL = SHARED / "full"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="no /work/shared/data here")
needs_full = pytest.mark.skipif(not FULL.is_dir(), reason="no /work/shared/data/full here")

KINDS = ("mnist", "fashion-mnist")
LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}
FACTS = {
    "mnist": {
        "first_train": [5, 0, 4, 1, 9, 2, 1, 3, 1, 4],
        "first_test": [7, 2, 1, 0, 4, 1, 4, 9, 5, 9],
        "train_counts": [479, 563, 488, 493, 535, 434, 501, 550, 462, 495],
        "test_counts": [85, 126, 116, 107, 110, 87, 87, 99, 89, 94],
        "full_train_counts": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
        "full_test_counts": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
    },
    "fashion-mnist": {
        "first_train": [9, 0, 0, 3, 0, 2, 7, 2, 5, 5],
        "first_test": [9, 2, 1, 1, 6, 1, 4, 6, 5, 7],
        "train_counts": [457, 556, 504, 501, 488, 493, 493, 512, 490, 506],
        "test_counts": [107, 105, 111, 93, 115, 87, 97, 95, 95, 95],
        "full_train_counts": [6000] * 10,
        "full_test_counts": [1000] * 10,
    },
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every test runs offline: opening a URL fails as it does without a network."""

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def bundled_dir(kind):
    return Path(str(resources.files("fastdl.data") / kind))


def raw(kind, path=None):
    """uint8 images (N, 28, 28) and int64 labels of ``kind``, straight from the files."""
    (x, t), (xt, tt) = LOADERS[kind](path, normalize=False, flatten=False, dtype=np.uint8)
    return x[:, 0], t, xt[:, 0], tt


def idx_bytes(arr):
    """Encode a uint8 array as IDX bytes (magic 0x000008 ndim, big-endian dims, data)."""
    header = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def copy_bundled(kind, directory):
    """Copy the four bundled files of ``kind`` into ``directory`` (created); return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for fname in FILES:
        shutil.copyfile(bundled_dir(kind) / fname, directory / fname)
    return directory


# --------------------------------------------------------------------------- bundled subsets


@pytest.mark.parametrize("kind", KINDS)
def test_bundled_defaults_match_documented_facts(kind):
    (x, t), (xt, tt) = LOADERS[kind]()
    facts = FACTS[kind]
    assert x.shape == (5000, 784) and xt.shape == (1000, 784)
    assert x.dtype == np.float32 and xt.dtype == np.float32
    assert t.shape == (5000,) and tt.shape == (1000,) and t.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0 and xt.min() == 0.0 and xt.max() == 1.0
    assert t[:10].tolist() == facts["first_train"]
    assert tt[:10].tolist() == facts["first_test"]
    assert np.bincount(t, minlength=10).tolist() == facts["train_counts"]
    assert np.bincount(tt, minlength=10).tolist() == facts["test_counts"]


@pytest.mark.parametrize("kind", KINDS)
def test_notice_lists_the_sha256_of_each_bundled_file(kind):
    notice = (bundled_dir(kind).parent / "NOTICE.md").read_text(encoding="utf-8")
    rows = {row.split("|")[1].strip(): row for row in notice.splitlines() if row.startswith("| ")}
    for fname in FILES:
        sha = hashlib.sha256((bundled_dir(kind) / fname).read_bytes()).hexdigest()
        assert sha in rows[f"{kind}/{fname}"]


@needs_shared
@pytest.mark.parametrize("kind", KINDS)
def test_bundled_files_are_the_shared_subset(kind):
    for fname in FILES:
        assert (bundled_dir(kind) / fname).read_bytes() == (SHARED / kind / fname).read_bytes()


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("one_hot", [True, False])
def test_textbook_options(normalize, flatten, one_hot):
    images, labels, _, _ = raw("mnist")
    (x, t), (xt, tt) = load_mnist(normalize=normalize, flatten=flatten, one_hot_label=one_hot)
    expected = images.astype(np.float32) / 255 if normalize else images.astype(np.float32)
    if flatten:
        assert x.shape == (5000, 784) and xt.shape == (1000, 784)
        expected = expected.reshape(5000, 784)  # (N, 784)
    else:
        assert x.shape == (5000, 1, 28, 28) and xt.shape == (1000, 1, 28, 28)
        expected = expected[:, None]  # (N, 1, 28, 28)
    np.testing.assert_array_equal(x, expected)
    assert x.dtype == np.float32 and x.max() == (1.0 if normalize else 255.0)
    if one_hot:
        assert t.shape == (5000, 10) and tt.shape == (1000, 10) and t.dtype == np.float32
        assert set(np.unique(t)) == {0.0, 1.0} and (t.sum(axis=1) == 1).all()
        np.testing.assert_array_equal(t.argmax(axis=1), labels)
    else:
        np.testing.assert_array_equal(t, labels)


def test_dtype_option_and_its_check():
    (x, t), _ = load_fashion_mnist(dtype=np.float64, one_hot_label=True)
    assert x.dtype == np.float64 and t.dtype == np.float64
    (x, _), _ = load_fashion_mnist(normalize=False, dtype=np.uint8)
    assert x.dtype == np.uint8 and x.max() == 255
    assert abs(x.mean() - 72.94) < 2  # documented full-set mean, the subset is close
    with pytest.raises(ValueError, match="floating dtype"):
        load_mnist(dtype=np.uint8)
    with pytest.raises(ValueError, match="unknown dataset 'kmnist'"):
        load_mnist(kind="kmnist")


def test_class_names():
    assert MNIST_CLASSES == tuple(str(d) for d in range(10))
    assert len(FASHION_MNIST_CLASSES) == 10
    assert FASHION_MNIST_CLASSES[0] == "T-shirt/top" and FASHION_MNIST_CLASSES[9] == "Ankle boot"


def test_bundled_data_lives_in_the_package():
    package_dir = Path(fastdl.__file__).resolve().parent
    for kind in KINDS:
        assert package_dir in bundled_dir(kind).resolve().parents
    assert "/work/shared" not in Path(datasets.__file__).read_text(encoding="utf-8")


def test_loaders_open_only_package_files():
    """In a fresh interpreter, the bundled loaders open the package's files and nothing shared."""
    code = textwrap.dedent(
        """
        import sys
        opened = []
        sys.addaudithook(lambda ev, args: opened.append(str(args[0])) if ev == "open" else None)
        import fastdl.datasets as d
        d.load_mnist()
        d.load_fashion_mnist()
        print("\\n".join(opened))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    opened = {os.path.realpath(p) for p in out.stdout.splitlines() if p.startswith("/")}
    assert not [p for p in opened if p.startswith("/work/shared")]
    for kind in KINDS:
        for fname in FILES:
            assert str((bundled_dir(kind) / fname).resolve()) in opened


# --------------------------------------------------------------------------- directories


@needs_full
@pytest.mark.parametrize("kind", KINDS)
def test_full_sets(kind):
    images, labels, test_images, test_labels = raw(kind, FULL / kind)
    facts = FACTS[kind]
    assert images.shape == (60000, 28, 28) and test_images.shape == (10000, 28, 28)
    assert labels[:10].tolist() == facts["first_train"]
    assert test_labels[:10].tolist() == facts["first_test"]
    assert np.bincount(labels, minlength=10).tolist() == facts["full_train_counts"]
    assert np.bincount(test_labels, minlength=10).tolist() == facts["full_test_counts"]
    # the bundled subset is the first 5,000 / 1,000 records
    sub = raw(kind)
    for full, n, part in zip(
        (images, labels, test_images, test_labels), (5000, 5000, 1000, 1000), sub
    ):
        np.testing.assert_array_equal(full[:n], part)


def test_uncompressed_files_are_accepted(tmp_path):
    for fname in FILES:
        data = gzip.decompress((bundled_dir("mnist") / fname).read_bytes())
        (tmp_path / fname[:-3]).write_bytes(data)
    for got, want in zip(raw("mnist", tmp_path), raw("mnist")):
        np.testing.assert_array_equal(got, want)


def test_missing_file_is_named(tmp_path):
    copy_bundled("mnist", tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_mnist(tmp_path)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg and str(tmp_path) in msg and "download=True" in msg
    assert "train-images" not in msg


# --------------------------------------------------------------------------- strict reader


def test_read_idx_roundtrip_path_and_fileobj(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)  # (2, 3, 4)
    (tmp_path / "a-idx3-ubyte").write_bytes(idx_bytes(arr))
    (tmp_path / "a-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    for source in (
        tmp_path / "a-idx3-ubyte",
        str(tmp_path / "a-idx3-ubyte.gz"),
        io.BytesIO(gzip.compress(idx_bytes(arr))),
    ):
        out = read_idx(source)
        np.testing.assert_array_equal(out, arr)
        assert out.dtype == np.uint8 and out.flags.writeable


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (idx_bytes(np.zeros((2, 28, 28), np.uint8))[:-10], r"truncated.*1568.*got 1558"),
        (idx_bytes(np.zeros((2, 28, 28), np.uint8))[:10], r"truncated header.*16 bytes.*got 10"),
        (b"\x00\x00", "too short"),
        (idx_bytes(np.zeros(5, np.uint8)) + b"\x00\x00\x00", r"3 trailing bytes after the 5"),
        (b"\x01\x02\x03\x04" + bytes(20), r"magic 16909060 \(0x01020304\)"),
        (b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + bytes(4), "type code 0x0d"),
    ],
    ids=["truncated-data", "truncated-header", "no-header", "trailing", "magic", "float-type"],
)
def test_read_idx_rejects_bad_files(tmp_path, data, match):
    path = tmp_path / "bad-idx-ubyte.gz"
    path.write_bytes(gzip.compress(data))
    with pytest.raises(ValueError, match=match) as err:
        read_idx(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ((bundled_dir("mnist") / FILES[0]).read_bytes()[:400_000], "truncated or corrupt gzip"),
        (b"<html><body>404 Not Found</body></html>", "not gzip-compressed"),
    ],
    ids=["truncated-gzip", "html-page"],
)
def test_read_idx_rejects_bad_gzip(tmp_path, body, match):
    path = tmp_path / FILES[0]
    path.write_bytes(body)
    with pytest.raises(ValueError, match=match) as err:
        read_idx(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("src", "dst", "match"),
    [
        (FILES[1], FILES[0], "train-images-idx3-ubyte.gz: expected magic 2051.*found magic 2049"),
        (FILES[3], FILES[1], "5000 images in .* but 1000 labels in"),
    ],
    ids=["labels-as-images", "count-mismatch"],
)
def test_loader_rejects_wrong_files(tmp_path, src, dst, match):
    copy_bundled("mnist", tmp_path)
    shutil.copyfile(tmp_path / src, tmp_path / dst)
    with pytest.raises(ValueError, match=match):
        load_mnist(tmp_path)


def test_loader_rejects_bad_labels_and_sizes(tmp_path):
    copy_bundled("mnist", tmp_path)
    labels = raw("mnist")[3].astype(np.uint8)
    labels[7] = 10
    (tmp_path / FILES[3]).write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(ValueError, match="label 10 found, expected 0..9"):
        load_mnist(tmp_path)
    copy_bundled("mnist", tmp_path)
    (tmp_path / FILES[2]).write_bytes(gzip.compress(idx_bytes(np.zeros((1000, 32, 32), np.uint8))))
    with pytest.raises(ValueError, match="32x32, expected 28x28"):
        load_mnist(tmp_path)


# --------------------------------------------------------------------------- download (offline)


@pytest.fixture
def serve(monkeypatch):
    """Replace ``datasets._fetch`` by a server of local files; return a configurator.

    ``serve(source_dir, bodies=None, fail=())`` serves ``source_dir / <basename of URL>``;
    ``bodies`` maps a file name to the bytes to serve instead; a URL starting with a prefix in
    ``fail`` raises ``URLError``. The URLs asked for are collected in ``serve.urls``.
    """
    urls = []

    def configure(source_dir, bodies=None, fail=()):
        def fake_fetch(url):
            urls.append(url)
            if url.startswith(tuple(fail)):
                raise urllib.error.URLError("mirror down")
            fname = url.rsplit("/", 1)[1]
            return (bodies or {}).get(fname) or (Path(source_dir) / fname).read_bytes()

        monkeypatch.setattr(datasets, "_fetch", fake_fetch)

    configure.urls = urls
    return configure


@pytest.fixture
def subset_checksums(monkeypatch):
    """Make the checksum table expect the bundled subsets, so they can stand in for a mirror."""
    for kind in KINDS:
        contents = [gzip.decompress((bundled_dir(kind) / f).read_bytes()) for f in FILES]
        md5s = [hashlib.md5(c).hexdigest() for c in contents]
        monkeypatch.setitem(datasets.MD5, kind, dict(zip(FILES, md5s)))


def corrupted(kind, fname):
    """The bundled ``fname`` with one byte of its content changed, gzip-compressed again."""
    content = bytearray(gzip.decompress((bundled_dir(kind) / fname).read_bytes()))
    content[-1] = (content[-1] + 1) % 10
    return gzip.compress(bytes(content))


@pytest.mark.parametrize("kind", KINDS)
def test_download_success(tmp_path, serve, subset_checksums, kind):
    serve(bundled_dir(kind))
    target = tmp_path / "new" / kind
    assert download(kind, target) == target
    assert sorted(os.listdir(target)) == sorted(FILES)
    for fname in FILES:
        assert (target / fname).read_bytes() == (bundled_dir(kind) / fname).read_bytes()
    assert serve.urls == [datasets.MIRRORS[kind][0] + fname for fname in FILES]
    download(kind, target)  # present files are kept, nothing fetched
    assert len(serve.urls) == 4
    download(kind, target, force=True)
    assert len(serve.urls) == 8


@needs_full
@pytest.mark.parametrize("kind", KINDS)
def test_download_verifies_official_checksums(tmp_path, serve, kind):
    serve(FULL / kind)
    download(kind, tmp_path)
    for fname in FILES:
        assert (tmp_path / fname).read_bytes() == (FULL / kind / fname).read_bytes()


def test_download_falls_back_to_the_next_mirror(tmp_path, serve, subset_checksums):
    first, second = datasets.MIRRORS["mnist"]
    serve(bundled_dir("mnist"), fail=[first])
    download("mnist", tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted(FILES)
    assert serve.urls[:2] == [first + FILES[0], second + FILES[0]]


def test_checksum_mismatch_writes_nothing(tmp_path, serve, subset_checksums):
    serve(bundled_dir("mnist"), bodies={FILES[3]: corrupted("mnist", FILES[3])})
    with pytest.raises(ValueError, match="checksum mismatch .*t10k-labels") as err:
        download("mnist", tmp_path)
    for mirror in datasets.MIRRORS["mnist"]:
        assert mirror + FILES[3] in str(err.value)
    assert sorted(os.listdir(tmp_path)) == sorted(FILES[:3])  # no partial or temporary file


def test_html_error_page_is_a_mismatch(tmp_path, serve, subset_checksums):
    serve(bundled_dir("fashion-mnist"), bodies={FILES[0]: b"<html>AccessDenied</html>"})
    with pytest.raises(ValueError, match="not a valid gzip stream"):
        download("fashion-mnist", tmp_path)
    assert os.listdir(tmp_path) == []


def test_failed_write_leaves_no_file(tmp_path, serve, subset_checksums, monkeypatch):
    serve(bundled_dir("mnist"))

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(datasets.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        download("mnist", tmp_path)
    assert os.listdir(tmp_path) == []


def test_no_network_message(tmp_path):
    with pytest.raises(OSError) as err:
        download("fashion-mnist", tmp_path / "fm")
    msg = str(err.value)
    assert "network disabled in tests" in msg and "by hand" in msg and "path=" in msg
    assert datasets.MIRRORS["fashion-mnist"][0] in msg
    assert os.listdir(tmp_path / "fm") == []
    with pytest.raises(OSError, match="path="):
        load_mnist(tmp_path / "m", download=True)


@pytest.mark.parametrize("kind", KINDS)
def test_loader_downloads_missing_files(tmp_path, serve, subset_checksums, kind):
    serve(bundled_dir(kind))
    (tmp_path / FILES[0]).write_bytes((bundled_dir(kind) / FILES[0]).read_bytes())
    (x, t), (xt, tt) = LOADERS[kind](tmp_path, download=True)
    assert x.shape == (5000, 784) and xt.shape == (1000, 784)
    assert tt[:10].tolist() == FACTS[kind]["first_test"]
    assert serve.urls == [datasets.MIRRORS[kind][0] + fname for fname in FILES[1:]]
