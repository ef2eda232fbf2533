"""A kept run read back from its folder (models/<run_id>/run.json checked for
what every command relies on), and its row in models/index.csv.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn.errors import InputError
from kaggle_cnn.labels import NUMERIC_TASKS
from kaggle_cnn.store.files import DOCTOR, read_array, read_record, value_at

INDEX_COLUMNS = [
    "run_id", "model", "base_seed", "attempt", "seed", "val_accuracy", "kept",
    "status", "started", "seconds", "epochs", "data_fingerprint", "message", "metric", "score",
]


@dataclass(frozen=True)
class Run:
    """A kept run as read back from its folder (its record checked on reading)."""

    run_id: str
    path: Path
    record: dict[str, Any]

    @property
    def val_accuracy(self) -> float:
        return float(self.record["scores"]["val_accuracy"])

    @property
    def classes(self) -> list:
        return list(self.record["data"]["classes"])

    @property
    def fingerprint(self) -> str:
        return str(self.record["data"]["fingerprint"])

    @property
    def kfold(self) -> bool:
        """Trained --folds K: scored out of fold on every training row."""
        validation = self.record.get("validation")
        return isinstance(validation, dict) and validation.get("kind") == "folds"

    def proba(self, filename: str, rows: int | None = None) -> np.ndarray | None:
        """A stored probability file (val_proba.npy, test_proba_tta.npy, ...) checked
        against the run's classes; None when the run has none."""
        path = self.path / filename
        if not path.exists():
            return None
        return read_array(path, rows=rows, columns=len(self.classes), probabilities=not self.numeric)

    @property
    def numeric(self) -> bool:
        """Trained on a numeric target (regression, ordinal): its predictions are one column of numbers."""
        return self.record["data"].get("task") in NUMERIC_TASKS

    def val_proba(self) -> np.ndarray:
        """The run's honest validation probabilities: the hold-out split's rows, or
        every training row out of fold (a k-fold run's oof_proba.npy)."""
        return self.required_proba("oof_proba.npy" if self.kfold else "val_proba.npy", self.record["data"].get("n_val"))

    def test_proba(self) -> np.ndarray:
        return self.required_proba("test_proba.npy", self.record["data"].get("n_test"))

    @property
    def model_path(self) -> Path:
        """The model that made the run's submission: model.keras (a k-fold run without
        --refit has no single one: its first fold's model stands for it)."""
        own = self.path / "model.keras"
        return own if own.exists() or not (self.path / "fold1.keras").exists() else self.path / "fold1.keras"

    def required_proba(self, filename: str, rows: Any) -> np.ndarray:
        proba = self.proba(filename, rows if isinstance(rows, int) else None)
        if proba is None:
            raise InputError(f"{self.path / filename}: missing ({DOCTOR})")
        return proba


def read_run(path: Path) -> Run:
    """A run folder's run.json, checked for what every command relies on."""
    json_path = path / "run.json"
    record = read_record(json_path, required=("run_id", "model", "config", "data", "scores"))
    value_at(record, json_path, "model", kind=str)
    value_at(record, json_path, "config", kind=dict)
    value_at(record, json_path, "data", "fingerprint", kind=str)
    classes = value_at(record, json_path, "data", "classes", kind=list)
    if len(classes) < (1 if record["data"].get("task") in NUMERIC_TASKS else 2):
        raise InputError(f"{json_path}: damaged, data.classes lists {len(classes)} class(es); {DOCTOR}")
    score = value_at(record, json_path, "scores", "val_accuracy", kind=(int, float))
    if not 0 <= score <= 1:
        raise InputError(f"{json_path}: damaged, scores.val_accuracy is {score}; {DOCTOR}")
    if record["run_id"] != path.name:
        raise InputError(f"{json_path}: damaged, it records run {record['run_id']!r} in folder {path.name!r}; {DOCTOR}")
    return Run(path.name, path, record)


def index_row(record: dict[str, Any]) -> dict[str, Any]:
    """The index row of a run, from its run.json record (a field a hand-edited
    record lacks is left blank rather than stopping the repair)."""
    config = record.get("config") if isinstance(record.get("config"), dict) else {}
    return {
        "run_id": record["run_id"],
        "model": record["model"],
        "base_seed": record.get("base_seed", ""),
        "attempt": record.get("attempt", -1),
        "seed": record.get("seed", ""),
        "val_accuracy": round(float(record["scores"]["val_accuracy"]), 6),
        "kept": bool(record.get("kept", True)),
        "status": record.get("status", "ok"),
        "started": record.get("started", ""),
        "seconds": round(float(record.get("seconds", float("nan"))), 2),
        "epochs": _epochs_trained(record, config),
        "data_fingerprint": record["data"]["fingerprint"],
        "message": record.get("message", ""),
        "metric": record["scores"].get("metric", "accuracy"),
        "score": round(float(record["scores"].get("score", record["scores"]["val_accuracy"])), 6),
    }


def _epochs_trained(record: dict[str, Any], config: dict[str, Any]) -> Any:
    """Epochs a run trained (every phase), else what its settings asked for
    (a failed attempt; --epochs auto shows as auto)."""
    phases = record.get("phases")
    if isinstance(phases, dict) and phases and all(isinstance(n, int) for n in phases.values()):
        return sum(phases.values())
    return config.get("epochs", "")
