"""The textbook's ``common/`` package (ゼロから作るDeep Learning) on fastdl's compiled kernels.

Modules of the same names and APIs as the textbook's: :mod:`~fastdl.textbook.util`,
:mod:`~fastdl.textbook.functions`, :mod:`~fastdl.textbook.layers`,
:mod:`~fastdl.textbook.optimizer`, :mod:`~fastdl.textbook.gradient`. Use them by changing a
script's imports (``from fastdl.textbook.layers import *``), or leave the script as it is and
add ``import fastdl.textbook; fastdl.textbook.install()`` at its top: ``common.layers`` and the
other four then resolve to these, while the reader's other ``common`` modules still load.
``python -m fastdl.textbook script.py [args]`` does the same without editing the script.
"""

from . import functions, gradient, layers, optimizer, util
from ._install import install

__all__ = ["functions", "gradient", "install", "layers", "optimizer", "util"]
