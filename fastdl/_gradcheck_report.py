"""Bug-shape hints and the text report of :mod:`fastdl.gradcheck`."""

from __future__ import annotations

import itertools
import textwrap
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

_TINY = np.finfo(np.float64).tiny

# A hint is given only if the pattern fits the checked values this closely (relative 2-norm).
_FIT = 1e-3


def _close(k: float, target: float) -> bool:
    return abs(k - target) <= _FIT * abs(target)


def _ratio_hint(k: float, batch: int) -> str:
    """Text for ``analytic ~ k * numeric`` on every checked value."""
    if _close(k, -1.0):
        return "analytic ~ -numeric everywhere: sign flip (e.g. `-dout`, or `y - t` vs `t - y`)"
    if batch > 2 and _close(k, batch):
        return (
            f"analytic ~ {batch} x numeric = N x numeric (N = x.shape[0], the batch size): "
            "forward averages over the batch but backward is missing the 1/N"
        )
    if batch > 2 and _close(k, 1.0 / batch):
        return (
            f"analytic ~ numeric / {batch} = numeric / N (N = x.shape[0], the batch size): "
            "backward divides by N but forward does not average over the batch "
            "(or it divides twice)"
        )
    also_n = " (2 is also the batch size N: maybe the 1/N)" if batch == 2 else ""
    if _close(k, 2.0):
        return (
            "analytic ~ 2 x numeric: a factor 2 too large (a gradient added twice, `+=` into a "
            f"buffer that was not reset, or 2x from d(x**2) where there is no square){also_n}"
        )
    if _close(k, 0.5):
        return (
            "analytic ~ numeric / 2: a factor 2 too small (e.g. the 2 of d(x**2)/dx = 2x is "
            f"missing){also_n}"
        )
    return f"analytic/numeric ~ {k:.6g} on every checked value: a constant factor is wrong"


def _partial_hint(bad: np.ndarray, shape: tuple) -> str | None:
    """Hint for a full check where only some elements are wrong; ``bad`` (size,) in C order."""
    n_bad = int(bad.sum())
    if n_bad == 0 or n_bad == bad.size:
        return None
    bad = bad.reshape(shape)  # (*shape,)
    where = np.argwhere(bad)  # (n_bad, ndim)
    are = "is" if n_bad == 1 else "are"
    text = f"only {n_bad} of {bad.size} elements {are} wrong, the other {bad.size - n_bad} match"
    if n_bad <= 3:
        text += ": " + ", ".join(str(tuple(int(i) for i in w)) for w in where)
    shared = [
        f"index {int(where[0, ax])} along axis {ax}"
        for ax in range(len(shape))
        if n_bad > 1 and shape[ax] > 1 and np.all(where[:, ax] == where[0, ax])
    ]
    if shared:
        text += "; all of them have " + " and ".join(shared)
    return text + " (an off-by-one mask/slice, a wrong axis, or an index-specific bug)"


def diagnose(
    a: np.ndarray,
    n: np.ndarray,
    permuted: dict,
    elem_bad: np.ndarray,
    shape: tuple,
    full: bool,
    analytic_zero: bool,
    batch: int,
) -> str | None:
    """Guess the bug shape of a failing tensor, or None when no pattern fits clearly.

    Parameters
    ----------
    a, n : ndarray, shape (n_checks,)
        Analytic and numeric values of the checks (directions first, then elements).
    permuted : dict
        Axis permutation -> ``(n_checks,)`` analytic values of the gradient transposed that way
        (only permutations that keep the shape).
    elem_bad : ndarray of bool, shape (n_elem,)
        Which element checks failed; in a full check they are all elements in C order.
    shape : tuple of int
        Shape of the tensor.
    full : bool
        Whether every element was checked.
    analytic_zero : bool
        The whole analytic gradient is zero.
    batch : int
        ``x.shape[0]``.
    """
    if not np.all(np.isfinite(a)):
        return "the analytic gradient contains NaN or inf"
    if analytic_zero and np.any(n):
        return (
            "the analytic gradient is all zeros: it is never written (or written to another "
            "array than the one read back, e.g. a local variable instead of self.dW)"
        )
    if not np.any(n) and np.any(a):
        return (
            "the numeric gradient is exactly zero: forward does not use this tensor as installed "
            "(does the layer keep its own reference, e.g. self.W, besides the params dict?)"
        )
    norm_n = np.linalg.norm(n)
    k = float(a @ n) / norm_n**2
    fits = np.linalg.norm(a - k * n) <= _FIT * np.linalg.norm(a)
    if fits and not _close(k, 1.0) and np.count_nonzero(n) >= 3:  # 1 or 2 values always fit
        return _ratio_hint(k, batch)
    for perm, values in permuted.items():
        if np.linalg.norm(values - n) <= _FIT * norm_n:
            what = "transposed" if len(perm) == 2 else f"with its axes permuted as {perm}"
            return (
                f"the analytic gradient matches the numeric one {what}: e.g. "
                "np.dot(dout.T, x) instead of np.dot(x.T, dout), or a reshape in the wrong order"
            )
    return _partial_hint(elem_bad, shape) if full else None


