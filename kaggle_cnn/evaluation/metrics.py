"""Per-class precision, recall, F1 and the confusion matrix (from scikit-learn) of
kept runs and votes on the shared validation split; log-loss.

Tables are indexed by the original class labels so they read as the user's
classes, not as 0..K-1. `collect_metrics` only reads the workspace;
`write_metrics` is the separate step that writes reports/metrics.csv and
reports/confusion/, which `kcnn metrics` does and a picture never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kaggle_cnn import fileio
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.workspace import Split, Workspace

ENSEMBLE_PREFIX = "ensemble/"
PROBABILITY_FLOOR = 1e-7  # log-loss clips probabilities here, as Keras does


def classification_table(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence) -> pd.DataFrame:
    """One row per class plus accuracy, macro and weighted averages.

    Columns precision, recall, f1, support; as in scikit-learn's own report, the
    accuracy row carries its value in the f1 column and the row count as support.
    """
    from sklearn.metrics import classification_report

    names = [str(c) for c in classes]
    report = classification_report(
        y_true, y_pred, labels=np.arange(len(classes)), target_names=names, output_dict=True, zero_division=0
    )
    rows = []
    for name in names + ["macro avg", "weighted avg"]:
        entry = report[name]
        rows.append({"class": name, "precision": entry["precision"], "recall": entry["recall"],
                     "f1": entry["f1-score"], "support": int(entry["support"])})
    rows.insert(len(names), {"class": "accuracy", "precision": np.nan, "recall": np.nan,
                             "f1": report["accuracy"], "support": int(len(y_true))})
    return pd.DataFrame(rows)


def confusion_table(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence) -> pd.DataFrame:
    """Rows: true class; columns: predicted class."""
    from sklearn.metrics import confusion_matrix

    names = [str(c) for c in classes]
    matrix = confusion_matrix(y_true, y_pred, labels=np.arange(len(classes)))
    return pd.DataFrame(matrix, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted"))


def log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-probability of the true class (probabilities clipped)."""
    picked = proba[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.clip(picked, PROBABILITY_FLOOR, 1.0))))


@dataclass
class MetricsReport:
    tables: dict[str, pd.DataFrame]  # source -> per-class table
    confusions: dict[str, pd.DataFrame]
    summary: pd.DataFrame  # one row per source: accuracy, macro and weighted F1, rows
    csv_path: Path | None = None  # reports/metrics.csv, once written

    def best_run(self) -> str | None:
        """The kept run with the highest accuracy; ties go to the smallest run id."""
        runs = self.summary[~self.summary["source"].str.startswith(ENSEMBLE_PREFIX)]
        if runs.empty:
            return None
        return str(runs.sort_values(["accuracy", "source"], ascending=[False, True])["source"].iloc[0])

    def votes(self) -> list[str]:
        return [s for s in self.summary["source"] if s.startswith(ENSEMBLE_PREFIX)]

    def headline(self) -> str:
        """The source a report leads with: the best vote, else the best run (ties: smallest name)."""
        ranked = self.summary.sort_values(["accuracy", "source"], ascending=[False, True])
        votes = ranked[ranked["source"].str.startswith(ENSEMBLE_PREFIX)]
        return str((votes if len(votes) else ranked)["source"].iloc[0])


def collect_metrics(workspace: Workspace, sources: list[str] | None = None) -> MetricsReport:
    """Per-class precision, recall, F1 and support on the shared validation split,
    for kept runs and vote outputs (named `ensemble/<name>`); default all of them.
    Reads only: `write_metrics` writes the tables."""
    tables, confusions, summary = {}, {}, []
    for source, y_true, y_pred, classes, split_half in _prediction_sources(workspace, sources):
        table = classification_table(y_true, y_pred, classes)
        tables[source] = table
        confusions[source] = confusion_table(y_true, y_pred, classes)
        by_class = table.set_index("class")
        summary.append({"source": source, "accuracy": by_class.loc["accuracy", "f1"],
                        "macro_f1": by_class.loc["macro avg", "f1"], "weighted_f1": by_class.loc["weighted avg", "f1"],
                        "accuracy_split_half": split_half, "rows": int(len(y_true))})
    return MetricsReport(tables, confusions, pd.DataFrame(summary))


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


def vote_split_half_accuracy(sidecar: dict) -> float | None:
    """A vote's split-half accuracy (older workspaces called it val_accuracy_cv)."""
    return sidecar.get("val_accuracy_split_half", sidecar.get("val_accuracy_cv"))


def _prediction_sources(workspace: Workspace, sources: list[str] | None):
    """(source, y_true, y_pred, classes, split-half accuracy or None) per run or vote."""
    if sources:
        run_ids = [s for s in sources if not s.startswith(ENSEMBLE_PREFIX)]
        ensembles = [s[len(ENSEMBLE_PREFIX):] for s in sources if s.startswith(ENSEMBLE_PREFIX)]
        for name in ensembles:
            if not (workspace.ensemble_dir / f"{name}.json").exists():
                raise InputError(f"no vote output {name!r} in {workspace.ensemble_dir}")
    else:
        run_ids = workspace.run_ids()
        ensembles = sorted(p.stem for p in workspace.ensemble_dir.glob("*.json")) if workspace.ensemble_dir.is_dir() else []
    runs = [workspace.load_run(run_id) for run_id in run_ids]  # unknown ids fail before any output
    if not runs and not ensembles:
        raise InputError(f"no kept runs in {workspace.models_dir}: run `kcnn train` first")
    found = []
    for run in runs:
        split = _split_of(workspace, run.fingerprint, run.run_id)
        found.append((run.run_id, split.val_labels, run.val_proba().argmax(axis=1), run.classes, None))
    for name in ensembles:
        sidecar = fileio.read_json(workspace.ensemble_dir / f"{name}.json")
        if not sidecar.get("val_predictions"):
            if sources:
                raise InputError(f"{workspace.ensemble_dir / (name + '.json')}: no validation predictions ({sidecar.get('val_note')})")
            continue
        split = _split_of(workspace, sidecar["fingerprint"], name)
        classes = sidecar["classes"]
        position = {label: i for i, label in enumerate(classes)}
        truth = np.array([position[str(split.classes[i])] for i in split.val_labels])
        predicted = np.array([position[label] for label in sidecar["val_predictions"]])
        # A vote's weights were chosen on these rows: its split-half accuracy goes beside.
        found.append((ENSEMBLE_PREFIX + name, truth, predicted, classes, vote_split_half_accuracy(sidecar)))
    return found


def _split_of(workspace: Workspace, fingerprint: str, owner: str) -> Split:
    split = workspace.find_split(fingerprint)
    if split is None:
        raise InputError(f"{workspace.split_path(fingerprint)}: the validation split of {owner} is missing")
    return split


