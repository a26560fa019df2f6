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
# Failing checks all within this relative error (and of one sign) are "small and systematic".
_SMALL = 1e-2


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
    """Where the wrong elements are, for a full check where only some are wrong, when they
    are few or share an index; ``bad`` (size,) in C order. None otherwise."""
    n_bad = int(bad.sum())
    if n_bad == 0 or n_bad == bad.size:
        return None
    bad = bad.reshape(shape)  # (*shape,)
    where = np.argwhere(bad)  # (n_bad, ndim)
    shared = [
        f"index {int(where[0, ax])} along axis {ax}"
        for ax in range(len(shape))
        if n_bad > 1 and shape[ax] > 1 and np.all(where[:, ax] == where[0, ax])
    ]
    if n_bad > 3 and not shared:
        return None
    are = "is" if n_bad == 1 else "are"
    text = f"only {n_bad} of {bad.size} elements {are} wrong, the other {bad.size - n_bad} match"
    if n_bad <= 3:
        text += ": " + ", ".join(str(tuple(int(i) for i in w)) for w in where)
    if shared:
        text += "; all of them have " + " and ".join(shared) + " (a slice or an axis is wrong)"
    return text


def _small_relative_hint(a: np.ndarray, n: np.ndarray, bad: np.ndarray) -> str | None:
    """Hint for failing checks that are all off by a small relative error of one sign."""
    a, n = a[bad], n[bad]
    rel = np.abs(a - n) / np.maximum(np.abs(n), _TINY)
    larger = np.abs(a) > np.abs(n)
    if not (np.all(rel <= _SMALL) and (larger.all() or not larger.any())):
        return None
    side = "larger" if larger.all() else "smaller"
    return (
        f"small systematic relative error: every failing check has |analytic| {side} than "
        f"|numeric| by at most {rel.max():.1e} relative. The code is nearly right; typical "
        "causes are an epsilon in the forward that the backward ignores, such as "
        "log(y + 1e-7), or a tolerance too tight for the float precision"
    )


