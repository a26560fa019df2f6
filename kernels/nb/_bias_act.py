"""Fused bias + activation, Numba: one compiled pass per direction, blocks of L1-sized scratch.

``x`` (C-contiguous) is viewed as a matrix ``(R, L)`` without copying: ``(N*..*C, inner)`` rows
that share one bias value when the bias axis is not the last one, ``(outer, C)`` rows that take
the whole bias vector when it is. Tasks are (row group, column block) pairs run with ``prange``;
each loads a block of ``z = x + b`` (added in the input dtype, as the reference does) into a
float64 scratch array and applies the activation's vectorised block function from ``_acts``,
chosen by an integer code once per block. Backward recomputes ``z`` and reduces ``db`` race-free:
each task writes its own partial sums (per row and block, or per row group and column), and NumPy
adds the few partials at the end.
"""

import math

import numpy as np
from numba import prange

from .._common import ACTIVATIONS, ALIASES
from .._threads import threads_for
from ._acts import derivative as _act_derivative
from ._acts import forward as _act_forward
from ._config import jit
from ._index import _U

BLOCK = 1024  # entries per block: the scratch arrays (16 KiB in float32) stay in L1
TASKS = 64  # aim for this many (row group, block) tasks: load balance without big partials
CODES = {name: code for code, name in enumerate(ACTIVATIONS)}  # the numbering of _acts
NO_BIAS, ROW_BIAS, COLUMN_BIAS = 0, 1, 2


def _layout(x, b, axis):
    """``(x2, mode, outer, c)``: the (R, L) view of ``x`` and how the bias is laid on it."""
    axis %= x.ndim
    outer, c = math.prod(x.shape[:axis]), x.shape[axis]  # math.prod: cheaper per call than np.prod
    inner = math.prod(x.shape[axis + 1 :])
    if inner == 1:
        return x.reshape(outer, c), (NO_BIAS if b is None else COLUMN_BIAS), outer, c  # (R, C)
    x2 = x.reshape(outer * c, inner)  # (N*..*C, inner)
    return x2, (NO_BIAS if b is None else ROW_BIAS), outer, c


