"""MNIST and Fashion-MNIST loaders with the options of the textbook's ``dataset/mnist.py``.

Without a path, :func:`load_mnist` and :func:`load_fashion_mnist` return a real subset bundled
with fastdl: the first 5,000 training and first 1,000 test records of the official files
(licence and provenance in ``fastdl/data/NOTICE.md``). With ``path=DIR`` they read the four
official IDX files from ``DIR``; ``download=True`` first fetches the missing ones from the
official mirrors (see :func:`download`). Every file goes through the strict reader
:func:`read_idx`, so a truncated, mislabelled or wrong file raises ``ValueError`` naming the file
instead of giving silently wrong data.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import struct
import tempfile
import urllib.request
import zlib
from importlib import resources
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import numpy.typing as npt

MNIST_CLASSES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# Official file names, in the order train images, train labels, test images, test labels.
FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}

# Official MD5 of each file's DECOMPRESSED content (the gzip wrappers differ between mirrors).
MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte.gz": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

Split = tuple[npt.NDArray[Any], npt.NDArray[Any]]  # (x, t) of one split

IMAGE_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (N, rows, cols)
LABEL_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (N,)
_GZIP_MAGIC = b"\x1f\x8b"
_TIMEOUT = 60  # seconds per request


def read_idx(source: str | os.PathLike[str] | IO[bytes]) -> npt.NDArray[np.uint8]:
    """Read an unsigned-byte IDX file (gzip-compressed or not) strictly.

    Parameters
    ----------
    source : str, os.PathLike or binary file object
        The file. Gzip compression is detected from the content (bytes ``1f 8b``); a path whose
        name ends in ``.gz`` must be gzip-compressed.

    Returns
    -------
    numpy.ndarray of uint8
        Shape given by the header: ``(N, rows, cols)`` for an image file (magic 2051),
        ``(N,)`` for a label file (magic 2049). A fresh, writeable array.

    Raises
    ------
    ValueError
        Naming the file: a ``.gz`` name on data that is not gzip, a truncated or corrupt gzip
        stream, a magic number that is not ``00 00 08 ndim`` (the magic found is given), a
        truncated header or payload (expected vs actual bytes), or trailing bytes.
    """
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        with open(name, "rb") as fh:
            data = fh.read()
        if name.endswith(".gz") and not data.startswith(_GZIP_MAGIC):
            raise ValueError(
                f"{name}: named .gz but not gzip-compressed (starts with {data[:16]!r}); a failed "
                f"download often leaves an HTML error page: delete the file and fetch it again"
            )
    else:
        name = str(getattr(source, "name", "<file object>"))
        data = source.read()
    return _parse_idx(_gunzip(data, name), name)


def _gunzip(data: bytes, name: str) -> bytes:
    """Decompress ``data`` if it starts with the gzip magic, else return it unchanged."""
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{name}: truncated or corrupt gzip data ({exc})") from exc


def _parse_idx(data: bytes, name: str) -> npt.NDArray[np.uint8]:
    """Decode the IDX bytes ``data`` (see :func:`read_idx`)."""
    if len(data) < 4:
        raise ValueError(f"{name}: {len(data)} bytes is too short for an IDX header")
    magic = int.from_bytes(data[:4], "big")
    code, ndim = data[2], data[3]
    if data[:2] != b"\x00\x00" or ndim == 0:
        raise ValueError(
            f"{name}: not an IDX file: magic {magic} (0x{magic:08x}) found, expected "
            f"0x000008nn ({IMAGE_MAGIC} for images, {LABEL_MAGIC} for labels)"
        )
    if code != 0x08:
        raise ValueError(
            f"{name}: IDX type code 0x{code:02x} (magic {magic}) is not supported; "
            f"only unsigned bytes (0x08)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{name}: truncated header: expected {header} bytes for {ndim} dimensions, "
            f"got {len(data)}"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected, actual = math.prod(dims), len(data) - header
    if actual < expected:
        raise ValueError(
            f"{name}: truncated: shape {dims} needs {expected} data bytes after the "
            f"{header}-byte header, got {actual}"
        )
    if actual > expected:
        raise ValueError(
            f"{name}: {actual - expected} trailing bytes after the {expected} data bytes of "
            f"shape {dims}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()  # dims


def load_mnist(
    path: str | os.PathLike[str] | None = None,
    *,
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    dtype: npt.DTypeLike = np.float32,
    kind: str = "mnist",
    download: bool = False,
) -> tuple[Split, Split]:
    """Load MNIST (or, with ``kind="fashion-mnist"``, Fashion-MNIST) like the textbook.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Directory holding the four official files ``train-images-idx3-ubyte.gz``,
        ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
        ``t10k-labels-idx1-ubyte.gz`` (the uncompressed names without ``.gz`` are accepted
        too). ``None`` (default) uses the bundled real subset: the first 5,000 training and
        first 1,000 test records of the official files.
    normalize : bool
        Scale pixels to ``[0, 1]`` (``x / 255``); otherwise keep the values 0..255.
    flatten : bool
        Images as rows of 784 values, ``(N, 784)``; otherwise ``(N, 1, 28, 28)``.
    one_hot_label : bool
        Labels as one-hot rows ``(N, 10)`` of ``dtype``; otherwise class indices ``(N,)``
        of int64.
    dtype : numpy dtype
        dtype of the images (and one-hot labels). Must be floating when ``normalize``;
        ``dtype=np.uint8, normalize=False`` gives the raw bytes.
    kind : {"mnist", "fashion-mnist"}
        Which dataset.
    download : bool
        With ``path``: fetch the missing files from the official mirrors first
        (see :func:`download`). Ignored without ``path``.

    Returns
    -------
    ((x_train, t_train), (x_test, t_test)) : tuple of tuples of numpy.ndarray
        ``x_*`` of shape ``(N, 784)`` or ``(N, 1, 28, 28)``; ``t_*`` of shape ``(N,)`` or
        ``(N, 10)``. N = 60,000 / 10,000 for the full sets, 5,000 / 1,000 bundled.

    Raises
    ------
    FileNotFoundError
        A file is missing in ``path`` (and ``download`` is false).
    ValueError
        A file is not a valid IDX file of the expected kind (see :func:`read_idx`), images and
        labels disagree in count, images are not 28x28, or a label is outside 0..9.
    OSError
        ``download=True`` but the files cannot be fetched (see :func:`download`).
    """
    _check_kind(kind)
    dtype = np.dtype(dtype)
    if normalize and dtype.kind != "f":
        raise ValueError(f"normalize=True needs a floating dtype, got {dtype}")
    if path is None:
        arrays, names = _read_bundled(kind)
    else:
        names = [os.fspath(p) for p in _dir_files(kind, Path(path), download)]
        arrays = [read_idx(p) for p in names]
    train, test = (
        _split(arrays[i : i + 2], names[i : i + 2], normalize, flatten, one_hot_label, dtype)
        for i in (0, 2)
    )
    return train, test


def load_fashion_mnist(
    path: str | os.PathLike[str] | None = None,
    *,
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    dtype: npt.DTypeLike = np.float32,
    download: bool = False,
) -> tuple[Split, Split]:
    """Load Fashion-MNIST: :func:`load_mnist` with ``kind="fashion-mnist"``.

    Same parameters, return value ``((x_train, t_train), (x_test, t_test))`` and errors as
    :func:`load_mnist`; class names in :data:`FASHION_MNIST_CLASSES`.
    """
    return load_mnist(
        path,
        normalize=normalize,
        flatten=flatten,
        one_hot_label=one_hot_label,
        dtype=dtype,
        kind="fashion-mnist",
        download=download,
    )


def download(name: str, directory: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Download the four official files of a dataset into ``directory``, verified.

    Each file is checked against the official MD5 of its **decompressed** IDX content (table
    :data:`MD5`), not of the ``.gz`` bytes, because the gzip wrappers differ between mirrors.
    Mirrors (:data:`MIRRORS`) are tried in order until one serves a verified file. A file is
    written to a temporary file in ``directory`` and renamed into place, so an interrupted or
    failed download never leaves a partial file.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
    directory : str or os.PathLike
        Created if needed.
    force : bool
        Download again even when a file (compressed or uncompressed name) is already present;
        otherwise present files are kept as they are.

    Returns
    -------
    pathlib.Path
        ``directory``, to pass as ``path=`` to the loaders.

    Raises
    ------
    ValueError
        A mirror served content whose MD5 does not match; nothing is written for that file.
    OSError
        No mirror could be reached (e.g. no network): the message says how to download the
        files by hand and pass ``path=``.
    """
    _check_kind(name)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for fname in FILES:
        target = directory / fname
        if not force and (target.is_file() or (directory / fname[:-3]).is_file()):
            continue
        _save_atomic(target, _fetch_verified(name, fname))
    return directory


