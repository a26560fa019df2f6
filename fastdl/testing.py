"""Test helpers for users' own layers, for pytest or any ``assert``-based test runner."""

from __future__ import annotations

from typing import Any

from .gradcheck import GradcheckResult, gradcheck

__all__ = ["assert_gradcheck"]


def assert_gradcheck(layer: Any, x: Any, *args: Any, **kwargs: Any) -> GradcheckResult:
    """Run :func:`fastdl.gradcheck.gradcheck` and raise ``AssertionError`` if it fails.

    Parameters
    ----------
    layer : object or callable
        A layer with ``forward``/``backward``, a network with ``loss``/``gradient``/``params``,
        or the forward function ``f`` together with ``backward=df`` in ``kwargs``; see
        :func:`fastdl.gradcheck.gradcheck`.
    x : array_like, shape (N, ...)
        Input of ``forward``; never modified.
    *args
        The labels ``t`` of a network or a loss layer.
    **kwargs
        Any keyword argument of :func:`fastdl.gradcheck.gradcheck` (``param_names``,
        ``forward_kwargs``, ``mode``, ``rtol``, ...).

    Returns
    -------
    GradcheckResult
        The passing result, for further inspection.

    Raises
    ------
    AssertionError
        If any gradient is wrong; its message is the full report (per failing tensor: the
        hint and the worst elements with their indices). pytest shows it in the failure.

    Examples
    --------
    >>> def test_my_affine():  # doctest: +SKIP
    ...     assert_gradcheck(MyAffine(W, b), x)
    >>> def test_my_two_layer_net():  # doctest: +SKIP
    ...     assert_gradcheck(TwoLayerNet(784, 50, 10), x_train[:3], t_train[:3])
    """
    __tracebackhide__ = True  # pytest: show the failure at the caller's line
    result = gradcheck(layer, x, *args, **kwargs)
    if not result.passed:
        raise AssertionError(result.report())
    return result
