"""The workspace on disk: runs, the shared validation split, submissions, reports.

    models/index.csv            one row per attempted run, kept or not
    models/<run_id>/            kept runs only (run.json, history.csv, model.keras,
                                val_proba.npy, test_proba.npy, submission.csv)
    models/splits/<fp>.json     the validation split of the dataset with fingerprint fp
    models/discarded/<id>.csv   the learning curve of an attempt that was not kept
    models/studies/<name>/      a search's state (kaggle_cnn.search.study)
    submissions/<run_id>.csv    each kept run's own submission: the vote's members
    submissions/ensemble/       outputs of `kcnn vote`, never read back as members
    reports/                    metrics.csv, confusion matrices

A run is kept by one rename: its folder is written under a hidden temporary name
and renamed into place last. A kill -9 before that rename leaves only a hidden
folder, removed by the next command; after it, `repair()` finishes the rest
(its submission copy and its index row), so a kept run is never lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn import fileio
from kaggle_cnn.errors import InputError

INDEX_COLUMNS = [
    "run_id", "model", "base_seed", "attempt", "seed", "val_accuracy", "kept",
    "status", "started", "seconds", "epochs", "data_fingerprint", "message",
]
TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class Split:
    """The validation rows every run of one dataset is scored on."""

    fingerprint: str
    fraction: float
    seed: int
    val_indices: np.ndarray  # sorted row numbers in the training set
    val_labels: np.ndarray  # class indices of those rows
    classes: list

    def train_indices(self, n_rows: int) -> np.ndarray:
        return np.setdiff1d(np.arange(n_rows), self.val_indices, assume_unique=True)


@dataclass(frozen=True)
class Run:
    """A kept run as read back from its folder."""

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

    def val_proba(self) -> np.ndarray:
        return np.load(self.path / "val_proba.npy")

    def test_proba(self) -> np.ndarray:
        return np.load(self.path / "test_proba.npy")


class Workspace:
    """One competition's working folder (default: the current directory)."""

    def __init__(self, root: str | os.PathLike = ".") -> None:
        self.root = Path(root)
        self.models_dir = self.root / "models"
        self.submissions_dir = self.root / "submissions"
        self.ensemble_dir = self.submissions_dir / "ensemble"
        self.reports_dir = self.root / "reports"
        self.index_path = self.models_dir / "index.csv"
        self.splits_dir = self.models_dir / "splits"

    # -- the shared validation split ------------------------------------------------

    def split_path(self, fingerprint: str) -> Path:
        return self.splits_dir / f"{fingerprint}.json"

    def find_split(self, fingerprint: str) -> Split | None:
        path = self.split_path(fingerprint)
        if not path.exists():
            return None
        data = fileio.read_json(path)
        return Split(
            fingerprint=data["fingerprint"],
            fraction=float(data["fraction"]),
            seed=int(data["seed"]),
            val_indices=np.asarray(data["val_indices"], dtype=np.int64),
            val_labels=np.asarray(data["val_labels"], dtype=np.int64),
            classes=list(data["classes"]),
        )

    def save_split(self, split: Split) -> None:
        fileio.write_json(
            self.split_path(split.fingerprint),
            {
                "fingerprint": split.fingerprint,
                "fraction": split.fraction,
                "seed": split.seed,
                "classes": split.classes,
                "val_indices": split.val_indices,
                "val_labels": split.val_labels,
            },
        )

    # -- the index of attempts ------------------------------------------------------

    def read_index(self):
        import pandas as pd

        if not self.index_path.exists():
            return pd.DataFrame(columns=INDEX_COLUMNS)
        return pd.read_csv(self.index_path, dtype={"run_id": str, "model": str, "message": str}, keep_default_na=False)

    def append_index(self, row: dict[str, Any]) -> None:
        import pandas as pd

        index = self.read_index()
        new = pd.DataFrame([{column: row.get(column, "") for column in INDEX_COLUMNS}])
        index = new if index.empty else pd.concat([index, new], ignore_index=True)
        fileio.write_csv(self.index_path, index[INDEX_COLUMNS])

    def next_attempt(self, model: str, base_seed: int) -> int:
        """Attempt numbers go on from earlier commands with the same model and seed,
        so running `kcnn train --seed 0` twice gives new runs, not copies."""
        index = self.read_index()
        if index.empty:
            return 0
        # Only `kcnn train`'s own ids (<model>-s<S>-a<k>): search trials number themselves.
        same = index[index["run_id"].str.startswith(f"{model}-s{int(base_seed)}-a")]
        return int(same["attempt"].astype(int).max()) + 1 if len(same) else 0

    # -- kept runs ------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        return self.models_dir / run_id

    @contextlib.contextmanager
    def new_run_dir(self, run_id: str) -> Iterator[Path]:
        """Yield a hidden folder to fill; rename it to models/<run_id>/ on success."""
        final = self.run_dir(run_id)
        if final.exists():
            raise FileExistsError(f"{final} already exists")
        tmp = self.models_dir / f"{TMP_PREFIX}{run_id}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            yield tmp
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def run_ids(self) -> list[str]:
        if not self.models_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.models_dir.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / "run.json").exists()
        )

    def load_run(self, run_id: str) -> Run:
        path = self.run_dir(run_id)
        if not (path / "run.json").exists():
            known = ", ".join(self.run_ids()[:5]) or "none"
            raise InputError(f"no kept run {run_id!r} in {self.models_dir} (kept runs: {known})")
        return Run(run_id, path, fileio.read_json(path / "run.json"))

    def runs(self) -> list[Run]:
        return [self.load_run(run_id) for run_id in self.run_ids()]

    def discarded_history(self, run_id: str) -> Path:
        return self.models_dir / "discarded" / f"{run_id}.csv"

    def history(self, run_id: str):
        """The per-epoch history of any attempt, kept or not (None if it has none)."""
        import pandas as pd

        for path in (self.run_dir(run_id) / "history.csv", self.discarded_history(run_id)):
            if path.exists():
                return pd.read_csv(path)
        return None

    def member_submission(self, run_id: str) -> Path:
        return self.submissions_dir / f"{run_id}.csv"

    def publish_submission(self, run: Run) -> None:
        """Copy a kept run's own submission into submissions/, atomically."""
        with fileio.atomic_path(self.member_submission(run.run_id)) as tmp:
            shutil.copyfile(run.path / "submission.csv", tmp)

    # -- crash recovery and locking -------------------------------------------------

    def repair(self) -> list[str]:
        """Finish what a killed command left: drop hidden half-written run folders,
        and give every kept run its index row (and its submission, when the row was
        missing too). Returns the ids of the runs it completed."""
        if not self.models_dir.is_dir():
            return []
        for leftover in self.models_dir.glob(f"{TMP_PREFIX}*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:  # a model a search worker saved before the kill
                leftover.unlink(missing_ok=True)
        for folder in (self.models_dir, self.submissions_dir):  # atomic writes cut short (fileio.atomic_path)
            for partial in folder.glob(".*.*"):
                if partial.is_file() and partial.name != ".lock":
                    partial.unlink(missing_ok=True)
        indexed = set(self.read_index()["run_id"].astype(str))
        completed = []
        for run in self.runs():
            if run.run_id in indexed:
                continue
            if not self.member_submission(run.run_id).exists():
                self.publish_submission(run)
            self.append_index(index_row(run.record))
            completed.append(run.run_id)
        return completed

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One writer per workspace: two `kcnn train` in one folder would race for
        attempt numbers and the index."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        with open(self.models_dir / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise InputError(f"workspace {self.root} is busy: another kcnn command holds {handle.name}") from None
            yield


def index_row(record: dict[str, Any]) -> dict[str, Any]:
    """The index row of a run, from its run.json record."""
    return {
        "run_id": record["run_id"],
        "model": record["model"],
        "base_seed": record["base_seed"],
        "attempt": record["attempt"],
        "seed": record["seed"],
        "val_accuracy": round(float(record["scores"]["val_accuracy"]), 6),
        "kept": bool(record["kept"]),
        "status": record.get("status", "ok"),
        "started": record["started"],
        "seconds": round(float(record["seconds"]), 2),
        "epochs": record["config"]["epochs"],
        "data_fingerprint": record["data"]["fingerprint"],
        "message": record.get("message", ""),
    }
