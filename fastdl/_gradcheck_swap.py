"""Working copies swapped into every reference an object holds, and put back afterwards.

:class:`Swap` walks the attributes of an object, the dicts, lists and nested objects it
reaches, and records every place (container, key) that holds an ndarray. ``install`` puts a
private working copy in each place: one copy per distinct array, so aliases (``self.W`` and
``self.params["W"]`` of a layer, ``net.params["W1"]`` and ``net.layers["Affine1"].W``) keep
seeing the same array, and perturbing that copy in place reaches all of them. ``restore`` puts
the original objects back in every place, removes attributes and keys added in the meantime,
and resets the state of every ``numpy.random.Generator`` met on the way. The user's arrays are
never written.
"""

from __future__ import annotations

import types

import numpy as np

_MISSING = object()
_SKIP = (type, types.ModuleType, types.FunctionType, types.MethodType, types.BuiltinFunctionType)
_MAX_CONTAINERS = 100_000


def _items(container) -> dict:
    """The current ``key -> value`` mapping of a dict, a list or an object's ``__dict__``."""
    if isinstance(container, dict):
        return dict(container)
    if isinstance(container, list):
        return dict(enumerate(container))
    return dict(vars(container))


def _put(container, key, value) -> None:
    """Bind ``value`` at ``key``: item assignment for a dict or a list; for an object, its
    ``__dict__`` entry (no ``__setattr__`` or property of the user's class runs)."""
    if isinstance(container, (dict, list)):
        container[key] = value
    else:
        vars(container)[key] = value


def _drop(container, key) -> None:
    if isinstance(container, dict):
        del container[key]
    else:
        del vars(container)[key]


def _children(value) -> bool:
    """Whether the walk descends into ``value``."""
    if isinstance(value, (dict, list)):
        return True
    if isinstance(value, (np.ndarray, np.random.Generator, *_SKIP)):
        return False
    return isinstance(getattr(value, "__dict__", None), dict)


def _path(parent: str, container, key) -> str:
    if isinstance(container, (dict, list)):
        return f"{parent}[{key!r}]"
    return f"{parent}.{key}"


