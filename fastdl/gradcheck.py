"""Check the backward pass of your own layers and networks against central differences.

:func:`gradcheck` compares the gradients an object computes with numerical gradients of the
scalar ``L = sum(y * G)``, where ``y = forward(x)`` and ``G`` is a fixed (seeded) random array
of ``y``'s shape, so that ``backward`` receives ``dout = G`` (``G = 1`` for a scalar loss).

What can be checked
-------------------
1. **A layer object** with the textbook protocol: ``layer.forward(x[, t]) -> y`` and
   ``layer.backward(dout) -> dx``, where ``backward`` uses what the last ``forward`` cached.
   Its parameters are found without options when they follow the textbook: a dict
   ``layer.params`` with the gradients left in ``layer.grads`` (other names:
   ``params_attr=``, ``grads_attr=``), or attributes whose gradient attribute carries a ``d``
   in front (``W``/``dW``, ``b``/``db``, ``gamma``/``dgamma``, ``beta``/``dbeta``; other
   names: ``param_names={"W": "dW"}``). With ``t`` the layer is called ``forward(x, t)``
   (``SoftmaxWithLoss``); with ``loss=`` it is followed by a loss object, ``L =
   loss.forward(layer.forward(x), t)`` (a fastdl ``Sequential`` and ``SoftmaxCrossEntropy``).
2. **A network** with ``loss(x, t)``, ``gradient(x, t) -> dict`` and a ``params`` dict (the
   textbook's ``TwoLayerNet``, ``SimpleConvNet``): every entry of ``params`` is checked;
   ``dx`` is not (``gradient`` does not return it), and the report says so.
3. **A plain pair of functions**: ``gradcheck(f, x, backward=df)`` with
   ``f(x, **forward_kwargs) -> y`` and ``df(dout, x) -> dx``.

A ``forward`` or ``loss`` with a ``train_flg`` or ``train`` parameter is called in training
mode (unless ``forward_kwargs`` says otherwise).

Guarantees
----------
* Every place the object holds a parameter (attributes, dicts, lists of layers, nested objects:
  a network's ``params`` dict and its layers' ``W``) gets the same float64 working copy, which
  is perturbed in place, so all aliases see the perturbation; every other array the object
  holds gets a private copy too. Afterwards, also when the user's code raises, every place
  holds the user's original object again: the user's arrays are never written, attributes and
  keys the check added are removed, running statistics and caches are as before, and every
  ``numpy.random.Generator`` the object holds is rewound. When the check returns (passed or
  failed), the gradients are left as the object's own ``backward`` computed them at the user's
  values (``layer.dW`` beside ``layer.W``, ``layer.grads``, the arrays ``gradient`` returned),
  in the parameters' dtypes; when it raises, they are as before too.
* ``forward`` must be deterministic. ``random_seed=`` re-seeds NumPy's global random state
  (``np.random.seed``) and rewinds the object's generators before every evaluation, which
  makes a textbook ``Dropout`` (``np.random.rand``) deterministic; the global state is put
  back afterwards. By default ``forward`` runs twice first and a ``ValueError`` is raised if
  the outputs differ.
* ``forward`` and ``backward`` get fresh copies of ``x`` and ``G`` on every call (layers that
  write into ``dout`` are fine); ``t`` and ``forward_kwargs`` are passed as they are.
* An object that computes in float32 although it gets float64 values is reported up front,
  with tolerances that fit float32.

Method
------
Each gradient is compared with ``(L(p + eps e) - L(p - eps e)) / (2 eps)``: for every element
``e`` (full mode), or for random unit directions ``e = v`` against ``<grad, v>`` plus a sample
of single elements (random mode, for large tensors). A check passes iff
``|analytic - numeric| <= atol + rtol * |numeric|``. When a random direction fails, the wrong
elements are located by bisection: blocks of elements are checked along random directions,
failing blocks are halved, and the last few elements are checked one by one.

Kinks: a failing check whose one-sided differences ``(L(+eps) - L) / eps`` and
``(L - L(-eps)) / eps`` disagree by more than smooth curvature explains (``Relu`` at 0, a tie
in max pooling; both common on MNIST images with zero biases) is not a failure: it is counted
as skipped at a kink. ``kinks="nudge"`` moves those inputs off the kink by random amounts of
about ``1000 * eps`` (random signs, so that ties are broken) and checks them again there;
``kinks="fail"`` counts them as failures.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._gradcheck_probe import Differ, Probes, rng_for
from ._gradcheck_report import (
    DirectionError,
    ElementError,
    GradcheckResult,
    TensorCheck,
    compare_tensor,
)
from ._gradcheck_swap import Swap
from ._gradcheck_target import MISSING, NetworkTarget, make_target

__all__ = ["DirectionError", "ElementError", "GradcheckResult", "TensorCheck", "gradcheck"]

_MODES = ("auto", "full", "random")
_KINKS = ("skip", "nudge", "fail")
_NUDGE = 1e3  # kinks="nudge" moves inputs at a kink by this many eps
_LOCATE_BUDGET = 400  # block checks the bisection may spend per tensor


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


def _checked_grad(raw, where: str, shape: tuple, param: str) -> np.ndarray:
    """Float64 copy of a gradient the object computed, checked against ``shape``."""
    if raw is MISSING or raw is None:
        raise ValueError(
            f"{where} does not exist after backward(); it must hold the gradient of {param}"
        )
    g = np.asarray(raw)
    if g.shape != shape:
        looks = " (looks transposed)" if g.shape == shape[::-1] and g.ndim > 1 else ""
        raise ValueError(f"{where} has shape {g.shape} but {param} has shape {shape}{looks}")
    return _float64_copy(g, where)


def gradcheck(
    layer: Any,
    x: Any,
    t: Any = None,
    *,
    loss: Any = None,
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
    random_seed: int | None = None,
    kinks: str = "skip",
) -> GradcheckResult:
    """Check ``dx`` and every parameter gradient of a layer or network by central differences.

    Parameters
    ----------
    layer : object or callable
        A layer with ``forward``/``backward``, a network with ``loss``/``gradient``/``params``,
        or, with ``backward=``, a function ``f(x, **forward_kwargs) -> y`` (see the module
        docstring for the protocols).
    x : array_like, shape (N, ...)
        Input. A float64 copy is used; ``x`` itself is never written. ``N = x.shape[0]`` is taken
        as the batch size for the "1/N" hint.
    t : array_like, optional
        Labels: ``net.loss(x, t)``, ``layer.forward(x, t)`` (a loss layer), or ``loss.forward(y,
        t)`` with ``loss=``. Passed as they are; required for a network.
    loss : str or object, optional
        A loss after the layer (``forward(y, t) -> float``, ``backward(dout) -> dy``) or the name
        of a fastdl loss (``"softmax_cross_entropy"``); for a fastdl ``Sequential``.
    backward : callable, optional
        Function mode: ``backward(dout, x) -> dx`` with ``dout`` of ``y``'s shape and ``dx`` of
        ``x``'s shape.
    forward_kwargs : dict, optional
        Extra keyword arguments of every ``forward`` (or ``loss``) call. A ``train_flg`` or
        ``train`` parameter is set to True unless given here.
    params_attr, grads_attr : str
        Names of the parameter and gradient dicts of a dict-style layer.
    param_names : dict of str to str, optional
        Attribute-style layers whose names do not follow the textbook: parameter attribute ->
        gradient attribute, e.g. ``{"weight": "grad_weight"}``; ``{}`` checks ``dx`` only.
    buffers_attr, state_names
        Accepted for compatibility and not needed any more: every array the object holds is
        protected and restored.
    dout : array_like, optional
        The upstream gradient ``G``, shape of ``y``. Default: standard normal drawn with
        ``seed``, or ``1.0`` when ``y`` is a scalar (a loss).
    mode : {"auto", "full", "random"}
        ``"full"`` checks every element of every tensor. ``"random"`` checks ``n_directions``
        random unit directions ``v`` (numeric ``(L(p + eps v) - L(p - eps v)) / (2 eps)``
        against analytic ``<grad, v>``) plus ``n_spot`` random single elements; when a
        direction fails, the wrong elements are located by bisection. ``"auto"`` uses full
        for tensors of at most ``max_full_size`` elements and random for larger ones.
    eps : float
        Step of the central differences (on float64 values).
    rtol, atol : float
        A check passes iff ``|a - n| <= atol + rtol * |n|`` (``a`` analytic, ``n`` numeric).
        The report also shows ``rel = |a - n| / max(|a|, |n|)``.
    max_full_size, n_directions, n_spot : int
        See ``mode``.
    n_worst : int
        Number of worst elements (and directions) kept per tensor, and of elements located
        by bisection.
    seed : int
        Seed of ``G``, the directions, the sampled elements and the nudges.
    check_determinism : bool
        Run ``forward`` twice first and raise ``ValueError`` if the outputs differ.
    random_seed : int, optional
        Call ``np.random.seed(random_seed)`` and rewind the object's ``numpy.random.Generator``
        attributes before every evaluation (dropout masks drawn with ``np.random.rand``).
    kinks : {"skip", "nudge", "fail"}
        What to do with failing checks at a kink (see the module docstring).

    Returns
    -------
    GradcheckResult
        ``.passed``, ``.tensors`` (``"x"`` and each parameter name -> :class:`TensorCheck`),
        ``.notes``; ``str()`` gives the report.

    Raises
    ------
    TypeError
        ``layer`` does not follow any protocol, or an array is not real numeric.
    ValueError
        ``backward`` returns ``dx`` of the wrong shape, a gradient is missing or has the wrong
        shape, ``dout`` does not match ``y``, ``y`` is not finite, ``forward`` is not
        deterministic, or a parameter is held in a way the check cannot perturb (a tuple).

    Examples
    --------
    >>> import numpy as np
    >>> from fastdl.gradcheck import gradcheck
    >>> x = np.linspace(-1.0, 1.0, 6).reshape(2, 3)  # (2, 3)
    >>> bool(gradcheck(np.tanh, x, backward=lambda dout, x: dout * (1 - np.tanh(x) ** 2)))
    True
    >>> bool(gradcheck(np.tanh, x, backward=lambda dout, x: -dout * (1 - np.tanh(x) ** 2)))
    False
    >>> print(gradcheck(textbook_affine, x))  # doctest: +SKIP
    >>> print(gradcheck(two_layer_net, x_batch, t_batch))  # doctest: +SKIP
    >>> gradcheck(net_with_dropout, x, t, random_seed=0)  # doctest: +SKIP
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if kinks not in _KINKS:
        raise ValueError(f"kinks must be one of {_KINKS}, got {kinks!r}")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    if loss is not None:
        from .losses import get_loss

        loss = get_loss(loss)
    x64 = _float64_copy(x, "x")
    target = make_target(
        layer, t, loss, backward, dict(forward_kwargs or {}), params_attr, grads_attr, param_names
    )
    if "x" in target.params:
        raise ValueError("a parameter named 'x' clashes with the input's name in the result")
    for name, value in target.params.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise TypeError(
                f"parameter {name!r} must be a floating-point numpy.ndarray, got "
                f"{getattr(value, 'dtype', type(value).__name__)}"
            )
    if isinstance(target, NetworkTarget) and dout is not None:
        raise ValueError("dout= does not apply to a network: its loss is the scalar checked")
    swap = Swap(target.roots)
    for name, value in target.params.items():
        if not swap.where(value):
            raise ValueError(
                f"parameter {name!r} is not held in an attribute, dict or list the check can "
                "reach, so it cannot be perturbed where the object reads it"
            )
    opts = {"eps": eps, "rtol": rtol, "atol": atol, "mode": mode, "seed": seed, "kinks": kinks}
    opts.update(max_full_size=max_full_size, n_directions=n_directions, n_spot=n_spot)
    run = _Run(target, swap, x64, random_seed, opts, n_worst)
    # the textbook's Dropout draws from NumPy's global state: save it, re-seed it, put it back
    saved_state = np.random.get_state() if random_seed is not None else None  # noqa: NPY002
    try:
        swap.install(list(target.params.values()))
        tensors, keep = run.check(dout, check_determinism)
    except BaseException:
        swap.restore()
        raise
    else:
        swap.restore(keep)
    finally:
        if saved_state is not None:
            np.random.set_state(saved_state)  # noqa: NPY002
    notes = list(target.notes)
    passed = all(t.passed for t in tensors.values())
    settings = {"mode": mode, "eps": eps, "rtol": rtol, "atol": atol, "seed": seed}
    settings.update(kinks=kinks, random_seed=random_seed)
    return GradcheckResult(passed, tensors, target.label, settings, notes, run.precision_note())


