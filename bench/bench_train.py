"""The whole training step, as a user runs it: forward, loss, backward and optimizer update.

Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest bench/bench_train.py --benchmark-only

Groups
------
``step <network> <k>T``
    One float32 training step on a batch of 100 of the three networks of ``fastdl.models``
    (``mlp`` 784-100-50-10 relu with SGD lr 0.1; ``simple_cnn`` and ``deep_cnn`` with Adam
    lr 0.001), at ``k`` = 1 and 2 threads (``fastdl.set_num_threads(k)``, which sets BLAS too,
    and ``torch.set_num_threads(k)``). Contenders: fastdl ``auto``, each backend, and PyTorch
    eager with the same architecture, weights, loss and optimizer.
``fit epoch <k>T``
    ``fastdl.fit`` of ``simple_cnn`` for one epoch on the bundled MNIST subset (5,000 images,
    batch 100, the 1,000 test images as validation data), against ``steps+eval``: the same 50
    batches stepped by hand plus one ``evaluate`` (the overhead of ``fit`` itself is the gap).
``small <kernel> <k>T``
    Small kernel calls where a parallel region costs more than it saves: ``bias_act`` relu
    forward + backward on (100, 50), max pooling 2x2 forward + backward on (100, 30, 4, 4).

The first call of each contender is untimed (Numba compiles or loads its cache there). The
networks' first losses are checked against PyTorch's, and the small kernels against the
reference.
"""

import importlib.util

import numpy as np
import pytest

import fastdl
from fastdl import functional, losses, models, optimizers

HAVE_TORCH = importlib.util.find_spec("torch") is not None
FASTDL = ("auto", *fastdl.available_backends())
CONTENDERS = (*FASTDL, "torch")
THREADS = (1, 2)
NETWORKS = ("mlp", "simple_cnn", "deep_cnn")
BATCH = 100


@pytest.fixture(params=THREADS, ids=[f"{k}T" for k in THREADS])
def threads(request):
    """Set fastdl's (and BLAS's, and PyTorch's) thread count for the test; restore it after."""
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(request.param)
    torch_before = None
    if HAVE_TORCH:
        import torch

        torch_before = torch.get_num_threads()
        torch.set_num_threads(request.param)
    yield request.param
    fastdl.set_num_threads(before)
    if torch_before is not None:
        torch.set_num_threads(torch_before)


def _skip_missing(contender):
    if contender == "torch" and not HAVE_TORCH:
        pytest.skip("torch is not installed (it is only a benchmark contender)")


def _network(name):
    """``(model, optimizer, x, t)`` for one float32 step on a batch of ``BATCH``."""
    rng = np.random.default_rng(0)
    t = rng.integers(0, 10, BATCH)
    if name == "mlp":
        x = rng.random((BATCH, 784), dtype=np.float32)
        return models.mlp(784, (100, 50), 10, rng=0), optimizers.SGD(0.1), x, t
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    model = models.simple_cnn(rng=0) if name == "simple_cnn" else models.deep_cnn(rng=0)
    return model, optimizers.Adam(0.001), x, t


def _fastdl_step(name, backend):
    model, opt, x, t = _network(name)
    loss = losses.SoftmaxCrossEntropy()

    def step():
        with fastdl.use_backend(backend):
            value = loss.forward(model.forward(x, train=True), t)
            model.backward(loss.backward(), input_grad=False)
            opt.step(model.params, model.grads)
        return value

    return step


def _torch_module(model):
    """A ``torch.nn.Sequential`` with the layers and weights of a fastdl ``Sequential``."""
    import torch
    from torch import nn

    from fastdl.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D

    layers = []
    for layer in model.layers:
        if isinstance(layer, (Dense, Conv2D)):
            w = layer.params["W"]
            if isinstance(layer, Dense):
                mod = nn.Linear(*w.shape)
                mod.weight.data = torch.from_numpy(w.T.copy())  # (out, in)
            else:
                mod = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2:], layer.stride, layer.pad)
                mod.weight.data = torch.from_numpy(w.copy())  # (F, C, KH, KW)
            mod.bias.data = torch.from_numpy(layer.params["b"].copy())
            layers.append(mod)
            if layer.activation is not None:
                assert layer.activation == "relu", layer.activation
                layers.append(nn.ReLU())
        elif isinstance(layer, MaxPool2D):
            layers.append(nn.MaxPool2d(2))
        elif isinstance(layer, Flatten):
            layers.append(nn.Flatten())
        elif isinstance(layer, Dropout):
            layers.append(nn.Dropout(layer.ratio))
        else:
            raise TypeError(f"no PyTorch twin for {layer!r}")
    return nn.Sequential(*layers)


