"""Check the backward pass of your own layers against central differences.

:func:`gradcheck` compares the gradients a layer computes in ``backward`` with numerical
gradients of the scalar ``L = sum(y * G)``, where ``y = forward(x)`` and ``G`` is a fixed
(seeded) random array of ``y``'s shape, so that ``backward`` receives ``dout = G``.

What can be checked
-------------------
1. **A layer object** with the textbook protocol: ``layer.forward(x, **forward_kwargs) -> y``
   and ``layer.backward(dout) -> dx``, where ``backward`` uses what the last ``forward`` cached
   (``self.x``, ``self.mask``, ...). Its parameters are found in one of two ways:

   a. *dict style* (default): ``layer.params`` is a ``dict`` name -> ndarray and ``backward``
      leaves the gradients in ``layer.grads``, a ``dict`` with the same keys and shapes. The two
      attribute names are set with ``params_attr=`` and ``grads_attr=``. A layer without a
      ``params`` attribute (``Relu``, ``Sigmoid``) has only ``dx`` checked.
   b. *attribute style*: ``param_names={"W": "dW", "b": "db"}`` means the parameter
      ``layer.W`` has its gradient in ``layer.dW`` after ``backward``. ``param_names={}``
      checks ``dx`` only.

2. **A plain pair of functions**: ``gradcheck(f, x, backward=df)`` with
   ``f(x, **forward_kwargs) -> y`` and ``df(dout, x) -> dx``. To check the gradient with respect
   to a weight, make the weight the argument: ``gradcheck(lambda W: f(x0, W), W0, backward=...)``.

Guarantees and caveats
----------------------
* Everything is computed on float64 copies: ``x`` is copied, and each parameter is replaced by
  a float64 copy in ``layer.params`` (or ``layer.W``) for the duration of the check; so are the
  existing gradient arrays and the layer's state in ``layer.buffers`` (BatchNorm's running
  statistics) and in the attributes named by ``state_names``. The user's arrays are never
  written, and these containers (``layer.params``, ``layer.grads``, ``layer.buffers``,
  ``layer.W``, ``layer.dW``, ...) hold exactly the same objects afterwards, also when the
  check raises. ``backward`` gets a fresh copy of ``G`` on every call, so layers
  that modify ``dout`` in place (``dout[mask] = 0``) are fine. ``forward_kwargs`` values (e.g.
  labels ``t``) are passed as they are.
* ``forward`` must be deterministic: fix the dropout mask, or re-seed its generator at the
  start of every ``forward`` call. By default ``forward`` is run twice on the same input and
  a ``ValueError`` is raised if the outputs differ.
* Central differences need a smooth function: keep inputs away from kinks (``Relu`` at 0, ties
  in max pooling) by more than ``eps``.
* A layer that computes in float32 whatever its inputs are cannot be checked with float64
  tolerances; the result then carries a note.
* ``forward`` gets a fresh copy of the (perturbed) input on every call. Other state of the
  layer (``self.x``, caches) is left as the last call set it.
* A scalar output (a loss layer) gets ``dout = 1.0`` unless ``dout=`` is given.

Method
------
Each gradient is compared with ``(L(t + eps e) - L(t - eps e)) / (2 eps)`` in float64: for
every element ``e`` (full mode), or for random unit directions ``e = v`` against ``<grad, v>``
plus a sample of single elements (random mode, for large tensors). A check passes iff
``|analytic - numeric| <= atol + rtol * |numeric|``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._gradcheck_report import (
    DirectionError,
    ElementError,
    GradcheckResult,
    TensorCheck,
    compare_tensor,
)

__all__ = ["DirectionError", "ElementError", "GradcheckResult", "TensorCheck", "gradcheck"]

_MISSING = object()
_MODES = ("auto", "full", "random")
_SALT = 0x67726164  # keeps G and the directions apart from the user's default_rng(seed) draws


def _rng(seed: int, *purpose: int) -> np.random.Generator:
    """Generator for ``seed`` and a purpose, independent of ``np.random.default_rng(seed)``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SALT, *purpose)))


