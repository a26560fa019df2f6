"""L2 and L1 weight decay on weights only (not biases, not BatchNorm parameters).

Conventions (the textbook's, with ``lam`` its ``weight_decay_lambda``):

- :class:`L2`: ``loss += 0.5 * lam * sum(W**2)`` and ``grad += lam * W``;
- :class:`L1`: ``loss += lam * sum(|W|)`` and ``grad += lam * sign(W)`` (subgradient 0 at 0).

A regulariser works on the ``params``/``grads`` dicts of a model (name -> ndarray). By default it
applies to the parameters named ``W`` -- the weights of Dense and Conv2D -- in any of the forms
``"W"``, ``"0.W"`` (``Sequential``) or ``"W1"``, ``"W2"`` (the textbook's ``MultiLayerNet``);
biases (``b``) and BatchNorm's ``gamma``/``beta`` are left alone. Pass ``applies_to(name) -> bool``
to choose other parameters. Typical use in a training step, after ``backward``::

    loss += reg.penalty(model.params)
    reg.add_grad(model.params, model.grads)
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ._typing import FloatArray

_WEIGHT_NAME = re.compile(r"(^|\.)W\d*$")


def is_weight(name: str) -> bool:
    """Default ``applies_to``: True for ``"W"``, ``"<prefix>.W"`` and ``"W<digits>"`` names."""
    return bool(_WEIGHT_NAME.search(name))


class _Regularizer:
    """Shared validation and parameter selection of :class:`L2` and :class:`L1`."""

    def __init__(self, lam: float, applies_to: Callable[[str], bool] | None = None) -> None:
        name = type(self).__name__
        if isinstance(lam, (bool, np.bool_)) or not isinstance(lam, numbers.Real):
            raise TypeError(f"{name}: lam must be a real number, got {type(lam).__name__}")
        if not (np.isfinite(lam) and lam >= 0):
            raise ValueError(f"{name}: lam must be finite and >= 0, got {lam!r}")
        if applies_to is not None and not callable(applies_to):
            raise TypeError(
                f"{name}: applies_to must be a callable name -> bool, "
                f"got {type(applies_to).__name__}"
            )
        self.lam: float = float(lam)
        self.applies_to: Callable[[str], bool] = applies_to or is_weight

    def names(self, params: Mapping[str, npt.ArrayLike]) -> list[str]:
        """Names of the entries of ``params`` that this regulariser decays, in dict order."""
        if not isinstance(params, Mapping):
            raise TypeError(
                f"{type(self).__name__}: params must be a dict name -> ndarray, "
                f"got {type(params).__name__}"
            )
        return [k for k in params if self.applies_to(k)]

    def penalty(self, params: Mapping[str, npt.ArrayLike]) -> float:
        """The term to add to the loss, as a Python float (summed in float64).

        Parameters
        ----------
        params : dict of str -> ndarray
        """
        return float(sum(self._penalty(np.asarray(params[k])) for k in self.names(params)))

    def add_grad(
        self, params: Mapping[str, npt.ArrayLike], grads: MutableMapping[str, FloatArray]
    ) -> None:
        """Add the penalty's gradient to ``grads`` in place, for the decayed parameters only.

        Parameters
        ----------
        params : dict of str -> ndarray
        grads : dict of str -> ndarray
            Same keys and shapes as ``params`` for every decayed name (a model's ``grads``).
        """
        name = type(self).__name__
        for k in self.names(params):
            if k not in grads:
                raise ValueError(f"{name}: params has {k!r} but grads has no entry {k!r}")
            w, g = np.asarray(params[k]), grads[k]
            if not isinstance(g, np.ndarray):
                raise TypeError(f"{name}: grads[{k!r}] must be an ndarray, got {type(g).__name__}")
            if g.shape != w.shape:
                raise ValueError(
                    f"{name}: grads[{k!r}] has shape {g.shape} but params[{k!r}] has {w.shape}"
                )
            g += self._grad(w)

    def _penalty(self, w: FloatArray) -> float:
        raise NotImplementedError

    def _grad(self, w: FloatArray) -> FloatArray:
        raise NotImplementedError

    def __repr__(self) -> str:
        custom = "" if self.applies_to is is_weight else f", applies_to={self.applies_to!r}"
        return f"{type(self).__name__}(lam={self.lam!r}{custom})"


class L2(_Regularizer):
    """L2 weight decay: ``loss += 0.5 * lam * sum(W**2)``, ``grad += lam * W``.

    Parameters
    ----------
    lam : float >= 0
        The decay strength (the textbook's ``weight_decay_lambda``).
    applies_to : callable name -> bool, optional
        Which parameters to decay; default :func:`is_weight` (weights ``W``, not biases or
        BatchNorm parameters).
    """

    def _penalty(self, w: FloatArray) -> float:
        w64 = w.astype(np.float64).ravel()
        return 0.5 * self.lam * np.dot(w64, w64)

    def _grad(self, w: FloatArray) -> FloatArray:
        return self.lam * w


class L1(_Regularizer):
    """L1 weight decay: ``loss += lam * sum(|W|)``, ``grad += lam * sign(W)`` (0 at ``W == 0``).

    Parameters
    ----------
    lam : float >= 0
    applies_to : callable name -> bool, optional
        As for :class:`L2`.
    """

    def _penalty(self, w: FloatArray) -> float:
        return self.lam * np.abs(w).sum(dtype=np.float64)

    def _grad(self, w: FloatArray) -> FloatArray:
        return self.lam * np.sign(w)


REGULARIZERS: dict[str, type[L2 | L1]] = {"l2": L2, "l1": L1}


def get_regularizer(
    name: str | L2 | L1 | None, lam: float | None = None, **kwargs: Any
) -> L2 | L1 | None:
    """Make a regulariser from a name.

    Parameters
    ----------
    name : {"l2", "l1"}, None, or an L2/L1 instance
        ``None`` means no regularisation and returns ``None``; an instance is returned as is.
    lam : float >= 0
        Required with a name.
    **kwargs
        Passed to the class (``applies_to``).

    Returns
    -------
    L2, L1 or None
    """
    if name is None or isinstance(name, _Regularizer):
        return name
    if not isinstance(name, str):
        raise TypeError(f"regularizer must be 'l2', 'l1' or None, got {type(name).__name__}")
    key = name.lower()
    if key not in REGULARIZERS:
        raise ValueError(f"unknown regularizer {name!r}; choose one of {sorted(REGULARIZERS)}")
    if lam is None:
        raise TypeError(f"regularizer {name!r} needs lam, e.g. get_regularizer({name!r}, 1e-4)")
    return REGULARIZERS[key](lam, **kwargs)