class ElementError(NamedTuple):
    """One checked element: its index, both gradient values and their differences."""

    index: tuple
    analytic: float
    numeric: float
    abs_err: float
    rel_err: float


class DirectionError(NamedTuple):
    """One random direction ``v`` (random mode): ``<grad, v>`` analytic and numeric."""

    direction: int
    analytic: float
    numeric: float
    abs_err: float
    rel_err: float


@dataclass
class TensorCheck:
    """Outcome for one tensor (``"x"`` or a parameter name).

    Attributes
    ----------
    name : str
        ``"x"`` or the parameter name.
    source : str
        Where the analytic gradient came from, e.g. ``"layer.grads['W']"``.
    shape : tuple of int
        Shape of the tensor.
    mode : {"full", "random"}
        Every element, or random directions plus a sample of elements.
    passed : bool
        All checks satisfy ``|a - n| <= atol + rtol * |n|``.
    n_checked, n_failed : int
        Checks (elements and directions) done and failed.
    n_failed_elements : int
        Failed checks of single elements.
    max_abs_err, max_rel_err : float
        Largest ``|a - n|`` and ``|a - n| / max(|a|, |n|)`` over the checks.
    worst : list of ElementError
        The worst checked elements, worst first (all elements in full mode, the sampled ones in
        random mode).
    worst_directions : list of DirectionError
        The worst directions, worst first (random mode only).
    hint : str or None
        A guess at the kind of bug, given only when the pattern is clear.
    """

    name: str
    source: str
    shape: tuple
    mode: str
    passed: bool
    n_checked: int
    n_failed: int
    n_failed_elements: int
    max_abs_err: float
    max_rel_err: float
    worst: list = field(default_factory=list)
    worst_directions: list = field(default_factory=list)
    hint: str | None = None


@dataclass
class GradcheckResult:
    """Result of :func:`gradcheck`; true iff every tensor passed.

    ``str(result)`` / ``result.report()`` give a table of all tensors and, for each failing one,
    the hint and the worst elements with their indices.
    """

    passed: bool
    tensors: dict
    target: str
    settings: dict
    notes: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"GradcheckResult(passed={self.passed}, failed={self.failed})"

    @property
    def failed(self) -> list:
        """Names of the tensors that failed."""
        return [name for name, t in self.tensors.items() if not t.passed]

    def report(self) -> str:
        """Readable multi-line report."""
        return format_report(self)

    __str__ = report


def compare_tensor(name, source, analytic, numeric, probes, mode, tol, n_worst, batch):
    """Compare analytic and numeric values of one tensor and build its :class:`TensorCheck`.

    Parameters
    ----------
    name, source : str
        See :class:`TensorCheck`.
    analytic : ndarray of float64
        The analytic gradient, shape of the tensor.
    numeric : ndarray of float64, shape (n_checks,)
        Central differences of the checks of ``probes`` (directions first, then elements).
    probes : object
        ``n_dirs``, ``index`` (flat indices of the checked elements, ``(n_elem,)``) and
        ``values(grad) -> (n_checks,)``, the checks evaluated at any array of the tensor's size.
    mode : {"full", "random"}
    tol : dict
        ``{"rtol": float, "atol": float}``.
    n_worst : int
        Number of worst elements and directions kept.
    batch : int
        ``x.shape[0]``, for the 1/N hint.
    """
    shape = analytic.shape
    a = probes.values(analytic)
    err = np.abs(a - numeric)
    rel = err / np.maximum(np.maximum(np.abs(a), np.abs(numeric)), _TINY)
    bound = tol["atol"] + tol["rtol"] * np.abs(numeric)
    bad = ~(err <= bound)  # NaN counts as bad
    order = np.argsort(-np.where(np.isnan(err), np.inf, err / bound), kind="stable")
    k = probes.n_dirs
    rows = [(j, float(a[j]), float(numeric[j]), float(err[j]), float(rel[j])) for j in order]
    worst_dirs = [DirectionError(int(j), *vals) for j, *vals in rows if j < k]
    worst = [ElementError(_index(probes.index[j - k], shape), *vals) for j, *vals in rows if j >= k]
    hint = None
    if bad.any():
        # all axis permutations but the identity (the first), at most 23 (all of a 4-d tensor)
        perms = itertools.islice(itertools.permutations(range(analytic.ndim)), 1, 24)
        permuted = {
            p: probes.values(analytic.transpose(p))
            for p in perms
            if analytic.transpose(p).shape == shape
        }
        full = mode == "full"
        hint = diagnose(a, numeric, permuted, bad[k:], shape, full, not analytic.any(), batch)
    return TensorCheck(
        name=name,
        source=source,
        shape=tuple(shape),
        mode=mode,
        passed=not bad.any(),
        n_checked=int(a.size),
        n_failed=int(bad.sum()),
        n_failed_elements=int(bad[k:].sum()),
        max_abs_err=float(np.max(err)) if err.size else 0.0,
        max_rel_err=float(np.max(rel)) if rel.size else 0.0,
        worst=worst[:n_worst],
        worst_directions=worst_dirs[:n_worst],
        hint=hint,
    )


