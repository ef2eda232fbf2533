"""Training runs: attempts of one configuration, each judged against the
threshold, kept or discarded, and recorded in the workspace as it finishes.

Training imports TensorFlow when an attempt starts (kaggle_cnn.training.fit), not
when this module is imported.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from kaggle_cnn.config import OPTIONS, check_setting
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.workspace import Run, Split, Workspace
from kaggle_cnn.training.checks import check_config
from kaggle_cnn.training.records import (
    Attempt,
    new_record,
    record_failure,
    store_attempt,
)

if TYPE_CHECKING:
    from kaggle_cnn.config import TrainConfig
    from kaggle_cnn.data import Dataset

DEFAULT_VAL_FRACTION = 0.1
SPLIT_SEED = 0  # one fixed split per dataset; recorded, so it can change later without breaking old workspaces


class TrainReporter(Protocol):
    """What train_many tells a progress display (kaggle_cnn.display has the CLI's)."""

    def attempt_started(self, number: int, total: int | None, run_id: str, epochs: int) -> None: ...
    def epoch_ended(self, epoch: int, logs: dict[str, float]) -> None: ...
    def attempt_ended(self, attempt: "Attempt") -> None: ...


class SilentReporter:
    def attempt_started(self, number, total, run_id, epochs):
        pass

    def epoch_ended(self, epoch, logs):
        pass

    def attempt_ended(self, attempt):
        pass


@dataclass
class TrainSummary:
    keep_above: float
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def kept(self) -> list[Attempt]:
        return [a for a in self.attempts if a.kept]

    def accuracy_stats(self) -> dict[str, float]:
        scores = np.array([a.val_accuracy for a in self.attempts])
        return {
            "mean": float(scores.mean()), "std": float(scores.std()), "best": float(scores.max()),
            "epoch_train_seconds": float(np.mean([a.epoch_train_seconds for a in self.attempts])),
            "predict_seconds": float(np.mean([a.predict_seconds for a in self.attempts])),
        }


def attempt_seed(base_seed: int, attempt: int) -> int:
    """Each attempt's own seed: independent streams from (base seed, attempt number)."""
    base_seed = check_setting("seed", base_seed, OPTIONS)
    return int(np.random.SeedSequence([base_seed, int(attempt)]).generate_state(1)[0])


def check_train_options(*, repeat: int, until_kept: int | None, max_attempts: int | None, keep_above: float,
                        seed: int = 0, val_fraction: float | None = None) -> dict[str, Any]:
    """The options of a run of attempts, checked as kaggle_cnn.config's table says
    and returned normalised (a seed of 5.0 is 5)."""
    given = {"keep_above": keep_above, "repeat": repeat, "until_kept": until_kept, "max_attempts": max_attempts,
             "seed": seed, "val_fraction": val_fraction}
    return {name: check_setting(name, value, OPTIONS) for name, value in given.items()}


def plan_split(workspace: Workspace, dataset: "Dataset", val_fraction: float | None) -> tuple[Split, bool]:
    """The workspace's split for this dataset, or a new one (not yet saved).

    Returns (split, is_new). Read-only, so bad options fail before anything is written.
    """
    from kaggle_cnn.data import make_split

    fingerprint = dataset.fingerprint()
    existing = workspace.find_split(fingerprint)
    if existing is not None:
        if val_fraction is not None and not np.isclose(val_fraction, existing.fraction):
            raise InputError(
                f"{workspace.split_path(fingerprint)}: this workspace already scores this dataset on a "
                f"--val-fraction {existing.fraction} split; all runs must share it (use a new workspace to change it)"
            )
        return existing, False
    if dataset.val_rows is not None:  # the data brings its own validation images (an image folder's val/)
        if val_fraction is not None:
            raise InputError(f"{dataset.source}: its val/ folder is the validation set; drop --val-fraction")
        indices = np.asarray(dataset.val_rows, dtype=np.int64)
        fraction = len(indices) / len(dataset.y_train)
    else:
        fraction = check_setting("val_fraction", val_fraction, OPTIONS) or DEFAULT_VAL_FRACTION
        indices = make_split(dataset.y_train, fraction, SPLIT_SEED, classes=dataset.classes,
                             where=_train_data(dataset))
    split = Split(fingerprint, float(fraction), SPLIT_SEED, indices, dataset.y_train[indices], list(dataset.classes))
    return split, True


def _train_data(dataset: "Dataset") -> str:
    """Where the training labels were read, as messages name it: train.csv, an .npz's y_train, a folder."""
    if dataset.kind == "kaggle_csv":
        return "train.csv"
    if dataset.kind == "npz":
        return f"{Path(dataset.source).name}, key y_train"
    return dataset.source


def train(
    dataset: "Dataset",
    workspace: Workspace,
    config: "TrainConfig",
    *,
    repeat: int = 1,
    until_kept: int | None = None,
    max_attempts: int | None = None,
    keep_above: float = 0.0,
    seed: int = 0,
    val_fraction: float | None = None,
    reporter: TrainReporter | None = None,
) -> TrainSummary:
    """Train `config.model` again and again; keep the runs scoring >= keep_above.

    `repeat` attempts, or with `until_kept` K: attempts until K are kept, at most
    `max_attempts` (default 10 x K). Kept runs land in the workspace as they finish,
    so stopping the command (or a kill -9) loses only the attempt in flight.
    """
    checked = check_train_options(repeat=repeat, until_kept=until_kept, max_attempts=max_attempts,
                                  keep_above=keep_above, seed=seed, val_fraction=val_fraction)
    repeat, until_kept, max_attempts, keep_above, seed, val_fraction = (
        checked[name] for name in ("repeat", "until_kept", "max_attempts", "keep_above", "seed", "val_fraction"))
    reporter = reporter or SilentReporter()
    total = repeat if until_kept is None else None
    cap = repeat if until_kept is None else (max_attempts or 10 * until_kept)
    summary = TrainSummary(keep_above)
    with training_session(workspace, dataset, config, val_fraction) as (split, arrays):
        first_attempt = workspace.next_attempt(config.model, seed)
        while len(summary.attempts) < cap and (until_kept is None or len(summary.kept) < until_kept):
            number = len(summary.attempts) + 1
            attempt_number = first_attempt + number - 1
            attempt = _run_attempt(
                dataset, workspace, config, split, arrays, number=number, attempt=attempt_number,
                base_seed=seed, run_id=f"{config.model}-s{seed}-a{attempt_number:03d}",
                run_seed=attempt_seed(seed, attempt_number), keep_above=keep_above, total=total, reporter=reporter,
            )
            summary.attempts.append(attempt)
            reporter.attempt_ended(attempt)
    return summary


def train_trial(dataset: "Dataset", workspace: Workspace, config: "TrainConfig", *, run_id: str, trial: int,
                base_seed: int, keep_above: float = 0.0, val_fraction: float | None = None,
                reporter: TrainReporter | None = None) -> Attempt:
    """One attempt with a given id and seed: a search trial, stored like any run."""
    checked = check_train_options(repeat=1, until_kept=None, max_attempts=None, keep_above=keep_above,
                                  seed=base_seed, val_fraction=val_fraction)
    keep_above, base_seed, val_fraction = checked["keep_above"], checked["seed"], checked["val_fraction"]
    with training_session(workspace, dataset, config, val_fraction) as (split, arrays):
        return _run_attempt(dataset, workspace, config, split, arrays, number=trial + 1, attempt=trial,
                            base_seed=base_seed, run_id=run_id, run_seed=attempt_seed(base_seed, trial),
                            keep_above=keep_above, total=None, reporter=reporter or SilentReporter())


@contextlib.contextmanager
def training_session(workspace: Workspace, dataset: "Dataset", config: "TrainConfig", val_fraction: float | None):
    """Check everything, then hold the workspace: yields (split, training arrays).
    Every check (the config, the model built for these images, the split) comes
    before the first write."""
    check_config(config, dataset.image_shape, dataset.n_classes)
    split, new_split = plan_split(workspace, dataset, val_fraction)
    with workspace.lock():
        workspace.repair()
        if new_split:
            workspace.save_split(split)
        yield split, _split_arrays(dataset, split)


def _split_arrays(dataset: "Dataset", split: Split) -> dict[str, np.ndarray]:
    train_rows = split.train_indices(len(dataset.y_train))
    return {
        "x_train": dataset.x_train[train_rows],
        "y_train": dataset.y_train[train_rows],
        "x_val": dataset.x_train[split.val_indices],
        "y_val": split.val_labels,
    }


def _run_attempt(dataset, workspace, config, split, arrays, *, number, attempt, base_seed, run_id, run_seed,
                 keep_above, total, reporter) -> Attempt:
    from kaggle_cnn.training.fit import fit_one

    reporter.attempt_started(number, total, run_id, config.epochs + config.fine_tune_epochs)
    record = new_record(config, run_id, base_seed, attempt, run_seed, keep_above)
    clock = time.perf_counter()
    try:
        result = fit_one(config, run_seed, n_classes=dataset.n_classes, x_test=dataset.x_test,
                         on_epoch=reporter.epoch_ended, **arrays)
    except Exception as error:
        # Recorded, then raised: a failure that repeats on every attempt (a bug, a
        # model too big for memory) must not burn a night of attempts silently.
        record_failure(workspace, record, split, f"{type(error).__name__}: {error}", time.perf_counter() - clock)
        raise
    return store_attempt(workspace, dataset, split, config, record, result, keep_above, number,
                          time.perf_counter() - clock)


def run_dataset(run: Run, data_path: str | os.PathLike | None = None) -> "Dataset":
    """The data a run was trained on, loaded again from where it was (or `data_path`)."""
    from kaggle_cnn.data import reload_dataset

    return reload_dataset(run.record["data"].get("load_options"), run.fingerprint, owner=f"run {run.run_id}",
                          data_path=data_path)
