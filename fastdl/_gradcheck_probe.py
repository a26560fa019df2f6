"""Finite differences for :mod:`fastdl.gradcheck`: probes, kinks, and locating by bisection.

A *probe* of a tensor with flat working values ``flat`` (size ``n``) is a linear functional:
``(idx, v)`` perturbs ``flat[idx]`` along ``v`` (a single element: ``idx`` an int and
``v = 1``; a random direction: ``idx = slice(None)``; a block: ``idx = slice(lo, hi)``).
Its analytic value is ``<grad[idx], v>``, its numeric value the central difference of
``L = sum(y * G)``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

_U = np.finfo(np.float64).eps
_SALT = 0x67726164  # keeps G and the directions apart from the user's default_rng(seed) draws
_SHRINK = 4.0  # the kink test repeats the one-sided differences at eps / _SHRINK
_LEAF = 8  # bisection checks blocks of at most this many elements element by element


def rng_for(seed: int, *purpose: int) -> np.random.Generator:
    """Generator for ``seed`` and a purpose, independent of ``np.random.default_rng(seed)``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SALT, *purpose)))


class Probes:
    """The probes of one tensor: ``n_dirs`` random unit directions (regenerated from ``seed``
    when needed, never stored), then single elements at the flat indices ``index``
    (``(n_elem,)``)."""

    def __init__(self, size: int, index: np.ndarray, n_dirs: int, seed: tuple):
        self.size, self.index, self.n_dirs, self.seed = size, index, n_dirs, seed

    def direction(self, j: int) -> np.ndarray:
        v = rng_for(*self.seed, j).standard_normal(self.size)  # (size,)
        return v / np.linalg.norm(v)

    def __iter__(self):
        """``(idx, v)`` of every probe, directions first."""
        for j in range(self.n_dirs):
            yield slice(None), self.direction(j)
        for i in self.index:
            yield int(i), 1.0

    def values(self, grad: np.ndarray) -> np.ndarray:
        """The ``(n_dirs + n_elem,)`` probes evaluated at ``grad`` (``size`` elements)."""
        flat = grad.reshape(-1)  # (size,)
        dirs = [flat @ self.direction(j) for j in range(self.n_dirs)]
        return np.concatenate([np.asarray(dirs, dtype=np.float64), flat[self.index]])


class Measured(NamedTuple):
    """Analytic and numeric values of probes, and which of them sit at a kink."""

    analytic: np.ndarray
    numeric: np.ndarray
    kink: np.ndarray


class Differ:
    """Differences of ``L = sum(evaluate() * G)`` when ``flat`` (a view of the working copy
    ``evaluate`` reads) is moved along a probe.

    Parameters
    ----------
    evaluate : callable
        ``() -> y`` as float64, at the current working values.
    y0 : ndarray
        ``evaluate()`` at the unperturbed working values.
    G : ndarray
        Upstream gradient, ``y0``'s shape.
    eps, rtol, atol : float
        Step and tolerances of :func:`fastdl.gradcheck.gradcheck`.
    """

    def __init__(self, evaluate: Callable, y0, G, eps: float, rtol: float, atol: float):
        self.evaluate, self.y0, self.G = evaluate, y0, G
        self.eps, self.rtol, self.atol = eps, rtol, atol
        self.noise = 10.0 * _U * float(np.sum(np.abs(y0 * G)))  # rounding of L, with margin

    def sides(self, flat: np.ndarray, idx, v, step: float) -> tuple:
        """One-sided slopes ``((L(+step) - L0) / step, (L0 - L(-step)) / step)`` along ``v``."""
        base = flat[idx].copy()
        try:
            flat[idx] = base + step * v
            up = np.sum((self.evaluate() - self.y0) * self.G)
            flat[idx] = base - step * v
            down = np.sum((self.y0 - self.evaluate()) * self.G)
        finally:
            flat[idx] = base
        return float(up) / step, float(down) / step

    def fails(self, a: float, n: float) -> bool:
        return not abs(a - n) <= self.atol + self.rtol * abs(n)

    def probe(self, flat: np.ndarray, grad: np.ndarray, idx, v) -> tuple:
        """``(analytic, numeric, at_kink)`` of one probe; ``grad`` is flat like ``flat``.

        A failing probe is at a kink when its one-sided differences disagree by more than
        smooth curvature explains: for a smooth ``L`` the disagreement ``D(s) = f'' s`` shrinks
        with the step, so ``D(eps / 4) = D(eps) / 4``; at a kink it stays the jump in slope.
        """
        a = float(grad[idx] @ v) if isinstance(v, np.ndarray) else float(grad[idx]) * v
        up, down = self.sides(flat, idx, v, self.eps)
        n = 0.5 * (up + down)
        if not self.fails(a, n):
            return a, n, False
        small = self.eps / _SHRINK
        up_s, down_s = self.sides(flat, idx, v, small)
        excess = abs((up_s - down_s) - (up - down) / _SHRINK)
        return a, n, excess > max(self.atol + self.rtol * abs(n), self.noise / small)

    def measure(self, flat: np.ndarray, grad: np.ndarray, probes) -> Measured:
        """:meth:`probe` for every ``(idx, v)`` of ``probes``."""
        rows = [self.probe(flat, grad, idx, v) for idx, v in probes]
        a, n, k = (np.array([r[i] for r in rows]) for i in range(3))
        return Measured(a.astype(np.float64), n.astype(np.float64), k.astype(bool))

    def locate(self, flat: np.ndarray, grad: np.ndarray, rng, limit: int, budget: int) -> list:
        """Flat indices of up to ``limit`` wrong elements, found by bisection.

        Blocks of the flat tensor are checked along random directions supported on the block;
        a failing block (not at a kink) is halved, and blocks of at most 8 elements are
        checked element by element. A half is retried with fresh directions (up to 3 times)
        when neither half fails although their parent did. ``budget`` caps the block checks.
        """
        found: list[int] = []
        stack, checks = [(0, flat.size)], 0
        while stack and len(found) < limit and checks < budget:
            lo, hi = stack.pop()
            if hi - lo <= _LEAF:
                for i in range(lo, hi):
                    a, n, kink = self.probe(flat, grad, i, 1.0)
                    if self.fails(a, n) and not kink:
                        found.append(i)
                continue
            mid = (lo + hi) // 2
            for _ in range(3):
                failing = []
                for block in ((lo, mid), (mid, hi)):
                    v = rng.standard_normal(block[1] - block[0])  # (block size,)
                    a, n, kink = self.probe(flat, grad, slice(*block), v / np.linalg.norm(v))
                    checks += 1
                    if self.fails(a, n) and not kink:
                        failing.append(block)
                if failing:
                    stack += failing[::-1]  # the first half is examined first
                    break
        return found[:limit]