def _index(flat_index: int, shape: tuple) -> tuple:
    return tuple(int(i) for i in np.unravel_index(flat_index, shape))


def _table(rows: list, indent: str) -> list:
    """Lines of a table (first row is the header); first column left-aligned, others right."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return [
        indent
        + "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in rows
    ]


def _error_table(what: str, errors: list, settings: dict) -> list:
    """Table of the failing :class:`ElementError` or :class:`DirectionError` rows."""
    rows = []
    for e in errors:
        times_tol = e.abs_err / (settings["atol"] + settings["rtol"] * abs(e.numeric))
        if not times_tol <= 1.0:  # NaN included
            label = f"#{e[0]}" if what == "direction" else str(e[0])
            rows.append(
                [label, f"{e.analytic:.8e}", f"{e.numeric:.8e}", f"{e.abs_err:.2e}"]
                + [f"{e.rel_err:.2e}", f"{times_tol:.1e}"]
            )
    header = [what, "analytic", "numeric", "abs err", "rel err", "err/tol"]
    return _table([header, *rows], "    ")


def _wrap(text: str, first: str, indent: str) -> list:
    return textwrap.wrap(text, 100, initial_indent=first, subsequent_indent=indent)


def format_report(result) -> str:
    """Multi-line report of a :class:`GradcheckResult`: a table, then each failing tensor.

    Failing elements and directions are listed worst first by ``err/tol``, the error as a
    multiple of the allowed ``atol + rtol * |numeric|``.
    """
    s = result.settings
    lines = [
        f"gradcheck {'passed' if result.passed else 'FAILED'} for {result.target} "
        f"(mode={s['mode']}, eps={s['eps']:g}, rtol={s['rtol']:g}, atol={s['atol']:g}, "
        f"seed={s['seed']})"
    ]
    header = ["tensor", "shape", "mode", "checked", "failed", "max abs err", "max rel err", ""]
    rows = [
        [t.name, str(t.shape), t.mode, t.n_checked, t.n_failed, f"{t.max_abs_err:.2e}"]
        + [f"{t.max_rel_err:.2e}", "ok" if t.passed else "FAIL", t.source]
        for t in result.tensors.values()
    ]
    lines += _table([[*header, "gradient from"], *rows], "  ")
    for t in result.tensors.values():
        if t.passed:
            continue
        lines += [
            "",
            f"{t.name} FAILED: {t.n_failed} of {t.n_checked} checks exceed the tolerance "
            "atol + rtol * |numeric|",
            f"  analytic: {t.source}",
        ]
        if t.hint:
            lines += _wrap(t.hint, "  hint: ", " " * 8)
        if t.worst_directions:
            lines.append("  worst random unit directions v (analytic = <grad, v>):")
            lines += _error_table("direction", t.worst_directions, s)
        if t.n_failed_elements:
            label = "worst elements" if t.mode == "full" else "worst of the sampled elements"
            lines.append(f"  {label}:")
            lines += _error_table("index", t.worst, s)
        else:
            lines.append(
                "  none of the sampled elements is wrong; "
                "rerun with mode='full' to locate the error"
            )
    for note in result.notes:
        lines += _wrap(note, "note: ", " " * 6)
    return "\n".join(lines)