class Swap:
    """Every place holding an ndarray inside ``roots``, with the means to swap and restore.

    Parameters
    ----------
    roots : dict of str to object
        Display name -> object to walk, e.g. ``{"net": net}``.
    """

    def __init__(self, roots: dict):
        self.containers = []  # (container, original items), in walk order
        self.places = []  # (container, key, array, display path)
        self.tuples = []  # (tuple, display path): cannot be updated in place
        self.generators = []  # (generator, original bit-generator state)
        self.copies: dict[int, np.ndarray] = {}  # id(original array) -> working copy
        seen = set()
        stack = [(obj, name) for name, obj in roots.items() if _children(obj)]
        while stack:
            container, path = stack.pop()
            if id(container) in seen:
                continue
            seen.add(id(container))
            if len(seen) > _MAX_CONTAINERS:
                raise ValueError(
                    f"gradcheck: more than {_MAX_CONTAINERS} containers are reachable from "
                    f"{list(roots)}; the object graph is too large to protect"
                )
            items = _items(container)
            self.containers.append((container, items))
            for key, value in items.items():
                where = _path(path, container, key)
                if isinstance(value, np.ndarray):
                    self.places.append((container, key, value, where))
                elif isinstance(value, np.random.Generator) and id(value) not in seen:
                    seen.add(id(value))
                    self.generators.append((value, value.bit_generator.state))
                elif isinstance(value, tuple):
                    self.tuples.append((value, where))
                elif _children(value):
                    stack.append((value, where))

    def where(self, array: np.ndarray) -> list:
        """Display paths of the places holding ``array`` (by identity)."""
        return [p for _, _, a, p in self.places if a is array]

    def install(self, params: list) -> None:
        """Put a working copy in every place; ``params`` (originals) get C-ordered float64 ones.

        A view of a parameter (``self.col_W = self.W.reshape(...)`` cached by a forward)
        becomes the same view of the parameter's working copy, and a view of another array
        the object holds (a buffer and a view into it) the same view of that array's copy when
        the layout allows; other arrays get plain copies.
        """
        for value, where in self.tuples:
            if any(v is p for v in value for p in params):
                raise ValueError(
                    f"gradcheck: {where} is a tuple holding a parameter array; a tuple cannot "
                    "be updated in place, so the check could not perturb it there (use a list)"
                )
        for p in params:
            self.copies[id(p)] = np.array(p, dtype=np.float64, order="C")
        held = {id(a) for _, _, a, _ in self.places}
        for _, _, a, where in self.places:
            self._copy(a, params, held, where)
        for container, key, a, _ in self.places:
            _put(container, key, self.copies[id(a)])

    def _copy(self, a: np.ndarray, params: list, held: set, where: str) -> np.ndarray:
        """The working copy of ``a`` (made once), see :meth:`install`."""
        if id(a) in self.copies:
            return self.copies[id(a)]
        owner = next((p for p in params if _overlap(a, p)), None)
        if owner is not None:
            work = _view_of(a, owner, self.copies[id(owner)], where)
        elif isinstance(a.base, np.ndarray) and id(a.base) in held:
            base = self._copy(a.base, params, held, where)
            try:
                work = _view_of(a, a.base, base, where)
            except ValueError:  # a layout as_strided cannot rebuild: an independent copy
                work = np.array(a, copy=True)
        else:
            work = np.array(a, order="C" if a.flags.c_contiguous else "K", copy=True)
        self.copies[id(a)] = work
        return work

    def working(self, original: np.ndarray) -> np.ndarray:
        """The working copy standing in for ``original``."""
        return self.copies[id(original)]

    def restore(self, keep: dict | None = None) -> None:
        """Put every original object back in its place and rewind the generators.

        ``keep`` maps ``id(value)`` of a value present now to what stays in its place instead
        of the original (the gradients a backward left, cast to the parameters' dtypes).
        """
        keep = keep or {}
        for container, items in self.containers:
            current = _items(container)
            if isinstance(container, list):  # items appended or removed: rebuild it whole
                now = [current.get(i, _MISSING) for i in items]
                old = [keep.get(id(n), v) for n, v in zip(now, items.values())]
                if len(container) != len(old) or any(a is not b for a, b in zip(container, old)):
                    container[:] = old
                continue
            for key in current.keys() - items.keys():
                if id(current[key]) in keep:
                    _put(container, key, keep[id(current[key])])
                else:
                    _drop(container, key)
            for key, value in items.items():
                now = current.get(key, _MISSING)
                if now is not _MISSING and id(now) in keep:
                    _put(container, key, keep[id(now)])
                elif now is not value:
                    _put(container, key, value)
        self.reset_generators()

    def gradients(self, dtypes: dict, params_attr: str, grads_attr: str) -> dict:
        """The gradients the objects hold now beside the working copies, cast for :meth:`restore`.

        ``dtypes`` maps ``id(working copy)`` to the original parameter's dtype. A gradient is
        ``obj.d<k>`` beside a parameter ``obj.<k>`` (the textbook's ``dW`` beside ``W``), or
        ``obj.<grads_attr>[name]`` beside ``obj.<params_attr>[name]``. Returns ``id(gradient)
        -> gradient`` in the parameter's dtype.
        """
        found = {}
        for container, _ in self.containers:
            if isinstance(container, (dict, list)):
                continue
            attrs = vars(container)
            pairs = [(v, attrs.get(f"d{k}")) for k, v in attrs.items()]
            params, grads = attrs.get(params_attr), attrs.get(grads_attr)
            if isinstance(params, dict) and isinstance(grads, dict):
                pairs += [(v, grads.get(name)) for name, v in params.items()]
            for value, grad in pairs:
                if id(value) in dtypes and isinstance(grad, np.ndarray):
                    found[id(grad)] = grad.astype(dtypes[id(value)], copy=False)
        return found

    def reset_generators(self) -> None:
        """Rewind every ``numpy.random.Generator`` the object holds to its state at the walk."""
        for gen, state in self.generators:
            gen.bit_generator.state = state


def _view_of(a: np.ndarray, owner: np.ndarray, work: np.ndarray, where: str) -> np.ndarray:
    """The view ``a`` of parameter ``owner``, rebuilt on ``work``, ``owner``'s float64 copy.

    NumPy has no "same view of another array"; ``as_strided`` rebuilds it from the offset and
    strides of ``a`` inside ``owner``, after checking that it stays inside ``owner``. The test
    ``test_a_cached_view_of_a_parameter_follows_the_working_copy`` pins this behaviour.
    """
    size = owner.itemsize
    offset = a.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
    steps = [s // size for s in a.strides]
    lo = offset // size + sum(min(0, (n - 1) * s) for n, s in zip(a.shape, steps))
    hi = offset // size + sum(max(0, (n - 1) * s) for n, s in zip(a.shape, steps))
    if not (
        owner.flags.c_contiguous
        and a.dtype == owner.dtype
        and offset % size == 0
        and all(s % size == 0 for s in a.strides)
        and 0 <= lo <= hi < owner.size
    ):
        raise ValueError(
            f"gradcheck: {where} shares memory with a parameter but is not a plain view inside "
            f"it (dtype {a.dtype} vs {owner.dtype}, or the parameter is not C-contiguous); "
            "the check cannot perturb both consistently"
        )
    flat = work.reshape(-1)  # (owner.size,) view: work is C-contiguous
    return np.lib.stride_tricks.as_strided(
        flat[offset // size :], shape=a.shape, strides=[s * work.itemsize for s in steps]
    )


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    return np.may_share_memory(a, b) and np.shares_memory(a, b)
