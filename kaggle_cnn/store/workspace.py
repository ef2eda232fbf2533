"""The workspace on disk: runs, the shared validation split, submissions, reports.

    models/index.csv            one row per attempted run, kept or not
    models/<run_id>/            kept runs only, read back by kaggle_cnn.store.run (run.json, history.csv, model.keras,
                                val_proba.npy, test_proba.npy, submission.csv)
    models/splits/<fp>.json     the validation split of the dataset with fingerprint fp
    models/folds/<fp>.json      its k-fold assignment, once a run trains --folds K
    models/judging.json         the metric runs are kept by (kaggle_cnn.store.validation)
    models/discarded/<id>.csv   the learning curve of an attempt that was not kept
    models/studies/<name>/      a search's state (kaggle_cnn.search.study)
    models/plans/NNNN.json      what each `kcnn train` set out to do (kaggle_cnn.training.plans)
    submissions/<run_id>.csv    each kept run's own submission: the vote's members
    submissions/ensemble/       outputs of `kcnn vote`, never read back as members
    reports/                    metrics.csv, confusion matrices

A run is kept by one rename: its folder is written under a hidden temporary name
and renamed into place last. A kill -9 before that rename leaves only a hidden
folder, removed by the next command; after it, `repair()` finishes the rest
(its submission copy and its index row), so a kept run is never lost. Repair
removes only the toolkit's own temporary names (fileio.TMP_PREFIX).

Every file is read back through kaggle_cnn.store.files: a damaged one is a
one-line error naming it, and a damaged run is skipped with a warning wherever a
command can go on without it. A run id is a folder name in models/, never a path.
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
from kaggle_cnn.errors import InputError, one_line, warn
from kaggle_cnn.fileio import TMP_PREFIX
from kaggle_cnn.store.files import DOCTOR, check_run_id, read_record
from kaggle_cnn.store.run import INDEX_COLUMNS, Run, index_row, read_run

# Folders of models/ that are not runs.
RESERVED = frozenset({"splits", "folds", "discarded", "studies", "broken", "plans", "tensorboard"})


class WorkspaceBusy(InputError):
    """Another kcnn command holds the workspace."""


@dataclass(frozen=True)
class Split:
    """The validation rows every run of one dataset is scored on."""

    fingerprint: str
    fraction: float
    seed: int
    val_indices: np.ndarray  # sorted row numbers in the training set
    val_labels: np.ndarray  # class indices of those rows; multi-label: bool rows x labels
    classes: list

    def train_indices(self, n_rows: int) -> np.ndarray:
        return np.setdiff1d(np.arange(n_rows), self.val_indices, assume_unique=True)


def _labels_array(values) -> np.ndarray:
    """A split's recorded labels: class indices, or (multi-label) rows of 0/1 per label."""
    if any(isinstance(v, float) for v in values):  # numeric targets (regression, ordinal), as JSON wrote them
        return np.asarray(values, dtype=np.float64)
    labels = np.asarray(values, dtype=np.int64)
    if labels.ndim == 2:
        if not np.isin(labels, (0, 1)).all():
            raise ValueError("multi-label rows hold 0s and 1s")
        return labels.astype(bool)
    return labels


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
        data = read_record(path, required=("fingerprint", "fraction", "seed", "val_indices", "val_labels", "classes"))
        try:
            split = Split(
                fingerprint=str(data["fingerprint"]),
                fraction=float(data["fraction"]),
                seed=int(data["seed"]),
                val_indices=np.asarray(data["val_indices"], dtype=np.int64),
                val_labels=_labels_array(data["val_labels"]),
                classes=list(data["classes"]),
            )
        except (TypeError, ValueError):
            raise InputError(f"{path}: damaged, its values are not numbers where numbers belong; {DOCTOR}") from None
        if (split.fingerprint != fingerprint or split.val_indices.ndim != 1
                or split.val_indices.shape != split.val_labels.shape[:1] or not len(split.val_indices)
                or split.val_labels.dtype != np.float64 and (split.val_labels.min() < 0
                                                               or split.val_labels.max() >= len(split.classes))):
            raise InputError(f"{path}: damaged, its rows, labels and classes do not agree; {DOCTOR}")
        return split

    def save_split(self, split: Split) -> None:
        fileio.write_json(
            self.split_path(split.fingerprint),
            {
                "fingerprint": split.fingerprint,
                "fraction": split.fraction,
                "seed": split.seed,
                "classes": split.classes,
                "val_indices": split.val_indices,
                # multi-label: rows of 0/1, as JSON writes them; numeric targets as floats
                "val_labels": split.val_labels.astype(np.float64 if split.val_labels.dtype == np.float64 else np.int64),
            },
        )

    # -- the index of attempts ------------------------------------------------------

    def read_index(self):
        """Every attempt so far; a damaged index is one line (doctor --fix rebuilds it)."""
        import pandas as pd

        if not self.index_path.exists():
            return pd.DataFrame(columns=INDEX_COLUMNS)
        damaged = f"{self.index_path}: damaged (%s); `kcnn doctor --fix` rebuilds it from the kept runs"
        try:
            index = pd.read_csv(self.index_path, dtype={"run_id": str, "model": str, "message": str},
                                keep_default_na=False)
        except pd.errors.EmptyDataError:
            raise InputError(damaged % "empty") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
            raise InputError(damaged % one_line(error, 80)) from None
        if "metric" not in index.columns:  # written before runs were judged by a metric: accuracy
            index["metric"], index["score"] = "accuracy", index.get("val_accuracy")
        missing = [column for column in INDEX_COLUMNS if column not in index.columns]
        if missing:
            raise InputError(damaged % f"no column {missing[0]!r}")
        attempts = pd.to_numeric(index["attempt"], errors="coerce")
        if attempts.isna().any():
            raise InputError(damaged % f"line {int(np.flatnonzero(attempts.isna())[0]) + 2}: attempt is not a number")
        return index

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
        return self.models_dir / check_run_id(run_id)

    @contextlib.contextmanager
    def new_run_dir(self, run_id: str) -> Iterator[Path]:
        """Yield a hidden folder to fill; rename it to models/<run_id>/ on success."""
        final = self.run_dir(run_id)
        if final.exists():
            raise FileExistsError(f"{final} already exists")
        with fileio.atomic_folder(final) as tmp:
            yield tmp

    def run_folders(self) -> list[Path]:
        """Every folder of models/ that holds (or should hold) a kept run."""
        if not self.models_dir.is_dir():
            return []
        return sorted(p for p in self.models_dir.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and p.name not in RESERVED)

    def run_ids(self) -> list[str]:
        return [p.name for p in self.run_folders() if (p / "run.json").exists()]

    def load_run(self, run_id: str) -> Run:
        path = self.run_dir(run_id)
        if not (path / "run.json").exists():
            known = ", ".join(self.run_ids()[:5]) or "none"
            raise InputError(f"no kept run {run_id!r} in {self.models_dir} (kept runs: {known})")
        return read_run(path)

    def runs(self) -> list[Run]:
        """Every readable kept run; a damaged one is skipped with a warning naming it."""
        readable = []
        for run_id in self.run_ids():
            try:
                readable.append(self.load_run(run_id))
            except InputError as error:
                warn(f"skipping run {run_id}: {error}")
        return readable

    def live_curves(self, run_id: str) -> Path:
        """Where an attempt in flight writes its TensorBoard curves (--tensorboard);
        a kept run takes them into its folder, a discarded or failed one deletes them."""
        return self.models_dir / "tensorboard" / check_run_id(run_id)

    def discarded_history(self, run_id: str) -> Path:
        return self.models_dir / "discarded" / f"{check_run_id(run_id)}.csv"

    def history(self, run_id: str):
        """The per-epoch history of any attempt, kept or not (None if it has none)."""
        import pandas as pd

        for path in (self.run_dir(run_id) / "history.csv", self.discarded_history(run_id)):
            if path.exists():
                try:
                    history = pd.read_csv(path)
                except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
                    raise InputError(f"{path}: damaged ({one_line(error, 80)}); {DOCTOR}") from None
                epochs = pd.to_numeric(history["epoch"], errors="coerce") if "epoch" in history else None
                if epochs is None or epochs.isna().any():
                    raise InputError(f"{path}: damaged, no epoch numbers; {DOCTOR}")
                return history
        return None

    def histories(self, run_ids) -> dict[str, Any]:
        """The learning curves of those attempts that have one; a damaged one is
        skipped with a warning naming it."""
        found = {}
        for run_id in run_ids:
            try:
                history = self.history(run_id)
            except InputError as error:
                warn(f"skipping the curves of {run_id}: {error}")
                continue
            if history is not None:
                found[run_id] = history
        return found

    def member_submission(self, run_id: str) -> Path:
        return self.submissions_dir / f"{check_run_id(run_id)}.csv"

    def publish_submission(self, run: Run) -> None:
        """Copy a kept run's own submission into submissions/, atomically."""
        with fileio.atomic_path(self.member_submission(run.run_id)) as tmp:
            shutil.copyfile(run.path / "submission.csv", tmp)

    # -- crash recovery and locking -------------------------------------------------

    def leftovers(self) -> list[Path]:
        """What killed commands left: the toolkit's own temporary files and folders
        (fileio.TMP_PREFIX), and nothing else."""
        found = []
        for top in (self.models_dir, self.submissions_dir, self.reports_dir):
            if top.is_dir():
                found += [p for p in top.rglob(f"{TMP_PREFIX}*") if not any(
                    part.startswith(TMP_PREFIX) for part in p.relative_to(top).parts[:-1])]
        return sorted(found)

    def repair(self) -> list[str]:
        """Finish what a killed command left: drop the toolkit's half-written files
        and run folders, and give every kept run its index row (and its submission,
        when the row was missing too). Returns the ids of the runs it completed.
        Call it holding the lock: another command's temporary files are in flight."""
        for leftover in self.leftovers():
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        if not self.models_dir.is_dir():
            return []
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
    def hold_if_idle(self) -> Iterator[bool]:
        """For commands that read runs and write only their own outputs (a vote):
        hold the workspace and repair it when no other command does; when one does
        (a vote during a long `kcnn train`), go on without either. A repair that
        meets a damaged index is a warning here: the vote does not need the index."""
        if not self.models_dir.is_dir():  # no runs, nothing to repair: create nothing
            yield False
            return
        try:
            with self.lock():
                try:
                    self.repair()
                except InputError as error:
                    warn(f"crash repair skipped: {error}")
                yield True
        except WorkspaceBusy:
            yield False

    def busy(self) -> bool:
        """Whether another command holds the workspace now (writes nothing)."""
        path = self.models_dir / ".lock"
        if not path.is_file():
            return False
        with open(path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
        return False

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One writer per workspace: two `kcnn train` in one folder would race for
        attempt numbers and the index."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        with open(self.models_dir / ".lock", "a") as handle:  # "a": taking the lock changes no file
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise WorkspaceBusy(f"workspace {self.root} is busy: another kcnn command holds {handle.name}") from None
            yield
