"""fastdl: fast CPU deep-learning kernels for from-scratch NumPy networks.

The kernels (im2col/col2im, conv2d, max/avg pooling, fused bias+activation) exist as a NumPy
reference, a Numba backend and a Cython backend behind one API, :mod:`fastdl.functional`.
Choose a backend with :func:`set_backend`, :func:`use_backend` or ``FASTDL_BACKEND``; the
default ``"auto"`` takes the fastest available one per kernel. :func:`gradcheck` checks the
backward pass of your own layers against numerical gradients.
"""

from . import (
    callbacks,
    datasets,
    functional,
    initializers,
    layers,
    losses,
    models,
    optimizers,
    regularizers,
    schedules,
)
from ._backend import (
    BackendError,
    available_backends,
    get_backend,
    get_num_threads,
    set_backend,
    set_num_threads,
    thread_info,
    use_backend,
)
from .datasets import FASHION_MNIST_CLASSES, MNIST_CLASSES, load_fashion_mnist, load_mnist
from .gradcheck import GradcheckResult, gradcheck
from .optimizers import get_optimizer
from .serialization import load_model, save_model
from .training import History, evaluate, fit, predict

__version__ = "0.1.0"  # the one version source: pyproject.toml reads this literal

__all__ = [
    "BackendError",
    "History",
    "callbacks",
    "evaluate",
    "fit",
    "get_optimizer",
    "initializers",
    "layers",
    "load_model",
    "losses",
    "models",
    "optimizers",
    "predict",
    "regularizers",
    "save_model",
    "schedules",
    "FASHION_MNIST_CLASSES",
    "GradcheckResult",
    "MNIST_CLASSES",
    "available_backends",
    "datasets",
    "functional",
    "get_backend",
    "get_num_threads",
    "gradcheck",
    "load_fashion_mnist",
    "load_mnist",
    "set_backend",
    "set_num_threads",
    "thread_info",
    "use_backend",
]