class _Probes:
    """The linear functionals of one gradient tensor that get checked.

    ``n_dirs`` random unit directions (regenerated from ``seed`` when needed, never stored)
    followed by single elements at the flat indices ``index`` (``(n_elem,)``).
    """

    def __init__(self, size: int, index: np.ndarray, n_dirs: int, seed: tuple):
        self.size, self.index, self.n_dirs, self.seed = size, index, n_dirs, seed

    def direction(self, j: int) -> np.ndarray:
        v = _rng(*self.seed, j).standard_normal(self.size)  # (size,)
        return v / np.linalg.norm(v)

    def values(self, grad: np.ndarray) -> np.ndarray:
        """The ``(n_dirs + n_elem,)`` checks evaluated at ``grad`` (``size`` elements)."""
        flat = grad.reshape(-1)  # (size,)
        dirs = [flat @ self.direction(j) for j in range(self.n_dirs)]
        return np.concatenate([np.asarray(dirs, dtype=np.float64), flat[self.index]])


class _Slot:
    """A parameter of a layer object: where its value and its gradient live.

    Dict style: ``layer.<params_attr>[name]`` and ``layer.<grads_attr>[name]``. Attribute style
    (``grad_name`` given): ``layer.<name>`` and ``layer.<grad_name>``.
    """

    def __init__(self, layer, name, params_attr=None, grads_attr=None, grad_name=None):
        self.layer, self.name, self.dicts = layer, name, (params_attr, grads_attr)
        self.keys = (name, name if grad_name is None else grad_name)
        self.labels = tuple(
            key if attr is None else f"{attr}[{key!r}]" for attr, key in zip(self.dicts, self.keys)
        )

    def read(self, which: int):
        """The parameter (``which=0``) or its gradient (``1``), or ``_MISSING``."""
        attr, key = self.dicts[which], self.keys[which]
        if attr is None:
            return getattr(self.layer, key, _MISSING)
        holder = getattr(self.layer, attr, None)
        return holder.get(key, _MISSING) if isinstance(holder, dict) else _MISSING


class _AttrSnapshot:
    """An attribute of ``obj`` (and, for a dict, its items) to put back after the check."""

    def __init__(self, obj, attr: str):
        self.obj, self.attr = obj, attr
        self.value = getattr(obj, attr, _MISSING)
        self.items = dict(self.value) if isinstance(self.value, dict) else None

    def restore(self) -> None:
        if self.value is _MISSING:
            if hasattr(self.obj, self.attr):
                delattr(self.obj, self.attr)
            return
        if getattr(self.obj, self.attr, _MISSING) is not self.value:
            setattr(self.obj, self.attr, self.value)
        if self.items is not None:
            self.value.clear()
            self.value.update(self.items)

    def install_copies(self) -> None:
        """Replace the array (or the dict's arrays) by private copies, float ones as float64."""
        if self.items is not None:
            for key, v in self.items.items():
                if isinstance(v, np.ndarray):
                    self.value[key] = _private_copy(v)
        elif isinstance(self.value, np.ndarray):
            setattr(self.obj, self.attr, _private_copy(self.value))


def _private_copy(a: np.ndarray) -> np.ndarray:
    return np.array(a, dtype=np.float64 if a.dtype.kind == "f" else a.dtype, order="C")