class _Run:
    """One check: evaluations of the target on the working copies, and the per-tensor loop."""

    def __init__(self, target, swap: Swap, x64: np.ndarray, random_seed, opts: dict, n_worst):
        self.target, self.swap, self.x64, self.random_seed = target, swap, x64, random_seed
        self.opts, self.n_worst = opts, n_worst
        self.dtypes: set[np.dtype] = set()
        self.shape: tuple[int, ...] | None = None
        self.scale = 0.0

    def _call(self, fn, *args):
        if self.random_seed is not None:
            np.random.seed(self.random_seed)  # noqa: NPY002
            self.swap.reset_generators()
        return fn(*args)

    def evaluate(self, x_in: np.ndarray) -> np.ndarray:
        """``forward`` on a copy of ``x_in``, as float64, shape of ``y``."""
        y = _as_output(self._call(self.target.forward, x_in.copy()), "forward")
        self.dtypes.add(y.dtype)
        if self.shape is None:
            self.shape = y.shape
        elif self.shape != y.shape:
            raise ValueError(f"forward output shape changed from {self.shape} to {y.shape}")
        return y.astype(np.float64)

    def analytic(self, x_in: np.ndarray, G) -> dict:
        """name -> ``(float64 gradient, source, the object's own array)`` from one backward."""
        g = float(G) if np.ndim(G) == 0 else G.copy()
        dx, grads = self._call(self.target.analytic, x_in.copy(), g)
        out = {}
        if self.target.has_dx:
            source = self.target.sources["x"]
            if dx is None:
                raise TypeError(f"{source} returned None; it must return dx (shape {x_in.shape})")
            dx = np.asarray(dx)
            if dx.shape != x_in.shape:
                raise ValueError(
                    f"{source} returned dx of shape {dx.shape}; expected x.shape {x_in.shape}"
                )
            self.dtypes.add(dx.dtype)
            out["x"] = (_float64_copy(dx, "dx"), source, dx)
        for name, p in self.target.params.items():
            source = self.target.sources[name]
            grad = _checked_grad(grads[name], source, p.shape, f"parameter {name!r}")
            self.dtypes.add(np.asarray(grads[name]).dtype)
            out[name] = (grad, source, grads[name])
        return out

    def check(self, dout, check_determinism: bool) -> tuple:
        """``(tensors, keep)``: name -> :class:`TensorCheck`, and the gradients to leave."""
        y0 = self.evaluate(self.x64)
        if not np.all(np.isfinite(y0)):
            raise ValueError("forward output contains NaN or inf; the check needs finite values")
        if check_determinism:
            _check_deterministic(y0, self.evaluate(self.x64))
        G = _upstream(y0, dout, self.opts["seed"])
        self.scale = float(np.sum(np.abs(y0 * G)))
        grads = self.analytic(self.x64, G)
        tensors = {}
        for number, name in enumerate(grads):
            tensors[name] = self._tensor(number, name, grads[name], G, y0)
        if any(t.n_nudged for t in tensors.values()):
            grads = self.analytic(self.x64, G)  # the gradients at the user's values again
        params = self.target.params
        dtypes = {id(self.swap.working(p)): p.dtype for p in params.values()}
        keep = self.swap.gradients(dtypes, *self.target.grad_attrs)
        for name, (_, _, raw) in grads.items():
            if name != "x" and isinstance(raw, np.ndarray):
                keep[id(raw)] = raw.astype(params[name].dtype, copy=False)
        return tensors, keep

    def _probes(self, number: int, size: int) -> tuple:
        o = self.opts
        small = size <= o["max_full_size"] if o["mode"] == "auto" else size == 0
        if o["mode"] == "full" or small:
            return "full", Probes(size, np.arange(size), 0, (o["seed"], 2, number))
        spots = rng_for(o["seed"], 1, number).choice(size, min(o["n_spot"], size), replace=False)
        return "random", Probes(size, np.sort(spots), o["n_directions"], (o["seed"], 2, number))

    def _tensor(self, number: int, name: str, analytic: tuple, G, y0) -> TensorCheck:
        """Check one tensor: probes, bisection after a failing direction, nudges at kinks."""
        o = self.opts
        grad, source, _ = analytic
        work = self.x64.copy() if name == "x" else self.swap.working(self.target.params[name])
        x_at = work if name == "x" else self.x64
        flat, gflat = work.reshape(-1), grad.reshape(-1)  # (size,) views
        differ = Differ(lambda: self.evaluate(x_at), y0, G, o["eps"], o["rtol"], o["atol"])
        tmode, probes = self._probes(number, grad.size)
        m = differ.measure(flat, gflat, probes)
        found, k = None, probes.n_dirs
        if any(differ.fails(a, n) and not kink for a, n, kink in list(zip(*m))[:k]):
            found = differ.locate(
                flat, gflat, rng_for(o["seed"], 3, number), self.n_worst, _LOCATE_BUDGET
            )
            new = [i for i in found if i not in set(probes.index.tolist())]
            extra = differ.measure(flat, gflat, [(i, 1.0) for i in new])
            m = type(m)(*(np.concatenate(pair) for pair in zip(m, extra)))
            index = np.concatenate([probes.index, np.asarray(new, dtype=int)])  # (n_elem,)
            probes = Probes(probes.size, index, k, probes.seed)
        n_nudged = 0
        if o["kinks"] == "nudge" and m.kink.any():
            m, n_nudged = self._nudge(number, name, work, x_at, probes, m, G)
        if o["kinks"] == "fail":
            m = m._replace(kink=np.zeros_like(m.kink))
        tol = {"rtol": o["rtol"], "atol": o["atol"]}
        batch = self.x64.shape[0] if self.x64.ndim else 1
        located = None if found is None else len(found)
        return compare_tensor(
            name, source, grad, m, probes, tmode, tol, self.n_worst, batch, located, n_nudged
        )

    def _nudge(self, number: int, name: str, work, x_at, probes: Probes, m, G) -> tuple:
        """Move the values at the kinks of ``m`` by about ``1000 eps`` and measure
        those probes again there; returns the updated measurements and their number."""
        o = self.opts
        at = np.flatnonzero(m.kink)
        k = probes.n_dirs
        flat = work.reshape(-1)  # (size,) view
        # random signs and sizes in [0.5, 1.5] x 1000 eps: nudged ties do not tie again
        rng = rng_for(o["seed"], 4, number)
        step = rng.choice([-1.0, 1.0], flat.size) * rng.uniform(0.5, 1.5, flat.size)  # (size,)
        delta = np.zeros(flat.size)
        if (at < k).any():  # a direction at a kink: move every element
            delta = step
        else:
            delta[probes.index[at - k]] = step[probes.index[at - k]]
        delta *= _NUDGE * o["eps"]
        chosen = [p for j, p in enumerate(probes) if m.kink[j]]
        saved = flat.copy()
        try:
            flat += delta
            grad = self.analytic(x_at, G)[name][0].reshape(-1)  # (size,)
            y0 = self.evaluate(x_at)
            differ = Differ(lambda: self.evaluate(x_at), y0, G, o["eps"], o["rtol"], o["atol"])
            again = differ.measure(flat, grad, chosen)
        finally:
            flat[:] = saved
        a, n, kink = (np.array(v, copy=True) for v in m)
        a[at], n[at], kink[at] = again
        return type(m)(a, n, kink), at.size

    def precision_note(self) -> str | None:
        """Up-front note when the object computed in a lower precision than float64."""
        low = sorted(str(d) for d in self.dtypes if d.kind == "f" and d.itemsize < 8)
        if not low:
            return None
        unit = max(np.finfo(np.dtype(d)).eps for d in low)
        eps = 1e-3
        atol = float(f"{10.0 * unit * self.scale / eps:.0e}")
        return (
            f"the object computes in {', '.join(low)} although it was given float64 copies; "
            f"float64 tolerances do not fit. Tolerances that fit {low[0]}: eps={eps:g}, "
            f"rtol=1e-2, atol={atol:g}"
        )


def _check_deterministic(y: np.ndarray, again: np.ndarray) -> None:
    diff = np.abs(y - again)
    if diff.any():
        where = tuple(int(i) for i in np.unravel_index(np.argmax(diff), y.shape))
        raise ValueError(
            f"forward is not deterministic: two calls on the same input differ by up to "
            f"{diff.max():.3g} (at index {where}). Make it deterministic for the check: pass "
            "random_seed= (re-seeds np.random and the object's generators before every "
            "evaluation), fix the dropout mask, or re-seed its generator in every forward call"
        )


def _upstream(y0: np.ndarray, dout, seed: int):
    """``G``, shape of ``y``: ``dout``, or standard normal, or ``1.0`` for a scalar ``y``."""
    if dout is None:
        return rng_for(seed, 0).standard_normal(y0.shape) if y0.ndim else np.float64(1.0)
    G = _float64_copy(dout, "dout")
    if G.shape != y0.shape:
        raise ValueError(f"dout has shape {G.shape} but forward returns shape {y0.shape}")
    return G
