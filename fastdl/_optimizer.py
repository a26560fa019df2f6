"""The optimizer base class: input checks, schedule hook, step counter, state (de)serialisation.

Concrete optimizers live in :mod:`fastdl.optimizers`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, cast

import numpy as np

from ._typing import FloatArray

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_RULES = {
    "positive": ("a finite number > 0", lambda v: v > 0),
    "nonnegative": ("a finite number >= 0", lambda v: v >= 0),
    "unit": ("in [0, 1)", lambda v: 0 <= v < 1),
}


def _item(value: Any) -> Any:
    """Python scalar of a 0-d array (as ``np.load`` returns them), else ``value``."""
    return value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value


def _hyper(name: str, value: Any, rule: str) -> float:
    """Return ``value`` as a float after checking it against ``_RULES[rule]``."""
    value = _item(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    text, ok = _RULES[rule]
    if not (math.isfinite(value) and ok(value)):
        raise ValueError(f"{name} must be {text}, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: input checks, schedule, step counter, state and (de)serialisation.

    A subclass names its hyperparameters in ``_rules`` (name -> rule of ``_RULES``), its
    per-parameter state arrays in ``_slots`` and its per-step float state in ``_scalars``, and
    implements ``_update(key, p, g, *slot_arrays)``; ``_begin_step()`` sets per-step constants.

    Parameters
    ----------
    lr : float > 0
        Learning rate (unused if ``schedule`` is given).
    schedule : callable, optional
        ``schedule(iteration) -> lr``, ``iteration`` being the number of steps already taken;
        called before each step, its value becomes ``self.lr``. With ``None``, ``lr`` stays as
        set (you may assign it, e.g. from a callback).

    Attributes
    ----------
    lr : float
        Learning rate of the last step (before any step: of the first one).
    iterations : int
        Number of steps taken.
    state : dict
        ``state[slot][param_key]`` -> ndarray, created at the parameter's first step.
    """

    _rules: ClassVar[dict[str, str]] = {}
    _slots: ClassVar[tuple[str, ...]] = ()
    _scalars: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, lr: float, *, schedule: Callable[[int], float] | None = None, **hyper: float
    ) -> None:
        self.lr = _hyper("lr", lr, "positive")
        for name, value in hyper.items():
            setattr(self, name, _hyper(name, value, self._rules[name]))
        if schedule is not None and not callable(schedule):
            raise TypeError(f"schedule must be callable or None, got {type(schedule).__name__}")
        self.schedule = schedule
        self.iterations = 0
        if schedule is not None:
            self.lr = self._scheduled_lr()
        self.state: dict[str, dict[str, FloatArray]] = {slot: {} for slot in self._slots}
        self._loaded_keys: set[str] | None = (
            None  # param keys that a loaded state dict requires at the next step
        )

    def __repr__(self) -> str:
        hyper = "".join(f", {name}={getattr(self, name)!r}" for name in self._rules)
        return f"{type(self).__name__}(lr={self.lr!r}{hyper}, schedule={self.schedule!r})"

    def _scheduled_lr(self) -> float:
        schedule = cast("Callable[[int], float]", self.schedule)  # called only when one is set
        lr: Any = schedule(self.iterations)
        if (
            isinstance(lr, bool)
            or not isinstance(lr, numbers.Real)
            or not 0 <= float(lr) < math.inf
        ):
            raise ValueError(f"schedule({self.iterations}) must return a number >= 0, got {lr!r}")
        return float(lr)

    def step(self, params: Mapping[str, FloatArray], grads: Mapping[str, FloatArray]) -> None:
        """Update every array of ``params`` in place from ``grads``; all checks come first.

        Parameters
        ----------
        params, grads : dict of str -> ndarray
            Same keys (extra keys of ``grads`` are ignored), shapes and float dtype.

        Raises
        ------
        KeyError
            A key of ``params`` is missing from ``grads``.
        TypeError
            A parameter or gradient is not a float32/float64 array, or their dtypes differ.
        ValueError
            A gradient's or state array's shape differs from its parameter's, or the keys differ
            from those of a state dict loaded with :meth:`load_state_dict`.
        """
        items = self._check_step(params, grads)
        if self.schedule is not None:
            self.lr = self._scheduled_lr()
        self.iterations += 1
        self._begin_step()
        for key, p, g in items:
            for s in self._slots:
                if key not in self.state[s]:
                    self.state[s][key] = np.zeros_like(p)
            self._update(key, p, g, *(self.state[s][key] for s in self._slots))

    def _check_step(
        self, params: Mapping[str, FloatArray], grads: Mapping[str, FloatArray]
    ) -> list[tuple[str, FloatArray, FloatArray]]:
        if not isinstance(params, Mapping) or not isinstance(grads, Mapping):
            raise TypeError("params and grads must be dicts of name -> ndarray")
        expected = self._loaded_keys
        if expected is not None and set(params) != expected:
            raise ValueError(
                f"params do not match the loaded optimizer state: missing "
                f"{sorted(expected - set(params))}, not in it {sorted(set(params) - expected)}"
            )
        items = []
        for key, p in params.items():
            if key not in grads:
                raise KeyError(f"grads has no entry for parameter {key!r}")
            g = grads[key]
            for what, a in (("params", p), ("grads", g)):
                if not isinstance(a, np.ndarray) or a.dtype not in _FLOAT_DTYPES:
                    got = f"dtype {a.dtype}" if isinstance(a, np.ndarray) else type(a).__name__
                    raise TypeError(f"{what}[{key!r}] must be a float32/float64 ndarray, got {got}")
            if not p.flags.writeable:
                raise ValueError(f"params[{key!r}] is read-only")
            if g.shape != p.shape:
                raise ValueError(f"grads[{key!r}] has shape {g.shape}, params[{key!r}] {p.shape}")
            if g.dtype != p.dtype:
                raise TypeError(f"grads[{key!r}] is {g.dtype} but params[{key!r}] is {p.dtype}")
            for slot in self._slots:
                s = self.state[slot].get(key)
                if s is not None and (s.shape, s.dtype) != (p.shape, p.dtype):
                    raise ValueError(
                        f"optimizer state {slot}/{key} has shape {s.shape} ({s.dtype}), "
                        f"params[{key!r}] {p.shape} ({p.dtype})"
                    )
            items.append((key, p, g))
        self._loaded_keys = None
        return items

    def _begin_step(self) -> None:
        """Set per-step constants, once per step before the parameters are updated."""

    def _update(self, key, p, g, *slots):
        raise NotImplementedError

    @staticmethod
    def zero_grad(grads: Mapping[str, FloatArray]) -> None:
        """Fill every array of ``grads`` with 0 in place.

        Layers' ``backward`` overwrites their gradients, so this is only needed when gradients
        are accumulated over several backward passes.
        """
        for key, g in grads.items():
            if not isinstance(g, np.ndarray):
                raise TypeError(f"grads[{key!r}] must be an ndarray, got {type(g).__name__}")
            g.fill(0)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, as a flat dict for ``np.savez``.

        Keys: ``"optimizer"`` (class name), ``"lr"``, ``"iterations"``, the hyperparameters, the
        per-step scalars (Nadam's ``"mu_product"``) and ``"<slot>/<param key>"`` for each state
        array (copies). ``schedule`` and AdamW's ``decay`` are not saved: give them to the
        constructor of the optimizer you load into.
        """
        state = {"optimizer": type(self).__name__, "lr": self.lr, "iterations": self.iterations}
        state.update({name: getattr(self, name) for name in (*self._rules, *self._scalars)})
        for slot, arrays in self.state.items():
            state.update({f"{slot}/{key}": a.copy() for key, a in arrays.items()})
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (also as read back by ``np.load``).

        The next :meth:`step` continues exactly as the saved optimizer would have, and must get
        the parameter keys of the saved state.

        Raises
        ------
        ValueError
            The dict is for another optimizer class, has missing or unknown keys, or invalid
            values, or a parameter's state arrays are missing or of different shapes or dtypes.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict, got {type(state).__name__}")
        name = _item(state.get("optimizer"))
        if name != type(self).__name__:
            raise ValueError(f"state dict is for optimizer {name!r}, not {type(self).__name__}")
        rules = {"lr": "nonnegative", **self._rules, **dict.fromkeys(self._scalars, "nonnegative")}
        arrays: dict[str, dict[str, FloatArray]] = {slot: {} for slot in self._slots}
        unknown = []
        for k, v in state.items():
            slot, _, key = k.partition("/")
            if slot in arrays and key:
                arrays[slot][key] = np.array(v)
            elif k not in rules and k not in ("optimizer", "iterations"):
                unknown.append(k)
        missing = [k for k in (*rules, "iterations") if k not in state]
        if missing or unknown:
            raise ValueError(f"{name} state dict: missing keys {missing}, unknown keys {unknown}")
        layouts = [{k: (a.shape, a.dtype) for k, a in d.items()} for d in arrays.values()]
        if any(
            lay != layouts[0] or any(dt not in _FLOAT_DTYPES for _, dt in lay.values())
            for lay in layouts
        ):
            raise ValueError(
                f"{name} state dict: each parameter needs float arrays of one shape and dtype "
                f"for all of {list(self._slots)}"
            )
        iterations = _item(state["iterations"])
        if not isinstance(iterations, numbers.Integral) or iterations < 0:
            raise ValueError(f"iterations must be an int >= 0, got {iterations!r}")
        values = {k: _hyper(k, state[k], rule) for k, rule in rules.items()}  # lr may be 0
        for k, v in values.items():
            setattr(self, k, v)
        self.iterations, self.state = int(iterations), arrays
        self._loaded_keys = set(layouts[0]) if layouts and layouts[0] else None
