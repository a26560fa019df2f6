"""Every fastdl plot leaves the user's matplotlib state alone and writes a readable PNG.

A user who picked a backend (here ``svg``) and has a pyplot figure open must find both unchanged
after any fastdl plot: fastdl draws on ``matplotlib.figure.Figure`` objects, not through pyplot.
"""

import matplotlib
import matplotlib.image
import matplotlib.pyplot as plt
import pytest

from fastdl import cli, plots
from fastdl.experiments import EXPERIMENTS, run
from fastdl.training import History

# In-process (workers=0) settings small enough for a few seconds per experiment.
TINY = {
    "optimizers": {"train_size": 100, "epochs": 2},
    "init": {"train_size": 100, "epochs": 2},
    "batchnorm": {"train_size": 100, "epochs": 2, "scales": (1.0, 0.01)},
    "weight-decay": {"train_size": 100, "epochs": 2},
    "dropout": {"train_size": 100, "epochs": 2},
    "early-stopping": {"train_size": 300, "epochs": 2},
    "activations": {"train_size": 100, "epochs": 2},
    "flooding": {"train_size": 100, "epochs": 2},
    "hyperparams": {"train_size": 100, "epochs": 2, "trials": 2},
}


@pytest.fixture
def user_figure():
    """A user's session: the ``svg`` backend and one open pyplot figure; restored afterwards."""
    before = matplotlib.get_backend()
    matplotlib.use("svg", force=True)
    fig = plt.figure()
    yield fig
    plt.close(fig)
    matplotlib.use(before, force=True)


def _history(epochs, validation):
    hist = History()
    for e in range(epochs):
        logs = {"loss": 1.0 / (e + 1), "acc": 0.5 + 0.1 * e}
        if validation:
            logs.update(val_loss=1.2 / (e + 1), val_acc=0.4 + 0.1 * e)
        hist.append(logs)
    return hist


def _assert_png(path, shape=None):
    """``path`` is a PNG that matplotlib reads back as an RGBA image (of ``(H, W)`` ``shape``)."""
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[2] == 4, (path, image.shape)
    assert image.shape[0] >= 100 and image.shape[1] >= 100, (path, image.shape)
    if shape is not None:
        assert image.shape[:2] == shape, path
    assert image[..., :3].min() < image[..., :3].max(), f"{path} is blank"


def _learning_curves(tmp_path):
    one = plots.learning_curves(_history(3, True), tmp_path / "sub" / "one.png", title="one")
    many = plots.learning_curves(
        {"a": _history(3, False), "b": _history(2, True)}, str(tmp_path / "many.png")
    )
    return [(one, (400, 1000)), (many, (400, 1000))]  # 10 x 4 inches at 100 dpi


def _bar_chart(tmp_path):
    few = plots.bar_chart(["a", "b"], [1.0, 3.0], tmp_path / "few.png", ylabel="ms", log=True)
    labels = [f"kernel {i}" for i in range(20)]
    many = plots.bar_chart(labels, range(1, 21), tmp_path / "many.png", title="t")
    return [(few, (400, 600)), (many, (400, 1000))]  # max(6, 0.5 * bars) x 4 inches


def _cli_train(tmp_path):
    argv = ["train", "--model", "mlp", "--hidden", "20", "--epochs", "2", "--train-size", "200",
            "--quiet", "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    return [(tmp_path / "mlp-curves.png", (400, 1000))]


def _cli_bench(tmp_path):
    png = tmp_path / "bench.png"
    argv = ["bench", "--kernels", "im2col", "--quick", "--repeat", "1", "--png", str(png)]
    assert cli.main(argv) == 0
    return [(png, None)]


def _cli_demo(tmp_path, monkeypatch):
    # the demo's own plot is the one under test; its backend table is test_cli's business
    monkeypatch.setattr(cli.benchmark, "compare_backends", lambda **kwargs: [])
    monkeypatch.setattr(cli.benchmark, "format_table", lambda rows: "")
    assert cli.main(["demo", "--epochs", "1", "--out", str(tmp_path)]) == 0
    return [(tmp_path / "demo-learning-curves.png", (400, 1000))]


def _cli_experiment(tmp_path):
    argv = ["experiment", "flooding", "--epochs", "2", "--train-size", "100", "--workers", "0",
            "--quiet", "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    return [(p, None) for p in sorted(tmp_path.glob("flooding-*.png"))]


def _experiment(name):
    def plot(tmp_path):
        result = run(name, out=str(tmp_path), workers=0, **TINY[name])
        return [(p, None) for p in result.files if p.endswith(".png")]

    return plot


PLOTTERS = {
    "learning_curves": _learning_curves,
    "bar_chart": _bar_chart,
    "cli train": _cli_train,
    "cli bench --png": _cli_bench,
    "cli demo": _cli_demo,
    "cli experiment": _cli_experiment,
    **{f"experiment {name}": _experiment(name) for name in TINY},
}


def test_every_experiment_is_covered():
    assert set(TINY) == set(EXPERIMENTS)


@pytest.mark.parametrize("what", list(PLOTTERS))
def test_plot_keeps_the_users_backend_and_figures(what, tmp_path, user_figure, monkeypatch):
    plotter = PLOTTERS[what]
    backend, fignums = matplotlib.get_backend(), plt.get_fignums()
    assert backend == "svg" and fignums == [user_figure.number]
    args = (tmp_path, monkeypatch) if plotter is _cli_demo else (tmp_path,)
    pngs = plotter(*args)
    assert pngs, f"{what} wrote no PNG"
    for path, shape in pngs:
        _assert_png(path, shape)
    assert matplotlib.get_backend() == backend
    assert plt.get_fignums() == fignums
    assert plt.gcf() is user_figure