def _float64_copy(a, what: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{what} must be a real numeric array, got dtype {arr.dtype}")
    return np.array(arr, dtype=np.float64, order="C", copy=True)


def _as_output(y, what: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{what} returned {type(y).__name__}; expected a real numeric array")
    return arr


def _layer_slots(layer, params_attr, grads_attr, param_names, state_attrs) -> tuple:
    """``(slots, snapshots)`` of a layer object; see the module docstring for the protocol."""
    state = [_AttrSnapshot(layer, a) for a in state_attrs if hasattr(layer, a)]
    if param_names is not None:
        snaps = [_AttrSnapshot(layer, a) for pair in param_names.items() for a in pair] + state
        for name in param_names:
            if not hasattr(layer, name):
                raise ValueError(
                    f"param_names names {name!r} but the layer has no attribute layer.{name}"
                )
        return [_Slot(layer, p, grad_name=g) for p, g in param_names.items()], snaps
    params = getattr(layer, params_attr, _MISSING)
    if params is _MISSING:
        return [], state
    if not isinstance(params, dict):
        raise TypeError(
            f"layer.{params_attr} must be a dict name -> ndarray, got {type(params).__name__}; "
            f"for attribute-style layers pass param_names={{'W': 'dW', ...}}"
        )
    snaps = [_AttrSnapshot(layer, params_attr), _AttrSnapshot(layer, grads_attr), *state]
    return [_Slot(layer, name, params_attr, grads_attr) for name in params], snaps


def _read_grad(slot: _Slot, shape: tuple) -> np.ndarray:
    """Float64 copy of the gradient ``backward`` left for ``slot``, checked against ``shape``."""
    g = slot.read(1)
    where = f"layer.{slot.labels[1]}"
    if g is _MISSING:
        raise ValueError(f"{where} does not exist after backward(); it must hold the gradient")
    g = np.asarray(g)
    if g.shape != shape:
        looks = " (looks transposed)" if g.shape == shape[::-1] and g.ndim > 1 else ""
        raise ValueError(
            f"{where} has shape {g.shape} but layer.{slot.labels[0]} has shape {shape}{looks}"
        )
    return _float64_copy(g, where)


def _numeric(evaluate: Callable, arr: np.ndarray, G: np.ndarray, probes: _Probes, eps: float):
    """Central differences of ``sum(y * G)`` along every probe of ``arr`` (perturbed in place)."""
    flat = arr.reshape(-1)  # (arr.size,) view: arr is C-contiguous
    original = flat.copy()
    out = np.empty(probes.n_dirs + probes.index.size)
    try:
        for j in range(probes.n_dirs):
            v = probes.direction(j)
            flat[:] = original + eps * v
            y_plus = evaluate()
            flat[:] = original - eps * v
            out[j] = np.sum((y_plus - evaluate()) * G) / (2.0 * eps)
            flat[:] = original
        for j, i in enumerate(probes.index, start=probes.n_dirs):
            flat[i] = original[i] + eps
            y_plus = evaluate()
            flat[i] = original[i] - eps
            out[j] = np.sum((y_plus - evaluate()) * G) / ((original[i] + eps) - (original[i] - eps))
            flat[i] = original[i]
    finally:
        flat[:] = original
    return out


def gradcheck(
    layer: Any,
    x: Any,
    *,
    backward: Callable | None = None,
    forward_kwargs: dict | None = None,
    params_attr: str = "params",
    grads_attr: str = "grads",
    param_names: dict | None = None,
    buffers_attr: str | None = "buffers",
    state_names: tuple = (),
    dout: Any = None,
    mode: str = "auto",
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    max_full_size: int = 2000,
    n_directions: int = 10,
    n_spot: int = 20,
    n_worst: int = 5,
    seed: int = 0,
    check_determinism: bool = True,
) -> GradcheckResult:
    """Check ``dx`` and every parameter gradient of ``layer`` by central differences.

    Parameters
    ----------
    layer : object or callable
        A layer with ``forward(x, **forward_kwargs) -> y`` and ``backward(dout) -> dx``, or,
        with ``backward=``, a function ``f(x, **forward_kwargs) -> y`` (see the module
        docstring for the protocol).
    x : array_like, shape (N, ...)
        Input. A float64 copy is used; ``x`` itself is never written. ``N = x.shape[0]`` is taken
        as the batch size for the "1/N" hint.
    backward : callable, optional
        Function mode: ``backward(dout, x) -> dx`` with ``dout`` of ``y``'s shape and ``dx`` of
        ``x``'s shape.
    forward_kwargs : dict, optional
        Extra keyword arguments of every ``forward`` call, e.g. ``{"train": True}`` or
        ``{"t": labels}``. Passed as they are (not copied, not differentiated).
    params_attr, grads_attr : str
        Names of the parameter and gradient dicts of a dict-style layer.
    param_names : dict of str to str, optional
        Attribute-style layers: parameter attribute -> gradient attribute, e.g.
        ``{"W": "dW", "b": "db"}``. Overrides ``params_attr``/``grads_attr``.
    buffers_attr : str or None
        Name of a dict of non-trainable arrays the layer may update in ``forward`` (BatchNorm's
        running statistics in ``layer.buffers``); protected like the parameters, not checked.
    state_names : tuple of str
        Further attributes to protect the same way, e.g. ``("running_mean", "running_var")``
        of the textbook's BatchNormalization.
    dout : array_like, optional
        The upstream gradient ``G``, shape of ``y``. Default: standard normal drawn with
        ``seed``, or ``1.0`` when ``y`` is a scalar (loss layers; their ``backward(dout=1)``).
    mode : {"auto", "full", "random"}
        ``"full"`` checks every element of every tensor. ``"random"`` checks ``n_directions``
        random unit directions ``v`` (numeric ``(L(t + eps v) - L(t - eps v)) / (2 eps)``
        against analytic ``<grad, v>``) plus ``n_spot`` random single elements, which locate
        errors in the report. ``"auto"`` uses full for tensors of at most ``max_full_size``
        elements and random for larger ones.
    eps : float
        Step of the central differences (on float64 values).
    rtol, atol : float
        A check passes iff ``|a - n| <= atol + rtol * |n|`` (``a`` analytic, ``n`` numeric).
        The report also shows ``rel = |a - n| / max(|a|, |n|)``.
    max_full_size, n_directions, n_spot : int
        See ``mode``.
    n_worst : int
        Number of worst elements (and directions) kept per tensor.
    seed : int
        Seed of ``G``, the directions and the sampled elements.
    check_determinism : bool
        Run ``forward`` twice first and raise ``ValueError`` if the outputs differ.

    Returns
    -------
    GradcheckResult
        ``.passed``, ``.tensors`` (``"x"`` and each parameter name -> :class:`TensorCheck`),
        ``.notes``; ``str()`` gives the report.

    Raises
    ------
    TypeError
        ``layer`` does not follow either protocol, or an array is not real numeric.
    ValueError
        ``backward`` returns ``dx`` of the wrong shape, a gradient is missing or has the wrong
        shape, ``dout`` does not match ``y``, ``y`` is not finite, or ``forward`` is not
        deterministic.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdl.gradcheck import gradcheck
    >>> x = np.linspace(-1.0, 1.0, 6).reshape(2, 3)  # (2, 3)
    >>> bool(gradcheck(np.tanh, x, backward=lambda dout, x: dout * (1 - np.tanh(x) ** 2)))
    True
    >>> bool(gradcheck(np.tanh, x, backward=lambda dout, x: -dout * (1 - np.tanh(x) ** 2)))
    False
    >>> print(gradcheck(my_affine, x))  # doctest: +SKIP
    >>> gradcheck(textbook_affine, x, param_names={"W": "dW", "b": "db"})  # doctest: +SKIP
    >>> gradcheck(bn, x, forward_kwargs={"train_flg": True}, mode="random")  # doctest: +SKIP
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    kwargs = dict(forward_kwargs or {})
    x64 = _float64_copy(x, "x")
    slots, snaps = [], []
    if backward is not None:
        if not callable(layer):
            raise TypeError("with backward=, the first argument must be the forward function f")
        fwd, source = layer, "backward(dout, x)"
        target = getattr(layer, "__name__", type(layer).__name__)

        def bwd(g):
            return backward(g, x64.copy())

    elif hasattr(layer, "forward") and hasattr(layer, "backward"):
        fwd, bwd, source = layer.forward, layer.backward, "backward(dout)"
        target = type(layer).__name__
        state_attrs = (buffers_attr, *state_names) if buffers_attr else tuple(state_names)
        slots, snaps = _layer_slots(layer, params_attr, grads_attr, param_names, state_attrs)
    else:
        raise TypeError(
            "expected a layer with forward(x) and backward(dout) methods, or gradcheck(f, x, "
            f"backward=df) for a pair of functions; got {type(layer).__name__}"
        )
    if any(s.name == "x" for s in slots):
        raise ValueError("a parameter named 'x' clashes with the input's name in the result")
    originals = [s.read(0) for s in slots]
    for s, value in zip(slots, originals):
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise TypeError(
                f"layer.{s.labels[0]} must be a floating-point numpy.ndarray, got "
                f"{getattr(value, 'dtype', type(value).__name__)}"
            )
    shapes, dtypes = {}, set()

    def evaluate(x_in: np.ndarray) -> np.ndarray:
        """``forward`` on a copy of ``x_in``, as float64, shape of ``y``."""
        y = _as_output(fwd(x_in.copy(), **kwargs), "forward")
        dtypes.add(y.dtype)
        if shapes.setdefault("y", y.shape) != y.shape:
            raise ValueError(f"forward output shape changed from {shapes['y']} to {y.shape}")
        return y.astype(np.float64)

    try:
        for snap in snaps:  # writes into the installed copies never reach the user's arrays
            snap.install_copies()
        G = _upstream(evaluate, x64, dout, check_determinism, seed)
        dx = bwd(float(G) if G.ndim == 0 else G.copy())
        if dx is None:
            raise TypeError(f"{source} returned None; it must return dx (shape {x64.shape})")
        dx = np.asarray(dx)
        if dx.shape != x64.shape:
            raise ValueError(
                f"{source} returned dx of shape {dx.shape}; expected x.shape {x64.shape}"
            )
        analytic = {"x": (_float64_copy(dx, "dx"), source)}
        for s, value in zip(slots, originals):
            analytic[s.name] = (_read_grad(s, value.shape), f"layer.{s.labels[1]}")
        dtypes.add(dx.dtype)

        tol = {"rtol": rtol, "atol": atol}
        batch = x64.shape[0] if x64.ndim else 1
        rng = _rng(seed, 1)
        tensors = {}
        for number, (name, (grad, src)) in enumerate(analytic.items()):
            size = grad.size
            small = size <= max_full_size if mode == "auto" else size == 0
            tmode = "full" if mode == "full" or small else "random"
            if tmode == "full":
                probes = _Probes(size, np.arange(size), 0, (seed, 2, number))
            else:
                spots = np.sort(rng.choice(size, min(n_spot, size), replace=False))
                probes = _Probes(size, spots, n_directions, (seed, 2, number))
            if name == "x":
                x_work = x64.copy()
                numeric = _numeric(lambda w=x_work: evaluate(w), x_work, G, probes, eps)
            else:
                param = next(s for s in slots if s.name == name).read(0)
                numeric = _numeric(lambda: evaluate(x64), param, G, probes, eps)
            tensors[name] = compare_tensor(
                name, src, grad, numeric, probes, tmode, tol, n_worst, batch
            )
    finally:
        for snap in reversed(snaps):  # the first snapshot of an attribute holds its original
            snap.restore()
    notes = []
    if dtypes != {np.dtype(np.float64)}:
        kinds = ", ".join(sorted(map(str, dtypes)))
        notes.append(
            f"the layer computes in {kinds} although it was fed float64 copies; central "
            "differences and float64 tolerances are unreliable then"
        )
    if backward is None and param_names is None and not slots:
        notes += _attribute_note(layer, params_attr)
    settings = {"mode": mode, "eps": eps, "rtol": rtol, "atol": atol, "seed": seed}
    passed = all(t.passed for t in tensors.values())
    return GradcheckResult(passed, tensors, target, settings, notes)


def _upstream(evaluate: Callable, x64: np.ndarray, dout, check_determinism: bool, seed: int):
    """Run ``forward`` (twice if ``check_determinism``) and return ``G``, shape of ``y``."""
    y = evaluate(x64)
    if not np.all(np.isfinite(y)):
        raise ValueError("forward output contains NaN or inf; the check needs finite values")
    if check_determinism:
        diff = np.abs(y - evaluate(x64))
        if diff.any():
            where = tuple(int(i) for i in np.unravel_index(np.argmax(diff), y.shape))
            raise ValueError(
                f"forward is not deterministic: two calls on the same input differ by up to "
                f"{diff.max():.3g} (at index {where}). Make it deterministic for the check: "
                "fix the dropout mask, or re-seed its generator at the start of every forward call"
            )
    if dout is None:
        return _rng(seed, 0).standard_normal(y.shape) if y.ndim else np.float64(1.0)
    G = _float64_copy(dout, "dout")
    if G.shape != y.shape:
        raise ValueError(f"dout has shape {G.shape} but forward returns shape {y.shape}")
    return G


def _attribute_note(layer, params_attr: str) -> list:
    """A note if a layer without a params dict has array attributes with ``d``-gradients."""
    attrs = getattr(layer, "__dict__", {})
    names = sorted(k for k, v in attrs.items() if isinstance(v, np.ndarray) and f"d{k}" in attrs)
    if not names:
        return []
    mapping = ", ".join(f"{k!r}: 'd{k}'" for k in names)
    return [
        f"only dx was checked: the layer has no {params_attr!r} dict; to check its parameters "
        f"too pass param_names={{{mapping}}}"
    ]
