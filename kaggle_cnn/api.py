"""The Python API: one function per `kcnn` command, named as the command is.

A notebook and the command line call the same functions; the CLI only parses
options and prints. Nothing here imports TensorFlow: training, TTA and the
pictures of a model import it when they run.

    from kaggle_cnn import api

    dataset = api.load_data("my-competition/")
    workspace = api.Workspace("runs/")
    summary = api.train(dataset, workspace, api.TrainConfig(epochs=5), repeat=3, keep_above=0.9)
    outcome = api.vote(workspace, spec=api.VoteSpec(method="soft"))
    report = api.metrics(workspace)

The choices and limits of options (VOTE_METHODS, SEARCH_ALGOS, PRESETS, METRICS,
...) are the library's own, named here so that the CLI offers what the library takes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# The option choices: constants of light modules, so that `kcnn --help` starts at once.
from kaggle_cnn.config import METRICS, OPTIMIZERS, SCHEDULES
from kaggle_cnn.ensemble.choices import MAX_ROUNDS as VOTE_MAX_ROUNDS
from kaggle_cnn.ensemble.choices import METHODS as VOTE_METHODS
from kaggle_cnn.ensemble.choices import NAME_LENGTH as VOTE_NAME_LENGTH
from kaggle_cnn.search.choices import ALGOS as SEARCH_ALGOS
from kaggle_cnn.training.presets import (
    PRESETS,
    preset_changes,
    preset_settings,
    preset_summaries,
)

if TYPE_CHECKING:
    from kaggle_cnn.store.workspace import Workspace

# Everything else is imported when first used (PEP 562): a command loads only the
# use case it runs, and none of them loads TensorFlow before it trains or predicts.
_WHERE = {
    "models": "kaggle_cnn.architectures.catalog",
    "download": "kaggle_cnn.competition", "submit": "kaggle_cnn.competition",
    "export_inference": "kaggle_cnn.competition.bundle", "InferenceBundle": "kaggle_cnn.competition.bundle",
    "TrainConfig": "kaggle_cnn.config",
    "Dataset": "kaggle_cnn.data", "load_data": "kaggle_cnn.data:load_dataset",
    "data": "kaggle_cnn.data.describe:describe_data", "data_split": "kaggle_cnn.data.folder_split:split_folder",
    "VoteSpec": "kaggle_cnn.ensemble.rules",
    "VoteOutcome": "kaggle_cnn.ensemble.vote", "vote": "kaggle_cnn.ensemble.vote",
    "MetricsReport": "kaggle_cnn.evaluation.metrics",
    "check": "kaggle_cnn.evaluation.score", "score": "kaggle_cnn.evaluation.score",
    "timing_table": "kaggle_cnn.evaluation.timing",
    "StudyBoard": "kaggle_cnn.search.runner", "search": "kaggle_cnn.search.runner",
    "search_template": "kaggle_cnn.search.runner", "study": "kaggle_cnn.search.runner",
    "Finding": "kaggle_cnn.store.doctor", "doctor": "kaggle_cnn.store.doctor",
    "Workspace": "kaggle_cnn.store.workspace",
    "parse_jobs": "kaggle_cnn.training.devices", "Execution": "kaggle_cnn.training.engines",
    "distill": "kaggle_cnn.training.distill",
    "Attempt": "kaggle_cnn.training.runs", "TrainReporter": "kaggle_cnn.training.runs",
    "TrainSummary": "kaggle_cnn.training.runs", "resume": "kaggle_cnn.training.resuming", "train": "kaggle_cnn.training.runs",
    "train_config": "kaggle_cnn.training.settings", "train_configs": "kaggle_cnn.training.settings",
    "tta": "kaggle_cnn.training.tta",
}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attribute = _WHERE[name].partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value  # once found, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


# The lazy names are found by __getattr__, which static checkers cannot see (ruff: F822).
__all__ = [  # noqa: F822
    "Attempt", "Dataset", "Execution", "Finding", "InferenceBundle", "METRICS", "MetricsReport", "OPTIMIZERS", "PRESETS", "SCHEDULES",
    "SEARCH_ALGOS", "StudyBoard", "TrainConfig", "TrainReporter", "TrainSummary", "VOTE_MAX_ROUNDS", "VOTE_METHODS",
    "VOTE_NAME_LENGTH", "VoteOutcome",
    "VoteSpec", "Workspace", "check", "data", "distill", "doctor", "data_split", "download", "export_inference",
    "load_data", "metrics", "models", "parse_jobs", "plot_activations",
    "plot_confusion", "plot_curves", "plot_filters", "preset_changes", "preset_settings", "preset_summaries", "preview_augmentation",
    "report", "resume", "score", "search", "submit",
    "search_template", "study", "timing_table", "train", "train_config", "train_configs", "tta", "vote",
]


def metrics(workspace: Workspace, sources: list[str] | None = None):
    """Per-class precision, recall, F1 of kept runs and votes (default all) on the
    shared validation split; writes reports/metrics.csv and reports/confusion/."""
    from kaggle_cnn.evaluation.metrics import collect_metrics, write_metrics

    report_ = collect_metrics(workspace, sources)
    report_.csv_path = write_metrics(workspace, report_)
    return report_


# Pictures import matplotlib (half a second): only when one is drawn, so that
# `kcnn vote` and `kcnn metrics` start fast.


def report(workspace: Workspace):
    """One self-contained HTML page of the workspace: reports/report.html."""
    from kaggle_cnn.report.html import report as build

    return build(workspace)


def plot_curves(workspace: Workspace, run_ids: list[str] | None = None):
    """Learning curves of the given attempts (default every attempt): reports/plots/curves.png."""
    from kaggle_cnn.report.plot import plot_curves as draw

    return draw(workspace, run_ids)


def plot_confusion(workspace: Workspace, source: str | None = None):
    """Confusion matrix of a run or vote (default the best vote), and a vote's per-class bars."""
    from kaggle_cnn.report.plot import plot_confusion as draw

    return draw(workspace, source)


def plot_activations(workspace: Workspace, run_id: str, image: int = 0, layers: list[str] | None = None,
                     data_path=None):
    """Feature maps of every conv layer of a run for one validation image."""
    from kaggle_cnn.report.plot import plot_activations as draw

    return draw(workspace, run_id, image, layers, data_path)


def plot_filters(workspace: Workspace, run_id: str, layer: str, n: int = 16, steps: int = 40):
    """The input each filter of a conv layer responds to most."""
    from kaggle_cnn.report.plot import plot_filters as draw

    return draw(workspace, run_id, layer, n, steps)


def preview_augmentation(workspace: Workspace, augment: str, data_path=None, **options):
    """A PNG grid of training images, each followed by augmented copies."""
    from kaggle_cnn.report.plot import preview_augmentation as draw

    return draw(workspace, augment, data_path, **options)
