"""`kcnn plot ...`: a workspace's pictures, saved as PNG under reports/plots/.

Curves and confusion matrices need no TensorFlow; activations and filters load
the run's model.
"""

from __future__ import annotations

import os
from pathlib import Path

from kaggle_cnn.data import load_dataset
from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metrics import ENSEMBLE_PREFIX, collect_metrics
from kaggle_cnn.report import charts
from kaggle_cnn.store.workspace import Workspace
from kaggle_cnn.training.runs import run_dataset

PLOTS = "plots"


def plots_dir(workspace: Workspace) -> Path:
    return workspace.reports_dir / PLOTS


def plot_curves(workspace: Workspace, run_ids: list[str] | None = None) -> Path:
    """Learning curves of the given attempts (default every attempt), kept ones highlighted."""
    if run_ids:  # named: each must have a readable curve
        histories = {run_id: workspace.history(run_id) for run_id in run_ids}
        missing = [run_id for run_id, history in histories.items() if history is None]
        if missing:
            raise InputError(f"no run {missing[0]!r} with a learning curve in {workspace.models_dir}")
    else:
        histories = workspace.histories(workspace.read_index()["run_id"].astype(str))
    if not histories:
        raise InputError(f"no runs with learning curves in {workspace.models_dir}: run `kcnn train` first")
    figure = charts.curves(histories, set(workspace.run_ids()))
    return charts.save(figure, plots_dir(workspace) / "curves.png")


def plot_confusion(workspace: Workspace, source: str | None = None) -> list[Path]:
    """The confusion matrix of a run or vote (default: the best vote, else the best
    run), and, for a vote, its per-class bars against its best member."""
    report = collect_metrics(workspace, [source] if source else None)
    source = source or report.headline()
    written = [charts.save(charts.confusion(report.confusions[source], f"{source}: validation confusion matrix"),
                          plots_dir(workspace) / f"confusion-{_file_name(source)}.png")]
    if source.startswith(ENSEMBLE_PREFIX):
        best = report.best_run()
        if best is not None:
            everything = report if best in report.tables else collect_metrics(workspace, [source, best])
            figure = charts.class_metrics(everything.tables[source], everything.tables[best], source, best)
            written.append(charts.save(figure, plots_dir(workspace) / f"class-metrics-{_file_name(source)}.png"))
    return written


def plot_activations(workspace: Workspace, run_id: str, image: int = 0, layers: list[str] | None = None,
                     data_path: str | Path | None = None) -> Path:
    from kaggle_cnn.report.model_views import DPI, activation_figure

    run, model, dataset, split = _load_run_for_pictures(workspace, run_id, data_path)
    if not 0 <= image < len(split.val_indices):
        raise InputError(f"--image {image}: the validation split has images 0..{len(split.val_indices) - 1}")
    picture = dataset.x_train[split.val_indices[image]]
    figure = activation_figure(model, picture, layers or None)
    return charts.save(figure, plots_dir(workspace) / f"activations-{run_id}-{image}.png", dpi=DPI, tight=False)


def plot_filters(workspace: Workspace, run_id: str, layer: str, n: int = 16, steps: int = 40) -> Path:
    from kaggle_cnn.report.model_views import DPI, filter_figure, filter_patterns

    if n < 1 or steps < 1:
        raise InputError("--n and --steps must be at least 1")
    model = _load_model(workspace.load_run(run_id))
    patterns = filter_patterns(model, layer, n=n, steps=steps)
    return charts.save(filter_figure(patterns, layer), plots_dir(workspace) / f"filters-{run_id}-{layer}.png", dpi=DPI,
                      tight=False)


def _load_model(run):
    from kaggle_cnn.architectures import load_model

    return load_model(run.model_path)


def _load_run_for_pictures(workspace: Workspace, run_id: str, data_path):
    run = workspace.load_run(run_id)
    dataset = run_dataset(run, data_path)
    return run, _load_model(run), dataset, workspace.find_split(run.fingerprint)


def _file_name(source: str) -> str:
    return source.replace("/", "-")


def preview_augmentation(workspace: Workspace, augment: str, data_path: str | os.PathLike | None = None, *,
                         count: int = 6, copies: int = 7, out: str | os.PathLike | None = None,
                         **load_options) -> Path:
    """A PNG grid of `count` training images, each followed by `copies` augmented
    versions (default reports/plots/augment-preview.png)."""
    import numpy as np

    from kaggle_cnn.training.augment import parse_augment, preview

    parse_augment(augment)  # a bad spec fails before any data is read
    dataset = load_dataset(data_path, **load_options)
    grid = preview(np.asarray(dataset.x_train[:count]), augment, copies)
    return charts.save(charts.augmentation_grid(grid, augment), out or plots_dir(workspace) / "augment-preview.png")
