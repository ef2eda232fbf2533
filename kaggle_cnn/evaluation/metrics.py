"""Per-class precision, recall, F1 and the confusion matrix (scikit-learn's definitions) of
kept runs and votes on the shared validation split.

Tables are indexed by the original class labels so they read as the user's
classes, not as 0..K-1. `collect_metrics` only reads the workspace;
`write_metrics` is the separate step that writes reports/metrics.csv and
reports/confusion/, which `kcnn metrics` does and a picture never does.

A vote's figures come from its JSON sidecar, read only when its checksum matches
the CSV beside it (`read_vote`): every reader of sidecars goes through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kaggle_cnn import fileio
from kaggle_cnn.errors import InputError, warn
from kaggle_cnn.evaluation.metric_registry import accuracy, decide, get_metric
from kaggle_cnn.labels import is_multi_label, is_numeric_target
from kaggle_cnn.store.files import (
    DOCTOR,
    RUN_ID_LIMIT,
    file_sha256,
    is_plain_name,
    read_record,
    value_at,
)
from kaggle_cnn.store.validation import find_folds, honest_predictions, workspace_metric
from kaggle_cnn.store.workspace import Split, Workspace

ENSEMBLE_PREFIX = "ensemble/"


def classification_table(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence) -> pd.DataFrame:
    """One row per class plus accuracy, macro and weighted averages.

    Columns precision, recall, f1, support, with scikit-learn's definitions (its
    classification_report with zero_division=0): the accuracy row carries its value
    in the f1 column and the row count as support. Computed from the confusion
    matrix here because importing scikit-learn alone takes longer than the whole
    `kcnn metrics` may. Multi-label rows (bool rows x labels on both sides): one row
    per label, its decisions counted on their own; accuracy is every label right.
    """
    names = [str(c) for c in classes]
    if is_multi_label(np.asarray(y_true)):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=bool)
        hits, predicted, support = ((y_true & y_pred).sum(axis=0), y_pred.sum(axis=0),
                                    y_true.sum(axis=0))
        hits, predicted, support = (np.asarray(v, dtype=np.float64) for v in (hits, predicted, support))
    else:
        matrix = confusion_counts(y_true, y_pred, len(classes)).astype(np.float64)
        hits, predicted, support = np.diag(matrix), matrix.sum(axis=0), matrix.sum(axis=1)
    precision, recall = _share(hits, predicted), _share(hits, support)
    f1 = _share(2 * hits, predicted + support)
    rows = [{"class": name, "precision": precision[i], "recall": recall[i], "f1": f1[i], "support": int(support[i])}
            for i, name in enumerate(names)]
    rows.append({"class": "accuracy", "precision": np.nan, "recall": np.nan,
                 "f1": accuracy(y_true, y_pred), "support": int(len(y_true))})
    weights = support / support.sum() if support.sum() else np.zeros_like(support)
    for name, average in (("macro avg", lambda v: float(v.mean())), ("weighted avg", lambda v: float(v @ weights))):
        rows.append({"class": name, "precision": average(precision), "recall": average(recall), "f1": average(f1),
                     "support": int(support.sum())})
    return pd.DataFrame(rows)


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """n_classes x n_classes counts: rows the true class index, columns the predicted."""
    pairs = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(pairs, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole, 0 where whole is 0 (scikit-learn's zero_division=0)."""
    return np.divide(part, whole, out=np.zeros_like(part, dtype=np.float64), where=whole > 0)