def _setup(x, b, act, axis, act_params):
    """Everything the loops take: views, bias mode, activation code, parameter, row groups."""
    x2, mode, outer, c = _layout(_writeable(x), b, axis)
    name = ALIASES.get(act, act)
    params = {**ACTIVATIONS[name], **act_params}
    p = float(params.get("alpha", params.get("n", 0.0)))
    n_blocks = -(-x2.shape[1] // BLOCK)
    groups = max(1, min(x2.shape[0], -(-TASKS // max(n_blocks, 1))))
    if threads_for(x2.size) == 1:  # the serial twin runs: one task per block (fewer scratches)
        groups = 1
    bias = np.zeros(1, dtype=x.dtype) if b is None else _writeable(b)
    return x2, bias, mode, CODES[name], p, groups, outer, c


def _writeable(a):
    """``a`` itself, or a writeable alias of a read-only ``a`` (no copy) for the compiled loops.

    Numba compiles every read-only/writeable combination of arguments separately, seconds each
    for these loops (the inlined activations are optimised again; bench/README.md has the compile
    times). The loops only read their inputs, so a read-only input is handed over as a writeable
    alias of the same memory; the caller keeps ``a`` alive for the duration of the call.
    """
    if a.flags.writeable:
        return a
    interface = {**a.__array_interface__, "data": (a.__array_interface__["data"][0], False)}
    return np.asarray(type("Alias", (), {"__array_interface__": interface})())


def _scratch(x):
    """Templates of the per-task scratch: a block of ``x.dtype`` and of the same-size int."""
    int_type = np.int32 if x.dtype == np.float32 else np.int64
    return np.empty(BLOCK, dtype=x.dtype), np.empty(BLOCK, dtype=int_type)


@jit(inline=True)
def _load(x2, b, mode, row, j0, m, out, at):
    """``out[at:at + m] = x2[row, j0:j0 + m] + bias`` (added in the input dtype, as the
    reference); ``out`` is 1-D: a scratch block, or the flat output for identity.

    Indexes the whole arrays, with unsigned indices (a signed one makes Numba check for negative
    indices, which stops vectorisation), and is inlined: a row view, or an array argument of a
    compiled call, updates a reference count that all threads share, atomically.
    """
    if mode == ROW_BIAS:
        bv = b[row % b.size]
        for j in range(m):
            out[_U(at + j)] = x2[row, _U(j0 + j)] + bv
    elif mode == COLUMN_BIAS:
        for j in range(m):
            out[_U(at + j)] = x2[row, _U(j0 + j)] + b[_U(j0 + j)]
    else:
        for j in range(m):
            out[_U(at + j)] = x2[row, _U(j0 + j)]


@jit(parallel=True)
def _forward_loop(x2, b, mode, code, p, y1, groups, scratch, int_scratch):
    """``y1`` is the flat output, ``y1[row*L + j]`` = ``y2[row, j]`` of the (R, L) view."""
    r, n = x2.shape
    n_blocks = (n + BLOCK - 1) // BLOCK
    for t in prange(groups * n_blocks):
        g, j0 = t // n_blocks, (t % n_blocks) * BLOCK
        m = min(BLOCK, n - j0)
        z, s1, s2 = np.empty_like(scratch), np.empty_like(scratch), np.empty_like(scratch)
        bits = np.empty_like(int_scratch)
        for row in range(g * r // groups, (g + 1) * r // groups):
            if code == 0:  # identity: y = x + b, written straight into y
                _load(x2, b, mode, row, j0, m, y1, row * n + j0)
                continue
            _load(x2, b, mode, row, j0, m, z, 0)
            _act_forward(code, p, z, y1[row * n + j0 :], s1, s2, bits, m)


@jit(parallel=True)
def _backward_loop(dy2, x2, b, mode, code, p, dx2, groups, scratch, int_scratch, part):
    """``part[row, block]`` (ROW_BIAS) or ``part[group, column]`` (COLUMN_BIAS) get partial db.

    ``scratch`` and ``int_scratch`` are the templates (dtype, length) of each task's scratch.
    """
    r, n = x2.shape
    n_blocks = (n + BLOCK - 1) // BLOCK
    for t in prange(groups * n_blocks):
        g, k = t // n_blocks, t % n_blocks
        j0 = k * BLOCK
        m = min(BLOCK, n - j0)
        z, s1, s2 = np.empty_like(scratch), np.empty_like(scratch), np.empty_like(scratch)
        bits = np.empty_like(int_scratch)
        if code == 0:  # identity: act' = 1, x is not read
            for j in range(m):
                s1[j] = 1
        for row in range(g * r // groups, (g + 1) * r // groups):
            if code != 0:
                _load(x2, b, mode, row, j0, m, z, 0)
                _act_derivative(code, p, z, s1, s2, bits, m)
            if mode == COLUMN_BIAS:
                for j in range(m):
                    d = dy2[row, _U(j0 + j)] * s1[j]
                    dx2[row, _U(j0 + j)] = d
                    part[g, _U(j0 + j)] += d
            elif mode == ROW_BIAS:
                total = 0.0
                for j in range(m):
                    d = dy2[row, _U(j0 + j)] * s1[j]
                    dx2[row, _U(j0 + j)] = d
                    total += d
                part[row, k] = total
            else:
                for j in range(m):
                    dx2[row, _U(j0 + j)] = dy2[row, _U(j0 + j)] * s1[j]


def bias_act_forward(x, b, act, axis=1, **act_params):
    """``y = act(x + b)``.

    Parameters
    ----------
    x : ndarray of any shape, e.g. (N, D) or (N, C, H, W), C-contiguous float32 or float64
    b : ndarray of shape (x.shape[axis],) or None
    act : str
        Canonical activation name (a key of ``ACTIVATIONS``).
    axis : int
        Axis of ``x`` that ``b`` runs along.
    **act_params
        ``alpha`` for leaky_relu and elu, ``n`` for hswish; missing ones take the defaults.

    Returns
    -------
    y : ndarray of the shape and dtype of ``x``
    """
    x2, bias, mode, code, p, groups, _, _ = _setup(x, b, act, axis, act_params)
    y = np.empty_like(x)
    _forward_loop(x2, bias, mode, code, p, y.reshape(-1), groups, *_scratch(x))  # (R*L,)
    return y


def bias_act_backward(dy, x, b, act, axis=1, **act_params):
    """Gradients of ``bias_act_forward``; recomputes ``x + b``.

    Parameters
    ----------
    dy, x : ndarrays of the same shape
    b : ndarray of shape (x.shape[axis],) or None

    Returns
    -------
    dx : ndarray of the shape and dtype of ``x``
    db : ndarray of shape (x.shape[axis],), or None when ``b`` is None
    """
    x2, bias, mode, code, p, groups, outer, c = _setup(x, b, act, axis, act_params)
    dx = np.empty_like(x)
    n_blocks = -(-x2.shape[1] // BLOCK)
    part_shape = {ROW_BIAS: (x2.shape[0], n_blocks), COLUMN_BIAS: (groups, x2.shape[1])}
    part = np.zeros(part_shape.get(mode, (1, 1)))
    dy2 = _writeable(dy).reshape(x2.shape)  # (R, L)
    dx2 = dx.reshape(x2.shape)  # (R, L)
    _backward_loop(dy2, x2, bias, mode, code, p, dx2, groups, *_scratch(x), part)
    if mode == NO_BIAS:
        return dx, None
    if mode == ROW_BIAS:
        part = part.sum(axis=1).reshape(outer, c)  # (outer, C)
    return dx, part.sum(axis=0).astype(x.dtype)
