"""What :func:`fastdl.gradcheck.gradcheck` can check, behind one interface.

Three protocols (the textbook's, ゼロから作るDeep Learning chapters 5-8):

* :class:`FunctionPair`: ``f(x) -> y`` and ``df(dout, x) -> dx``;
* :class:`LayerTarget`: ``forward(x[, t]) -> y`` and ``backward(dout) -> dx``, parameters in a
  ``params`` dict (gradients in ``grads``), or as attributes ``W``/``dW``, ``b``/``db``, ...;
  optionally followed by a loss object (``forward(y, t)``, ``backward(dout)``), e.g. a fastdl
  ``Sequential`` with ``SoftmaxCrossEntropy``;
* :class:`NetworkTarget`: ``loss(x, t) -> float``, ``gradient(x, t) -> dict`` and a ``params``
  dict (``TwoLayerNet``, ``SimpleConvNet``).

Each gives ``params`` (name -> the user's array), ``forward(x)`` (the output whose
``sum(y * G)`` is differentiated) and ``analytic(x, G) -> (dx or None, {name: grad})``.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

MISSING = object()  # a gradient the object did not leave
_TRAIN_FLAGS = ("train_flg", "train")


def _with_train_flag(fn, kwargs: dict) -> dict:
    """``kwargs`` plus ``train_flg=True`` / ``train=True`` when ``fn`` takes such a parameter."""
    try:
        names = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return dict(kwargs)
    flags = {f: True for f in _TRAIN_FLAGS if f in names and f not in kwargs}
    return {**kwargs, **flags}


def _accepted(fn, kwargs: dict) -> dict:
    """The items of ``kwargs`` that ``fn`` accepts as keyword arguments."""
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in params}


class FunctionPair:
    """``f(x, **kwargs) -> y`` with ``backward(dout, x) -> dx``; no parameters."""

    has_dx = True
    roots: dict = {}
    grad_attrs = ("params", "grads")

    def __init__(self, f, backward, kwargs: dict):
        if not callable(f):
            raise TypeError("with backward=, the first argument must be the forward function f")
        self.f, self.df, self.kwargs = f, backward, kwargs
        self.label = getattr(f, "__name__", type(f).__name__)
        self.params: dict[str, Any] = {}
        self.sources = {"x": "backward(dout, x)"}
        self.notes: list[str] = []

    def forward(self, x):
        return self.f(x, **self.kwargs)

    def analytic(self, x, G):
        return self.df(G, x.copy()), {}


class LayerTarget:
    """A layer (or a ``Sequential``), optionally followed by a loss object.

    Parameters are found, in this order: ``param_names`` (attribute style, parameter ->
    gradient attribute); a dict ``layer.<params_attr>`` (gradients in ``layer.<grads_attr>``);
    every floating ndarray attribute ``k`` (other than ``x``) for which ``layer.d<k>`` exists
    (the textbook's ``W``/``dW``, ``b``/``db``, ``gamma``/``dgamma``, ``beta``/``dbeta``).
    """

    has_dx = True

    def __init__(self, layer, t, loss, kwargs, params_attr, grads_attr, param_names):
        self.layer, self.t, self.loss = layer, t, loss
        self.grad_attrs = (params_attr, grads_attr)
        self.kwargs = _with_train_flag(layer.forward, kwargs)
        self.label = type(layer).__name__ + (f" + {type(loss).__name__}" if loss else "")
        self.roots = {"layer": layer, **({"loss": loss} if loss is not None else {})}
        self.notes = []
        self.sources = {"x": "backward(dout)"}
        self._read: dict[str, Any] = {}  # name -> (reader of the parameter, reader of its gradient)
        if param_names is not None:
            for name, grad in param_names.items():
                if not hasattr(layer, name):
                    raise ValueError(
                        f"param_names names {name!r} but the layer has no attribute layer.{name}"
                    )
                self._attribute(name, grad)
        elif isinstance(getattr(layer, params_attr, None), dict):
            for name in getattr(layer, params_attr):
                self._dict_entry(params_attr, grads_attr, name)
        elif hasattr(layer, params_attr):
            raise TypeError(
                f"layer.{params_attr} must be a dict name -> ndarray, got "
                f"{type(getattr(layer, params_attr)).__name__}; for attribute-style layers pass "
                "param_names={'W': 'dW', ...}"
            )
        else:
            attrs = getattr(layer, "__dict__", {})
            for name, value in attrs.items():
                is_float = isinstance(value, np.ndarray) and value.dtype.kind == "f"
                if is_float and name != "x" and f"d{name}" in attrs:
                    self._attribute(name, f"d{name}")
        self.params = {name: read() for name, (read, _) in self._read.items()}

    def _attribute(self, name, grad):
        layer = self.layer
        self.sources[name] = f"layer.{grad}"
        self._read[name] = (lambda: getattr(layer, name), lambda: getattr(layer, grad, MISSING))

    def _dict_entry(self, params_attr, grads_attr, name):
        layer = self.layer
        self.sources[name] = f"layer.{grads_attr}[{name!r}]"

        def grad():
            holder = getattr(layer, grads_attr, None)
            return holder.get(name, MISSING) if isinstance(holder, dict) else MISSING

        self._read[name] = (lambda: getattr(layer, params_attr)[name], grad)

    def forward(self, x):
        args = () if self.t is None or self.loss is not None else (self.t,)
        y = self.layer.forward(x, *args, **self.kwargs)
        return y if self.loss is None else self.loss.forward(y, self.t)

    def analytic(self, x, G):
        self.forward(x)
        dout = G if self.loss is None else self.loss.backward(G)
        dx = self.layer.backward(dout)
        return dx, {name: grad() for name, (_, grad) in self._read.items()}


class NetworkTarget:
    """``net.loss(x, t)``, ``net.gradient(x, t) -> dict`` and ``net.params``; no dx."""

    has_dx = False
    grad_attrs = ("params", "grads")

    def __init__(self, net, t, kwargs):
        if not isinstance(getattr(net, "params", None), dict):
            raise TypeError(
                f"{type(net).__name__} has loss() and gradient() but no params dict; the "
                "network protocol needs net.params, a dict name -> ndarray"
            )
        if t is None:
            raise TypeError(
                f"{type(net).__name__} is a network: pass the labels, gradcheck(net, x, t)"
            )
        self.net, self.t = net, t
        self.loss_kwargs = _with_train_flag(net.loss, kwargs)
        self.grad_kwargs = _accepted(net.gradient, kwargs)
        self.label = type(net).__name__
        self.roots = {"net": net}
        self.params = dict(net.params)
        self.sources = {name: f"net.gradient(x, t)[{name!r}]" for name in self.params}
        self.notes = [
            f"dx was not checked: {self.label}.gradient(x, t) returns the parameter gradients only"
        ]

    def forward(self, x):
        return self.net.loss(x, self.t, **self.loss_kwargs)

    def analytic(self, x, G):  # G is 1.0: the loss is the scalar differentiated
        grads = self.net.gradient(x, self.t, **self.grad_kwargs)
        if not isinstance(grads, dict):
            raise TypeError(
                f"{self.label}.gradient(x, t) returned {type(grads).__name__}; expected a dict "
                "name -> gradient with the keys of net.params"
            )
        return None, {name: grads.get(name, MISSING) for name in self.params}


def make_target(obj, t, loss, backward, kwargs, params_attr, grads_attr, param_names):
    """The target object for the arguments of :func:`fastdl.gradcheck.gradcheck`.

    An object with both protocols is taken as a network when ``t`` is given without ``loss``.
    """
    if backward is not None:
        return FunctionPair(obj, backward, kwargs)
    network = hasattr(obj, "loss") and hasattr(obj, "gradient")
    if network and t is not None and loss is None:
        return NetworkTarget(obj, t, kwargs)
    if loss is not None or (hasattr(obj, "forward") and hasattr(obj, "backward")):
        if not (hasattr(obj, "forward") and hasattr(obj, "backward")):
            raise TypeError(
                f"with loss=, the first argument must be a layer; got {type(obj).__name__}"
            )
        if loss is not None and t is None:
            raise TypeError("with loss=, pass the labels too: gradcheck(model, x, t, loss=...)")
        return LayerTarget(obj, t, loss, kwargs, params_attr, grads_attr, param_names)
    if network:
        return NetworkTarget(obj, t, kwargs)
    raise TypeError(
        "expected a layer with forward(x) and backward(dout) methods, a network with loss(x, t), "
        "gradient(x, t) and params, or gradcheck(f, x, backward=df) for a pair of functions; got "
        f"{type(obj).__name__}"
    )