def _fetch(url: str) -> bytes:
    """Return the bytes served at ``url`` (the only function that touches the network)."""
    request = urllib.request.Request(url, headers={"User-Agent": "fastdl"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
        return response.read()


def _fetch_verified(name: str, fname: str) -> bytes:
    """Return the bytes of ``fname`` from the first mirror whose content has the official MD5."""
    expected = MD5[name][fname]
    failures, mismatch = [], False
    for base in MIRRORS[name]:
        url = base + fname
        try:
            data = _fetch(url)
        except (OSError, http.client.HTTPException) as exc:
            failures.append(f"{url}: {exc}")
            continue
        found = _content_md5(data)
        if found == expected:
            return data
        mismatch = True
        failures.append(f"{url}: MD5 of the decompressed content is {found}, expected {expected}")
    detail = "; ".join(failures)
    if mismatch:
        raise ValueError(f"checksum mismatch for {name} {fname}, nothing written: {detail}")
    raise OSError(
        f"could not download {name} {fname} ({detail}). Without network access, download the "
        f"four files {', '.join(FILES)} by hand (e.g. from {MIRRORS[name][0]}) into a "
        f"directory and pass path=<that directory>"
    )


def _content_md5(data: bytes) -> str:
    """MD5 hex digest of the decompressed gzip ``data``, or a note when it is not gzip."""
    try:
        content = gzip.decompress(data)
    except (EOFError, OSError, zlib.error):
        return f"(not a valid gzip stream: starts with {data[:16]!r})"
    return hashlib.md5(content, usedforsecurity=False).hexdigest()


def _save_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file in the same directory."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def _check_kind(kind: str) -> None:
    if kind not in MIRRORS:
        raise ValueError(f"unknown dataset {kind!r}; expected one of {sorted(MIRRORS)}")


def _read_bundled(kind: str) -> tuple[list[npt.NDArray[np.uint8]], list[str]]:
    """Read the bundled subset of ``kind`` from the package data; return (arrays, names)."""
    root = resources.files("fastdl.data") / kind
    arrays = []
    for fname in FILES:
        with (root / fname).open("rb") as fh:
            arrays.append(read_idx(fh))
    return arrays, [f"fastdl/data/{kind}/{fname} (bundled)" for fname in FILES]


def _find(directory: Path) -> tuple[list[Path | None], list[str]]:
    """Return (paths found, official names missing) in ``directory``; .gz names first."""
    found = [
        next((p for p in (directory / f, directory / f[:-3]) if p.is_file()), None) for f in FILES
    ]
    return found, [fname for fname, p in zip(FILES, found) if p is None]


def _dir_files(kind: str, directory: Path, download_missing: bool) -> list[Path]:
    """Paths of the four files of ``kind`` in ``directory``, downloading missing ones if asked."""
    found, missing = _find(directory)
    if missing and download_missing:
        download(kind, directory)
        found, missing = _find(directory)
    if missing:
        raise FileNotFoundError(
            f"{kind}: missing {', '.join(missing)} in directory {directory} (the uncompressed "
            f"names without .gz are accepted too); pass download=True to fetch them from the "
            f"official mirrors, or path=None for the bundled 5,000/1,000 subset"
        )
    return cast("list[Path]", found)  # none is missing


def _split(
    arrays: list[npt.NDArray[np.uint8]],
    names: list[str],
    normalize: bool,
    flatten: bool,
    one_hot: bool,
    dtype: np.dtype[Any],
) -> Split:
    """Check and convert one split: uint8 images (N, 28, 28) and labels (N,) -> (x, t)."""
    (images, labels), (image_name, label_name) = arrays, names
    for arr, ndim, magic, name in (
        (images, 3, IMAGE_MAGIC, image_name),
        (labels, 1, LABEL_MAGIC, label_name),
    ):
        if arr.ndim != ndim:
            raise ValueError(
                f"{name}: expected magic {magic} (IDX {ndim}-D), found magic {0x800 + arr.ndim}"
            )
    if images.shape[1:] != (28, 28):
        rows, cols = images.shape[1:]
        raise ValueError(f"{image_name}: images are {rows}x{cols}, expected 28x28")
    n = len(images)
    if n != len(labels):
        raise ValueError(f"{n} images in {image_name} but {len(labels)} labels in {label_name}")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{label_name}: label {labels.max()} found, expected 0..9")
    x = images.astype(dtype, copy=False)
    if normalize:
        x /= 255
    if flatten:
        x = x.reshape(n, 28 * 28)  # (N, 784)
    else:
        x = x.reshape(n, 1, 28, 28)  # (N, 1, 28, 28)
    t = np.eye(10, dtype=dtype)[labels] if one_hot else labels.astype(np.int64)  # (N, 10) / (N,)
    return x, t
