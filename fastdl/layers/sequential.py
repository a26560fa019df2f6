"""Sequential container: layers applied in order, parameters named ``"<index>.<name>"``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, cast, overload

import numpy.typing as npt

from .._typing import FloatArray
from ._base import Layer


class _LayerDict(dict[str, FloatArray]):
    """A Sequential's ``params``, ``grads`` or ``buffers``: ``"<i>.<name>"`` -> layer i's array.

    Item assignment (``d[key] = a``, ``d.update(...)``) also rebinds the entry in the layer's
    own dict, so tools that swap arrays in and out (``fastdl.gradcheck`` installs float64
    copies and puts the originals back) reach the layers.
    """

    def __init__(self, model: Sequential, attr: str) -> None:
        super().__init__(
            (f"{i}.{name}", value)
            for i, layer in enumerate(model.layers)
            for name, value in getattr(layer, attr, {}).items()
        )
        self._model, self._attr = model, attr

    def __setitem__(self, key: str, value: FloatArray) -> None:
        index, _, name = str(key).partition(".")
        layers = self._model.layers
        ok = index.isdigit() and int(index) < len(layers)
        holder = getattr(layers[int(index)], self._attr, {}) if ok else {}
        if name not in holder:
            raise KeyError(f"Sequential.{self._attr} has no entry {key!r}")
        holder[name] = value
        super().__setitem__(key, value)

    def update(self, *args: Any, **kwargs: FloatArray) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __reduce__(
        self,
    ) -> tuple[
        type[dict[str, FloatArray]], tuple[dict[str, FloatArray]]
    ]:  # copy.copy, copy.deepcopy and pickle give a plain dict
        return dict, (dict(self),)


def _derived(attr: str) -> Any:
    """Property for ``params``/``grads``/``buffers``: a fresh :class:`_LayerDict` per access;
    assigning a dict rebinds its entries in the layers (``Layer.__init__`` assigns ``{}``)."""

    def fget(self: Sequential) -> _LayerDict:
        return _LayerDict(self, attr)

    def fset(self: Sequential, value: dict[str, FloatArray]) -> None:
        _LayerDict(self, attr).update(value)

    return property(fget, fset, doc=f"The layers' {attr}, keyed ``'<i>.<name>'``.")


class Sequential(Layer):
    """A stack of layers.

    ``params``, ``grads`` and ``buffers`` are dicts keyed ``"<i>.<name>"`` (e.g. ``"0.W"``,
    ``"3.running_mean"``) whose values are the layers' own arrays, so an optimizer that updates
    ``model.params`` in place updates the layers. They are rebuilt on every access, so they
    always show the layers' current arrays; assigning an entry (``model.params["0.W"] = a``)
    rebinds it in the layer.

    Parameters
    ----------
    layers : list of Layer
    """

    params = _derived("params")
    grads = _derived("grads")
    buffers = _derived("buffers")

    def __init__(self, layers: Iterable[Layer]) -> None:
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not all(hasattr(layer, a) for a in ("forward", "backward", "params", "grads")):
                raise TypeError(
                    f"Sequential: item {i} ({type(layer).__name__}) is not a layer: it needs "
                    f"forward, backward, params and grads"
                )
        super().__init__()

    def forward(self, x: npt.ArrayLike, train: bool = True) -> FloatArray:
        for layer in self.layers:
            x = layer.forward(x, train)
        return cast("FloatArray", x)  # an empty Sequential returns its input as it is

    accepts_input_grad = True

    @overload
    def backward(self, dout: FloatArray, input_grad: Literal[True] = ...) -> FloatArray: ...
    @overload
    def backward(self, dout: FloatArray, input_grad: bool) -> FloatArray | None: ...
    def backward(self, dout: FloatArray, input_grad: bool = True) -> FloatArray | None:
        """Backward through every layer; returns dx, or None with ``input_grad=False``, which
        also lets the first layer skip its input gradient if it can (``accepts_input_grad``)."""
        if not self.layers:
            return dout if input_grad else None
        for layer in self.layers[:0:-1]:
            dout = layer.backward(dout)
        first = self.layers[0]
        if input_grad:
            return first.backward(dout)
        if getattr(first, "accepts_input_grad", False):
            # a layer that sets accepts_input_grad takes input_grad (Layer's backward does not)
            return cast(Any, first).backward(dout, input_grad=False)
        first.backward(dout)
        return None

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __repr__(self) -> str:
        inner = ",\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"
