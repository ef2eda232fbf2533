"""How a workspace judges its runs: the metric it was told to use, the k-fold
assignment of each dataset, and each run's honest predictions.

    models/judging.json       {"metric": "logloss"}: the metric every run is kept by
    models/folds/<fp>.json    the stratified fold of every training row of dataset fp

A hold-out run's honest predictions are its probabilities for the shared
validation split's rows (models/splits/); a k-fold run's are its out-of-fold
probabilities for every training row, each from the one fold model that did not
train on it. Votes and reports compare runs on the rows they have in common.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kaggle_cnn import fileio
from kaggle_cnn.config import metric_family
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.files import DOCTOR, read_record, value_at

if TYPE_CHECKING:
    from kaggle_cnn.store.run import Run
    from kaggle_cnn.store.workspace import Workspace

DEFAULT_METRIC = "accuracy"


# -- the workspace's metric --------------------------------------------------------------


def judging_path(workspace: "Workspace"):
    return workspace.models_dir / "judging.json"


def recorded_metric(workspace: "Workspace") -> str | None:
    """The metric this workspace's runs were kept by; None before any run said."""
    path = judging_path(workspace)
    if not path.exists():
        return None
    record = read_record(path, required=("metric",))
    metric = value_at(record, path, "metric", kind=str)
    if not metric_family(metric):
        raise InputError(f"{path}: damaged, unknown metric {metric!r}; {DOCTOR}")
    return metric


def workspace_metric(workspace: "Workspace") -> str:
    """The metric to judge by here: the recorded one, else accuracy."""
    return recorded_metric(workspace) or DEFAULT_METRIC


def check_metric(workspace: "Workspace", metric: str | None) -> tuple[str, bool]:
    """(the metric to train with, whether it is new to the workspace). A metric
    other than the recorded one is refused: runs kept by different metrics would
    not compare."""
    recorded = recorded_metric(workspace)
    if metric is None:
        return recorded or DEFAULT_METRIC, False
    if recorded is not None and metric != recorded:
        raise InputError(f"--metric {metric}: this workspace judges its runs by {recorded} "
                         f"({judging_path(workspace)}); use a new workspace (-w) for another metric")
    return metric, recorded is None


def record_metric(workspace: "Workspace", metric: str) -> None:
    fileio.write_json(judging_path(workspace), {"metric": metric})


# -- k-fold assignments ------------------------------------------------------------------


@dataclass(frozen=True)
class Folds:
    """The fold of every training row of one dataset: fold f's model trains on
    the other folds and predicts this fold's rows."""

    fingerprint: str
    k: int
    seed: int
    fold_of_row: np.ndarray  # 0..k-1 per training row
    labels: np.ndarray  # class index per training row; multi-label: a bool rows x classes table
    classes: list

    def val_rows(self, fold: int) -> np.ndarray:
        return np.flatnonzero(self.fold_of_row == fold)


def folds_path(workspace: "Workspace", fingerprint: str):
    return workspace.models_dir / "folds" / f"{fingerprint}.json"


def find_folds(workspace: "Workspace", fingerprint: str) -> Folds | None:
    path = folds_path(workspace, fingerprint)
    if not path.exists():
        return None
    data = read_record(path, required=("fingerprint", "k", "seed", "fold_of_row", "labels", "classes"))
    try:
        folds = Folds(str(data["fingerprint"]), int(data["k"]), int(data["seed"]),
                      np.asarray(data["fold_of_row"], dtype=np.int64), _fold_labels(data["labels"]),
                      list(data["classes"]))
    except (TypeError, ValueError):
        raise InputError(f"{path}: damaged, its values are not numbers where numbers belong; {DOCTOR}") from None
    multi = folds.labels.ndim == 2
    if (folds.fingerprint != fingerprint or folds.fold_of_row.shape != folds.labels.shape[:1]
            or not len(folds.labels) or set(np.unique(folds.fold_of_row)) != set(range(folds.k))
            or (folds.labels.shape[1] != len(folds.classes) if multi else
                folds.labels.min() < 0 or folds.labels.max() >= len(folds.classes))):
        raise InputError(f"{path}: damaged, its rows, folds and labels do not agree; {DOCTOR}")
    return folds


def _fold_labels(values) -> np.ndarray:
    """Class indices, or (rows of 0/1 per label) a multi-label bool table."""
    labels = np.asarray(values)
    if labels.ndim == 2:
        if not np.isin(labels, (0, 1)).all():
            raise ValueError("a multi-label table holds 0s and 1s")
        return labels.astype(bool)
    return labels.astype(np.int64)


def save_folds(workspace: "Workspace", folds: Folds) -> None:
    fileio.write_json(folds_path(workspace, folds.fingerprint), {
        "fingerprint": folds.fingerprint, "k": folds.k, "seed": folds.seed, "classes": folds.classes,
        "fold_of_row": folds.fold_of_row, "labels": folds.labels.astype(np.int64)})


# -- each run's honest predictions ---------------------------------------------------------


@dataclass(frozen=True)
class Honest:
    """A run's predictions for training rows it did not train on."""

    rows: np.ndarray  # sorted training-row numbers
    truth: np.ndarray  # their class indices, in the run's class order
    proba: np.ndarray  # rows x classes
    kind: str  # "hold-out" or "5-fold"


def describe_rows(kinds: set[str], n_rows: int) -> str:
    """Which honest rows a vote fits and scores on, as its printout says it
    (`kinds`: each member's Honest.kind, "hold-out" or "K-fold")."""
    if "hold-out" not in kinds:
        return f"{n_rows} out-of-fold rows (every training row)"
    return f"{n_rows} hold-out rows" + (" (k-fold members out of fold there)" if len(kinds) > 1 else "")


def honest_predictions(workspace: "Workspace", run: "Run", suffix: str = "") -> Honest:
    """A run's validation (hold-out) or out-of-fold (k-fold) probabilities with
    their rows and true labels; a missing or damaged file is one line."""
    if run.kfold:
        folds = find_folds(workspace, run.fingerprint)
        if folds is None:
            raise InputError(f"{folds_path(workspace, run.fingerprint)}: the fold assignment of run {run.run_id} "
                             f"is missing; {DOCTOR}")
        proba = run.required_proba(f"oof_proba{suffix}.npy", len(folds.labels))
        return Honest(np.arange(len(folds.labels)), folds.labels, proba, f"{folds.k}-fold")
    split = workspace.find_split(run.fingerprint)
    if split is None:
        raise InputError(f"{workspace.split_path(run.fingerprint)}: the validation split of {run.run_id} is missing")
    proba = run.required_proba(f"val_proba{suffix}.npy", len(split.val_indices))
    return Honest(split.val_indices, split.val_labels, proba, "hold-out")