def _torch_step(name):
    import torch

    model, opt, x, t = _network(name)
    net = _torch_module(model)
    if isinstance(opt, optimizers.SGD):
        topt = torch.optim.SGD(net.parameters(), lr=opt.lr)
    else:
        topt = torch.optim.Adam(net.parameters(), lr=opt.lr)
    tx, tt = torch.from_numpy(x), torch.from_numpy(t)
    criterion = torch.nn.CrossEntropyLoss()

    def step():
        topt.zero_grad(set_to_none=True)
        loss = criterion(net(tx), tt)
        loss.backward()
        topt.step()
        return loss.item()

    return step


@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("name", NETWORKS)
def test_step(benchmark, name, contender, threads):
    _skip_missing(contender)
    benchmark.group = f"step {name} {threads}T"
    step = _torch_step(name) if contender == "torch" else _fastdl_step(name, contender)
    first = step()
    if HAVE_TORCH and name != "deep_cnn":  # deep_cnn's dropout draws other masks in PyTorch
        want = _torch_step(name)()
        assert first == pytest.approx(want, rel=1e-4), (first, want)
    benchmark(step)


@pytest.fixture(scope="module")
def mnist():
    (x, t), (x_test, t_test) = fastdl.load_mnist(flatten=False)
    return x, t, x_test, t_test


@pytest.mark.parametrize("how", ["fit", "steps+eval"])
def test_fit_epoch(benchmark, mnist, how, threads):
    benchmark.group = f"fit epoch {threads}T"
    x, t, x_test, t_test = mnist

    def by_fit():
        model, opt = models.simple_cnn(rng=0), optimizers.Adam(0.001)
        fastdl.fit(model, opt, x, t, 1, BATCH, validation_data=(x_test, t_test), verbose=0)

    def by_hand():
        model, opt = models.simple_cnn(rng=0), optimizers.Adam(0.001)
        loss = losses.SoftmaxCrossEntropy()
        order = np.random.default_rng(0).permutation(len(x))
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            loss.forward(model.forward(x[idx], train=True), t[idx])
            model.backward(loss.backward(), input_grad=False)
            opt.step(model.params, model.grads)
        fastdl.evaluate(model, x_test, t_test, batch_size=BATCH)

    run = by_fit if how == "fit" else by_hand
    run()
    benchmark.pedantic(run, rounds=3, iterations=1)


def _small(kernel, contender):
    """One forward + backward call of a small kernel; returns a function of no arguments."""
    rng = np.random.default_rng(3)
    if kernel == "bias_act relu (100,50)":
        x, b = rng.standard_normal((100, 50), dtype=np.float32), np.zeros(50, np.float32)
        dy = rng.standard_normal((100, 50), dtype=np.float32)
        if contender == "torch":
            import torch

            tx, tb, tdy = (torch.from_numpy(a) for a in (x, b, dy))

            def relu():
                y = torch.relu(tx + tb)
                dx = torch.ops.aten.threshold_backward(tdy, y, 0)
                return y, dx, dx.sum(0)

            return relu
        return lambda: (
            functional.bias_act_forward(x, b, "relu", backend=contender),
            *functional.bias_act_backward(dy, x, b, "relu", backend=contender),
        )
    x = rng.standard_normal((100, 30, 4, 4), dtype=np.float32)
    dy = rng.standard_normal((100, 30, 2, 2), dtype=np.float32)
    if contender == "torch":
        import torch

        tx, tdy = torch.from_numpy(x), torch.from_numpy(dy)

        def pool():
            y, idx = torch.nn.functional.max_pool2d(tx, 2, return_indices=True)
            return torch.ops.aten.max_pool2d_with_indices_backward(
                tdy, tx, [2, 2], [2, 2], [0, 0], [1, 1], False, idx
            )

        return pool

    def call():
        y, argmax = functional.maxpool2d_forward(x, 2, 2, backend=contender)
        dx = functional.maxpool2d_backward(dy, argmax, x.shape, 2, 2, backend=contender)
        return y, argmax, dx

    return call


@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("kernel", ["bias_act relu (100,50)", "maxpool 2x2 (100,30,4,4)"])
def test_small_kernel(benchmark, kernel, contender, threads):
    _skip_missing(contender)
    benchmark.group = f"small {kernel} {threads}T"
    call = _small(kernel, contender)
    got = call()
    if contender != "torch":
        for a, want in zip(got, _small(kernel, "numpy")()):
            np.testing.assert_allclose(a, want, rtol=1e-5, atol=1e-5)  # float32 sums
    benchmark(call)
