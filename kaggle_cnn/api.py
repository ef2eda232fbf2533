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

from kaggle_cnn.architectures.catalog import models
from kaggle_cnn.competition import download, submit
from kaggle_cnn.config import METRICS, OPTIMIZERS, SCHEDULES, TrainConfig
from kaggle_cnn.data import Dataset
from kaggle_cnn.data import load_dataset as load_data
from kaggle_cnn.data.describe import describe_data as data
from kaggle_cnn.data.folder_split import split_folder as data_split
from kaggle_cnn.ensemble.rules import MAX_ROUNDS as VOTE_MAX_ROUNDS
from kaggle_cnn.ensemble.rules import METHODS as VOTE_METHODS
from kaggle_cnn.ensemble.rules import VoteSpec
from kaggle_cnn.ensemble.vote import NAME_LENGTH as VOTE_NAME_LENGTH
from kaggle_cnn.ensemble.vote import VoteOutcome, vote
from kaggle_cnn.evaluation.metrics import MetricsReport, collect_metrics, write_metrics
from kaggle_cnn.evaluation.score import check, score
from kaggle_cnn.evaluation.timing import timing_table
from kaggle_cnn.search.runner import StudyBoard, search, search_template, study
from kaggle_cnn.search.study import ALGOS as SEARCH_ALGOS
from kaggle_cnn.store.doctor import Finding, doctor
from kaggle_cnn.store.workspace import Workspace
from kaggle_cnn.training.devices import parse_jobs
from kaggle_cnn.training.engines import Execution
from kaggle_cnn.training.presets import PRESETS, preset_changes, preset_settings, preset_summaries
from kaggle_cnn.training.runs import Attempt, TrainReporter, TrainSummary, resume, train
from kaggle_cnn.training.settings import train_config
from kaggle_cnn.training.tta import tta

__all__ = [
    "Attempt", "Dataset", "Execution", "Finding", "METRICS", "MetricsReport", "OPTIMIZERS", "PRESETS", "SCHEDULES",
    "SEARCH_ALGOS", "StudyBoard", "TrainConfig", "TrainReporter", "TrainSummary", "VOTE_MAX_ROUNDS", "VOTE_METHODS",
    "VOTE_NAME_LENGTH", "VoteOutcome",
    "VoteSpec", "Workspace", "check", "data", "doctor", "data_split", "download", "load_data", "metrics", "models", "parse_jobs", "plot_activations",
    "plot_confusion", "plot_curves", "plot_filters", "preset_changes", "preset_settings", "preset_summaries", "preview_augmentation",
    "report", "resume", "score", "search", "submit",
    "search_template", "study", "timing_table", "train", "train_config", "tta", "vote",
]


def metrics(workspace: Workspace, sources: list[str] | None = None) -> MetricsReport:
    """Per-class precision, recall, F1 of kept runs and votes (default all) on the
    shared validation split; writes reports/metrics.csv and reports/confusion/."""
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
    from kaggle_cnn.report.figures import plot_curves as draw

    return draw(workspace, run_ids)


def plot_confusion(workspace: Workspace, source: str | None = None):
    """Confusion matrix of a run or vote (default the best vote), and a vote's per-class bars."""
    from kaggle_cnn.report.figures import plot_confusion as draw

    return draw(workspace, source)


def plot_activations(workspace: Workspace, run_id: str, image: int = 0, layers: list[str] | None = None,
                     data_path=None):
    """Feature maps of every conv layer of a run for one validation image."""
    from kaggle_cnn.report.figures import plot_activations as draw

    return draw(workspace, run_id, image, layers, data_path)


def plot_filters(workspace: Workspace, run_id: str, layer: str, n: int = 16, steps: int = 40):
    """The input each filter of a conv layer responds to most."""
    from kaggle_cnn.report.figures import plot_filters as draw

    return draw(workspace, run_id, layer, n, steps)


def preview_augmentation(workspace: Workspace, augment: str, data_path=None, **options):
    """A PNG grid of training images, each followed by augmented copies."""
    from kaggle_cnn.report.figures import preview_augmentation as draw

    return draw(workspace, augment, data_path, **options)
