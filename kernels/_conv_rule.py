"""Which algorithm a compiled backend's convolution runs: the measured rule, and a switch.

Two algorithms compute ``conv2d_forward`` and ``conv2d_backward`` in the Numba and Cython
backends:

- ``"im2col"``: window matrix + GEMM, any filter size, stride and padding
  (``kernels/cy/_conv.pyx``, ``kernels/nb/_conv.py``);
- ``"winograd"``: F(2x2, 3x3), for 3x3 filters at stride 1, any padding (``kernels/_winograd.py``).

The rule (``"auto"``) runs Winograd where it applies and both the input channels ``C`` and the
filters ``F`` number at least ``WINOGRAD_MIN_CHANNELS``; with fewer, its 16 products are too thin
to pay for the tile transforms (bench/README.md, "Convolution algorithms", has the
measurements). :func:`use_algorithm` overrides the rule for the calls made inside it, so tests
and benchmarks can run each algorithm whatever the rule picks.
"""

import contextlib
import contextvars

from . import _winograd

ALGORITHMS = ("auto", "im2col", "winograd")
WINOGRAD_MIN_CHANNELS = 16

_forced = contextvars.ContextVar("fastdl_conv_algorithm", default="auto")


def _check(algorithm):
    if algorithm not in ALGORITHMS:
        raise ValueError(f"conv algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    return algorithm


@contextlib.contextmanager
def use_algorithm(algorithm):
    """Run the convolutions inside the block with ``algorithm`` (one of ``ALGORITHMS``).

    Raises
    ------
    ValueError
        ``algorithm`` is not one of ``ALGORITHMS`` (at once), or a convolution inside the block
        cannot run it (``"winograd"`` on a filter that is not 3x3 or a stride other than 1).
    """
    token = _forced.set(_check(algorithm))
    try:
        yield
    finally:
        _forced.reset(token)


def choose(x_shape, w_shape, stride):
    """``"im2col"`` or ``"winograd"`` for a convolution of ``x (N, C, H, W)`` by
    ``w (F, C, KH, KW)`` at ``stride``: the forced algorithm if any, else the rule.

    Raises
    ------
    ValueError
        Winograd is forced where it does not apply.
    """
    forced = _forced.get()
    applies = _winograd.applies(w_shape, stride)
    if forced == "winograd" and not applies:
        raise ValueError(
            f"conv algorithm 'winograd' needs 3x3 filters at stride 1, got w of shape "
            f"{tuple(w_shape)} and stride {stride}"
        )
    if forced != "auto":
        return forced
    wide = min(x_shape[1], w_shape[0]) >= WINOGRAD_MIN_CHANNELS
    return "winograd" if applies and wide else "im2col"