def confusion_table(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence) -> pd.DataFrame:
    """Rows: true class; columns: predicted class. Multi-label: one row per label,
    its true and false positives and negatives."""
    names = [str(c) for c in classes]
    if is_multi_label(np.asarray(y_true)):
        t, p = np.asarray(y_true), np.asarray(y_pred, dtype=bool)
        counts = {"tp": t & p, "fp": ~t & p, "fn": t & ~p, "tn": ~t & ~p}
        return pd.DataFrame({k: v.sum(axis=0) for k, v in counts.items()}, index=pd.Index(names, name="label"))
    matrix = confusion_counts(y_true, y_pred, len(classes))
    return pd.DataFrame(matrix, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted"))


@dataclass
class MetricsReport:
    tables: dict[str, pd.DataFrame]  # source -> per-class table
    confusions: dict[str, pd.DataFrame]
    # one row per source: accuracy, macro and weighted F1, the workspace's metric
    # (score), a vote's K-fold estimate of it, and the rows scored
    summary: pd.DataFrame
    csv_path: Path | None = None  # reports/metrics.csv, once written
    metric: str = "accuracy"

    def _ranked(self) -> pd.DataFrame:
        """Best first by the metric (a loss: lowest first); ties go to the smallest name."""
        goodness = self.summary["score"] * (1 if get_metric(self.metric).greater_is_better else -1)
        return self.summary.assign(goodness=goodness).sort_values(["goodness", "source"], ascending=[False, True])

    def best_run(self) -> str | None:
        """The kept run with the best score by the metric; ties go to the smallest run id."""
        ranked = self._ranked()
        runs = ranked[~ranked["source"].str.startswith(ENSEMBLE_PREFIX)]
        return None if runs.empty else str(runs["source"].iloc[0])

    def votes(self) -> list[str]:
        return [s for s in self.summary["source"] if s.startswith(ENSEMBLE_PREFIX)]

    def headline(self) -> str:
        """The source a report leads with: the best vote, else the best run (ties: smallest name)."""
        ranked = self._ranked()
        votes = ranked[ranked["source"].str.startswith(ENSEMBLE_PREFIX)]
        return str((votes if len(votes) else ranked)["source"].iloc[0])


def collect_metrics(workspace: Workspace, sources: list[str] | None = None, *,
                    votes: list[tuple[str, dict]] | None = None) -> MetricsReport:
    """Per-class precision, recall and F1 and support on the shared validation split,
    for kept runs and vote outputs (named `ensemble/<name>`); default all of them
    (`votes`: the sidecars `vote_sidecars` read already). Reads only: `write_metrics`
    writes the tables."""
    tables, confusions, summary = {}, {}, []
    metric = workspace_metric(workspace)
    for source, y_true, y_pred, classes, score, estimate in _prediction_sources(workspace, sources, votes, metric):
        if is_numeric_target(np.asarray(y_true)):  # no classes to count decisions of
            raise InputError(f"{source} predicts a number per image (regression, ordinal): per-class tables do "
                             "not apply; a run's score is in models/index.csv, a vote's in its sidecar")
        table = classification_table(y_true, y_pred, classes)
        tables[source] = table
        confusions[source] = confusion_table(y_true, y_pred, classes)
        by_class = table.set_index("class")
        share_right = accuracy(y_true, y_pred)
        summary.append({"source": source, "accuracy": share_right,
                        "macro_f1": by_class.loc["macro avg", "f1"], "weighted_f1": by_class.loc["weighted avg", "f1"],
                        "metric": metric, "score": share_right if score is None else score,
                        "estimate": estimate, "rows": int(len(y_true))})
    return MetricsReport(tables, confusions, pd.DataFrame(summary), metric=metric)


def write_metrics(workspace: Workspace, report: MetricsReport) -> Path:
    """reports/metrics.csv (every source's table, long format) and
    reports/confusion/<source>.csv; returns the first."""
    long = pd.concat([t.assign(source=s)[["source", *t.columns]] for s, t in report.tables.items()],
                     ignore_index=True)
    csv_path = workspace.reports_dir / "metrics.csv"
    fileio.write_csv(csv_path, long)
    for source, matrix in report.confusions.items():
        fileio.write_csv(confusion_csv(workspace, source), matrix, index=True)
    return csv_path


def confusion_csv(workspace: Workspace, source: str) -> Path:
    return workspace.reports_dir / "confusion" / f"{source.replace('/', '-')}.csv"


def vote_estimate(sidecar: dict) -> dict[str, Any] | None:
    """A vote's K-fold estimate: {metric, value, folds, rows}. A vote from before
    K-fold estimates recorded a split-half accuracy, which is a 2-fold one."""
    if isinstance(sidecar.get("val_estimate"), dict):
        return sidecar["val_estimate"]
    split_half = sidecar.get("val_accuracy_split_half", sidecar.get("val_accuracy_cv"))
    if split_half is None:
        return None
    return {"metric": "accuracy", "value": split_half, "folds": 2, "rows": sidecar.get("val_rows")}


def estimate_name(estimate: dict[str, Any]) -> str:
    """What printouts call a vote's estimate: "5-fold estimate"."""
    return f"{estimate['folds']}-fold estimate"


# -- votes' sidecars: trusted only for the CSV they describe ---------------------------


def read_vote(workspace: Workspace, name: str) -> dict[str, Any]:
    """The sidecar of vote `name`, refused (one line) when damaged or when it does
    not describe the CSV beside it (a vote cut short between writing the two, or a
    CSV replaced by hand). A sidecar from before checksums is read with a warning."""
    if not is_plain_name(name, RUN_ID_LIMIT):
        raise InputError(f"ensemble/{name}: not a vote name (votes are named by their files in {workspace.ensemble_dir})")
    path = workspace.ensemble_dir / f"{name}.json"
    if not path.exists():
        raise InputError(f"no vote output {name} in {workspace.ensemble_dir}")
    sidecar = read_record(path, required=("method", "classes", "members"))
    value_at(sidecar, path, "classes", kind=list)
    members = value_at(sidecar, path, "members", kind=list)
    if not all(isinstance(m, dict) for m in members):
        raise InputError(f"{path}: damaged, members is not a list of objects; {DOCTOR}")
    csv_path = path.with_suffix(".csv")
    if not csv_path.is_file():
        raise InputError(f"{path}: describes {csv_path.name}, which is missing; {DOCTOR}")
    recorded = sidecar.get("csv_sha256")
    if recorded is None:
        warn(f"{path} records no checksum of {csv_path.name} (an older kcnn wrote it): read as it is; "
             f"vote again to record one")
    elif recorded != file_sha256(csv_path):
        raise InputError(f"{path}: describes an earlier {csv_path.name} (the vote was cut short, or the CSV was "
                         f"replaced); vote again with --name {name}")
    return sidecar


def vote_sidecars(workspace: Workspace) -> list[tuple[str, dict[str, Any]]]:
    """(name, sidecar) of every vote whose sidecar describes its CSV; the others are
    skipped with a warning naming them."""
    if not workspace.ensemble_dir.is_dir():
        return []
    found = []
    for path in sorted(workspace.ensemble_dir.glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            found.append((path.stem, read_vote(workspace, path.stem)))
        except InputError as error:
            warn(f"skipping vote {path.stem}: {error}")
    return found


def _prediction_sources(workspace: Workspace, sources: list[str] | None, votes: list[tuple[str, dict]] | None,
                        metric: str):
    """(source, y_true, y_pred, classes, score by the metric, a vote's estimate of it)
    per run or vote, on its honest rows. Named sources must all be readable; by
    default an unreadable one is skipped with a warning."""
    if sources:
        names = [s[len(ENSEMBLE_PREFIX):] for s in sources if s.startswith(ENSEMBLE_PREFIX)]
        votes = [(name, read_vote(workspace, name)) for name in names]
        runs = [workspace.load_run(s) for s in sources if not s.startswith(ENSEMBLE_PREFIX)]
    else:
        votes = vote_sidecars(workspace) if votes is None else votes
        runs = workspace.runs()
    if not runs and not votes:
        raise InputError(f"no kept runs in {workspace.models_dir}: run `kcnn train` first")
    found, skipped = [], []
    for run in runs:
        try:
            honest = honest_predictions(workspace, run)
            score = get_metric(metric).value(honest.truth, honest.proba)
            decided = decide(honest.proba) if is_multi_label(honest.truth) else honest.proba.argmax(axis=1)
            found.append((run.run_id, honest.truth, decided, run.classes, score, None))
        except InputError as error:
            if sources:
                raise
            skipped.append((f"run {run.run_id}", error))
    for name, sidecar in votes:
        try:
            source = _vote_source(workspace, name, sidecar, named=bool(sources), metric=metric)
        except InputError as error:
            if sources:
                raise
            skipped.append((f"vote {name}", error))
            continue
        if source is not None:
            found.append(source)
    if skipped and not found:  # nothing left to report: the first reason is the error
        raise skipped[0][1]
    for what, error in skipped:
        warn(f"skipping {what}: {error}")
    return found


def _vote_source(workspace: Workspace, name: str, sidecar: dict[str, Any], named: bool, metric: str):
    """A vote's validation predictions against the labels of its rows (None when it
    has none: a vote with labels-only members)."""
    path = workspace.ensemble_dir / f"{name}.json"
    if not sidecar.get("val_predictions"):
        if named:
            raise InputError(f"{path}: no validation predictions ({sidecar.get('val_note')})")
        return None
    fingerprint = str(value_at(sidecar, path, "fingerprint", kind=str))
    classes = [str(c) for c in sidecar["classes"]]
    position = {label: i for i, label in enumerate(classes)}
    predictions = value_at(sidecar, path, "val_predictions", kind=list)
    rows, labels, label_classes = _rows_and_labels(workspace, fingerprint, sidecar.get("val_row_numbers"), name)
    truth = [position.get(str(label_classes[i])) for i in labels]
    predicted = [position.get(str(label)) for label in predictions]
    if len(predicted) != len(truth) or None in truth or None in predicted:
        raise InputError(f"{path}: damaged, its validation predictions do not match its rows and classes; "
                         f"{DOCTOR}")
    # A vote's weights were chosen on these rows: its K-fold estimate goes beside.
    estimate = vote_estimate(sidecar)
    score = sidecar.get("val_score") if sidecar.get("metric", "accuracy") == metric else None
    if score is None and metric != "accuracy":
        score = float("nan")  # voted when the workspace judged by another metric
    return (ENSEMBLE_PREFIX + name, np.array(truth), np.array(predicted), classes, score,
            estimate["value"] if estimate and estimate["metric"] == metric else None)


def _rows_and_labels(workspace: Workspace, fingerprint: str, rows: list | None, owner: str):
    """(rows, their class indices, the classes) of a vote: the rows it recorded,
    labelled by the fold assignment (every row) or the hold-out split."""
    folds = find_folds(workspace, fingerprint)
    split = _split_of(workspace, fingerprint, owner) if rows is None or folds is None else None
    if rows is None:
        return split.val_indices, split.val_labels, split.classes
    rows = np.asarray(rows, dtype=np.int64)
    if folds is not None:
        return rows, folds.labels[rows.clip(0, len(folds.labels) - 1)], folds.classes
    if not np.isin(rows, split.val_indices).all():
        raise InputError(f"{workspace.ensemble_dir / owner}.json: damaged, it names rows outside the validation "
                         f"split; {DOCTOR}")
    return rows, split.val_labels[np.searchsorted(split.val_indices, rows)], split.classes


def _split_of(workspace: Workspace, fingerprint: str, owner: str) -> Split:
    split = workspace.find_split(fingerprint)
    if split is None:
        raise InputError(f"{workspace.split_path(fingerprint)}: the validation split of {owner} is missing")
    return split