def diagnose(a, n, bad, permuted, values, shape, full, analytic_zero, batch) -> str | None:
    """Guess the bug shape of a failing tensor, or None when no pattern fits clearly.

    Parameters
    ----------
    a, n : ndarray, shape (n_checks,)
        Analytic and numeric values of the checks (directions first, then elements).
    bad : ndarray of bool, shape (n_checks,)
        Which checks failed (checks at a kink excluded).
    permuted : dict
        Axis permutation -> ``(n_checks,)`` analytic values of the gradient transposed that way
        (only permutations that keep the shape).
    values : tuple of ndarray or None
        Full check without kinks: ``(analytic, numeric)`` of every element, else None.
    shape : tuple of int
        Shape of the tensor.
    full : bool
        Whether every element was checked; then the element checks are in C order.
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
            "the numeric gradient is exactly zero: the output does not depend on this tensor "
            "(is it used in forward at all, or does forward read a copy of it made earlier, "
            "e.g. self.W = W.copy() beside params['W']?)"
        )
    norm_n = float(np.linalg.norm(n))
    k = float(a @ n) / norm_n**2
    fits = np.linalg.norm(a - k * n) <= _FIT * np.linalg.norm(a)
    if fits and not _close(k, 1.0) and np.count_nonzero(n) >= 3:  # 1 or 2 values always fit
        return _ratio_hint(k, batch)
    for perm, moved in permuted.items():
        if np.linalg.norm(moved - n) <= _FIT * norm_n:
            what = "transposed" if len(perm) == 2 else f"with its axes permuted as {perm}"
            return (
                f"the analytic gradient matches the numeric one {what}: e.g. "
                "np.dot(dout.T, x) instead of np.dot(x.T, dout), or a reshape in the wrong order"
            )
    if values is not None and np.count_nonzero(bad) >= 2:
        va, vn = (np.sort(v) for v in values)
        if np.linalg.norm(va - vn) <= _FIT * np.linalg.norm(vn):
            return (
                "the analytic gradient holds the right values in the wrong places (a "
                "permutation of the numeric one): a reshape or transpose mix-up, e.g. "
                "dW.reshape(FN, C, FH, FW) without the transpose(1, 0) first"
            )
    small = _small_relative_hint(a, n, bad)
    if small:
        return small
    return _partial_hint(bad, shape) if full else None


class ElementError(NamedTuple):
    """One checked element: its index, both gradient values and their differences."""

    index: tuple  # type: ignore[assignment]  # the field shadows tuple.index, by design
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
    n_kinks : int
        Checks skipped at a kink: they failed, and their one-sided differences disagree
        (not counted in ``n_checked``/``n_failed``).
    n_nudged : int
        Checks at a kink measured again after nudging the values off it (``kinks="nudge"``);
        those still at a kink are in ``n_kinks``.
    located : int or None
        Random mode: wrong elements found by bisection after a failing direction (None when
        no direction failed).
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
    n_kinks: int = 0
    n_nudged: int = 0
    located: int | None = None


@dataclass
class GradcheckResult:
    """Result of :func:`gradcheck`; true iff every tensor passed.

    ``str(result)`` / ``result.report()`` give a table of all tensors and, for each failing one,
    the hint and the worst elements with their indices. ``precision`` is a note, shown first,
    when the object computed in float32 (or lower), with tolerances that fit.
    """

    passed: bool
    tensors: dict
    target: str
    settings: dict
    notes: list = field(default_factory=list)
    precision: str | None = None

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


def compare_tensor(
    name, source, analytic, measured, probes, mode, tol, n_worst, batch, located, n_nudged
):
    """Compare analytic and numeric values of one tensor and build its :class:`TensorCheck`.

    Parameters
    ----------
    name, source : str
        See :class:`TensorCheck`.
    analytic : ndarray of float64
        The analytic gradient, shape of the tensor.
    measured : Measured
        ``analytic``, ``numeric`` and ``kink``, each ``(n_checks,)``: the probes' values
        (directions first, then elements) and which of them sit at a kink.
    probes : Probes
        ``n_dirs``, ``index`` (flat indices of the checked elements, ``(n_elem,)``) and
        ``values(grad) -> (n_checks,)``, the checks evaluated at any array of the tensor's size.
    mode : {"full", "random"}
    tol : dict
        ``{"rtol": float, "atol": float}``.
    n_worst : int
        Number of worst elements and directions kept.
    batch : int
        ``x.shape[0]``, for the 1/N hint.
    located, n_nudged : int or None, int
        See :class:`TensorCheck`.
    """
    shape = analytic.shape
    use = ~measured.kink
    a, numeric = measured.analytic[use], measured.numeric[use]
    k = int(use[: probes.n_dirs].sum())
    err = np.abs(a - numeric)
    rel = err / np.maximum(np.maximum(np.abs(a), np.abs(numeric)), _TINY)
    bound = tol["atol"] + tol["rtol"] * np.abs(numeric)
    bad = ~(err <= bound)  # NaN counts as bad
    order = np.argsort(-np.where(np.isnan(err), np.inf, err / bound), kind="stable")
    dirs = np.flatnonzero(use[: probes.n_dirs])
    elems = probes.index[use[probes.n_dirs :]]
    rows = [(j, float(a[j]), float(numeric[j]), float(err[j]), float(rel[j])) for j in order]
    worst_dirs = [DirectionError(int(dirs[j]), *vals) for j, *vals in rows if j < k]
    worst = [ElementError(_index(elems[j - k], shape), *vals) for j, *vals in rows if j >= k]
    hint = None
    if bad.any():
        # all axis permutations but the identity (the first), at most 23 (all of a 4-d tensor)
        perms = itertools.islice(itertools.permutations(range(analytic.ndim)), 1, 24)
        permuted = {
            p: probes.values(analytic.transpose(p))[use]
            for p in perms
            if analytic.transpose(p).shape == shape
        }
        full = mode == "full" and use.all()
        values = (measured.analytic, measured.numeric) if full else None
        zero = not analytic.any()
        hint = diagnose(a, numeric, bad, permuted, values, shape, full, zero, batch)
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
        n_kinks=int(measured.kink.sum()),
        n_nudged=n_nudged,
        located=located,
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


def _kink_line(t: TensorCheck, settings: dict) -> str | None:
    """What happened to the checks of ``t`` at a kink, or None when there were none."""
    if not (t.n_kinks or t.n_nudged):
        return None
    checks = "elements" if t.mode == "full" else "checks"
    if t.n_nudged:
        again = t.n_nudged - t.n_kinks
        return (
            f"{t.name}: {t.n_nudged} {checks} at a kink were nudged off it by "
            f"about +-{1e3 * settings['eps']:g} and checked again ({again} checked, "
            f"{t.n_kinks} still at a kink and skipped)"
        )
    text = (
        f"{t.name}: {t.n_kinks} {checks} skipped at a kink (their one-sided differences "
        f"disagree: not differentiable there at eps={settings['eps']:g}, e.g. Relu at 0 or a "
        "tie in max pooling)"
    )
    if settings.get("kinks") == "skip":
        text += "; kinks='nudge' moves them off the kink and checks them there"
    return text


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
    if result.precision:
        lines += _wrap(result.precision, "PRECISION: ", " " * 11)
    kinky = any(t.n_kinks or t.n_nudged for t in result.tensors.values())
    header = ["tensor", "shape", "mode", "checked", "failed"]
    header += ["at kink"] * kinky + ["max abs err", "max rel err", ""]
    rows = [
        [t.name, str(t.shape), t.mode, t.n_checked, t.n_failed]
        + [t.n_kinks] * kinky
        + [f"{t.max_abs_err:.2e}", f"{t.max_rel_err:.2e}", "ok" if t.passed else "FAIL", t.source]
        for t in result.tensors.values()
    ]
    lines += _table([[*header, "gradient from"], *rows], "  ")
    kink_lines = [_kink_line(t, s) for t in result.tensors.values()]
    for line in filter(None, kink_lines):
        lines += _wrap(line, "  ", " " * 4)
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
        if t.located:
            lines.append(f"  {t.located} wrong element(s) located by bisection over blocks")
        if t.n_failed_elements:
            label = "worst elements" if t.mode == "full" else "worst of the checked elements"
            lines.append(f"  {label}:")
            lines += _error_table("index", t.worst, s)
        else:
            lines += _wrap(
                "no single wrong element was found: the error is spread thinly over many "
                "elements, or sits near kinks; rerun with mode='full' to see every element",
                "  ",
                "  ",
            )
    for note in result.notes:
        lines += _wrap(note, "note: ", " " * 6)
    return "\n".join(lines)
