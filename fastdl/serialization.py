"""Save and load models: one ``.npz`` holding the arrays and a JSON architecture description.

No pickle is involved: the file holds plain numeric arrays (``param/<key>``, ``buffer/<key>``)
and the architecture as a JSON string (``architecture``), read back with
``np.load(..., allow_pickle=False)``. A round trip restores every array bit for bit, so
predictions are identical.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from typing import Any

import numpy as np
import numpy.typing as npt

from .layers import LAYERS, Sequential

FORMAT = "fastdl-model"
VERSION = 1


def model_to_json(model: Sequential) -> str:
    """The architecture of a ``Sequential`` model as a JSON string."""
    if not isinstance(model, Sequential):
        raise TypeError(f"only Sequential models can be saved, got {type(model).__name__}")
    layers = []
    for i, layer in enumerate(model.layers):
        kind = type(layer).__name__
        if LAYERS.get(kind) is not type(layer):
            raise TypeError(f"layer {i} ({kind}) is not a built-in fastdl layer; cannot save it")
        layers.append({"type": kind, "config": layer.config()})
    return json.dumps({"format": FORMAT, "version": VERSION, "layers": layers}, indent=1)


def _declared_entries(kind: str, config: dict[str, Any]) -> int:
    """Entries the parameters and buffers of a layer of ``kind`` with ``config`` will hold.

    Counted before the layer is built, so that a file declaring huge layers is refused before
    anything is allocated. Non-integer sizes count 1 here; the layer's constructor rejects them.
    """

    def size(key: str) -> int:
        val = config.get(key, 1)
        vals = val if isinstance(val, list) and len(val) == 2 else [val, val]
        if key != "kernel_size":
            vals = vals[:1]
        return math.prod(v if isinstance(v, int) and not isinstance(v, bool) else 1 for v in vals)

    if kind == "Dense":
        return (size("in_features") + 1) * size("out_features")
    if kind == "Conv2D":
        return (size("in_channels") * size("kernel_size") + 1) * size("out_channels")
    if kind == "BatchNorm":
        return 4 * size("num_features")  # gamma, beta, running mean and variance
    return 0


def model_from_json(text: str, max_entries: int | None = None) -> Sequential:
    """Build a ``Sequential`` from :func:`model_to_json` output, with all-zero weights.

    :func:`load_model` fills in the weights; each layer keeps the recorded ``init`` in its
    config, so the architecture survives a save/load/save cycle unchanged.

    Parameters
    ----------
    text : str
    max_entries : int, optional
        Refuse (``ValueError``), before allocating, an architecture whose parameters and
        buffers would hold more entries in total (``load_model``: the entries its file holds,
        plus 2**20).
    """
    try:
        arch = json.loads(text)
        if not isinstance(arch, dict):
            raise ValueError(f"the description must be a JSON object, got {type(arch).__name__}")
        if arch.get("format") != FORMAT:
            raise ValueError(f"format is {arch.get('format')!r}, not {FORMAT!r}")
        if arch.get("version") != VERSION:
            raise ValueError(f"version {arch.get('version')!r} is not supported ({VERSION})")
        specs = arch.get("layers")
        if not isinstance(specs, list):
            raise ValueError(f"'layers' must be a list of layers, got {type(specs).__name__}")
        layers: list[Any] = []  # Dense and Conv2D get their recorded init back below
        declared = 0
        for i, spec in enumerate(specs):
            if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
                raise ValueError(f"layer {i} must be an object with 'type' and a 'config' object")
            if spec.get("type") not in LAYERS:
                raise ValueError(f"layer {i} has unknown type {spec.get('type')!r}")
            declared += _declared_entries(spec["type"], spec["config"])
            if max_entries is not None and declared > max_entries:
                raise ValueError(
                    f"layers 0-{i} declare {declared:,} parameter entries, more than the "
                    f"{max_entries:,} allowed: refusing to allocate them (tampered file?)"
                )
            cls = LAYERS[spec["type"]]
            config = dict(spec["config"])
            if "init" in config:  # the weights are loaded next: skip drawing them
                init, config["init"] = config["init"], "zeros"
                layers.append(cls(**config))
                layers[-1].init = init
            else:
                layers.append(cls(**config))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"invalid fastdl architecture description: {exc}") from exc
    return Sequential(layers)


def save_model(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Write ``model`` (architecture + parameters + buffers) to ``path`` (a ``.npz`` file).

    The file is written to a temporary name and renamed, so an interrupted save never leaves a
    truncated model behind.
    """
    path = os.fspath(path)
    arrays: dict[str, Any] = {"architecture": np.array(model_to_json(model))}
    arrays.update({f"param/{k}": v for k, v in model.params.items()})
    arrays.update({f"buffer/{k}": v for k, v in model.buffers.items()})
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_model(path: str | os.PathLike[str]) -> Sequential:
    """Read a model written by :func:`save_model`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a fastdl model, is corrupted or truncated, or its arrays do not fit
        the architecture it describes (missing, extra, wrong shape or dtype).
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:  # a missing file raises FileNotFoundError here
        is_npz = zipfile.is_zipfile(fh)
    if not is_npz:  # np.load would suggest unpickling it, or return a lone .npy array
        raise ValueError(f"{path}: not a fastdl model file (not an .npz archive: corrupted?)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError) as exc:
        raise ValueError(f"{path}: not a readable fastdl model file ({exc})") from exc
    if "architecture" not in arrays:
        raise ValueError(f"{path}: not a fastdl model file (no architecture entry)")
    # the architecture string is one entry; the margin lets a file that lacks a few small arrays
    # be built and told exactly which (below), while a huge declared layer is refused up front
    held = sum(a.size for a in arrays.values()) - 1
    model = model_from_json(str(arrays.pop("architecture")), max_entries=held + 2**20)
    _load_arrays(path, model, arrays)
    return model


def _load_arrays(path: str, model: Sequential, arrays: dict[str, npt.NDArray[Any]]) -> None:
    targets = {f"param/{k}": v for k, v in model.params.items()}
    targets.update({f"buffer/{k}": v for k, v in model.buffers.items()})
    missing = sorted(set(targets) - set(arrays))
    extra = sorted(set(arrays) - set(targets))
    if missing or extra:
        raise ValueError(
            f"{path}: arrays do not match the architecture: missing {missing}, extra {extra}"
        )
    for key, target in targets.items():
        src = arrays[key]
        if src.shape != target.shape or src.dtype != target.dtype:
            raise ValueError(
                f"{path}: {key} has shape {src.shape} {src.dtype}, the architecture needs "
                f"{target.shape} {target.dtype}"
            )
        target[...] = src
