"""The options of a run of attempts, checked before anything is written: each
attempt's seed, the run options' values, and the workspace's validation split
for a dataset (found, or planned but not yet saved)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kaggle_cnn.config import OPTIONS, check_setting
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.workspace import Split, Workspace

if TYPE_CHECKING:
    from kaggle_cnn.data import Dataset

DEFAULT_VAL_FRACTION = 0.1
# A batch size left open is 128, halved (down to 32) while an epoch of the training
# rows would take fewer than SMALL_SET_STEPS steps: on a few hundred images a batch of
# 128 makes an epoch 3 steps, and a short run ends before the network has learnt
# (benchmarks/RESULTS.md, "A small training set").
DEFAULT_BATCH_SIZE = 128
SMALLEST_FITTED_BATCH = 32
SMALL_SET_STEPS = 16
SPLIT_SEED = 0  # one fixed split per dataset; recorded, so it can change later without breaking old workspaces


def batch_size_for(config, rows: int) -> int:
    """The batch size `config` trains `rows` training images with: its own, or, left
    open (None), the default fitted to a small set."""
    if config.batch_size is not None:
        return int(config.batch_size)
    batch = DEFAULT_BATCH_SIZE
    while batch > SMALLEST_FITTED_BATCH and rows < batch * SMALL_SET_STEPS:
        batch //= 2
    return batch


def with_batch_size(config, rows: int):
    """`config` with its batch size fixed for `rows` training images, as run.json records it."""
    from dataclasses import replace

    return config if config.batch_size is not None else replace(config, batch_size=batch_size_for(config, rows))


def attempt_seed(base_seed: int, attempt: int) -> int:
    """Each attempt's own seed: independent streams from (base seed, attempt number).
    A k-fold candidate's folds and refit derive theirs the same way from its seed."""
    base_seed = check_setting("seed", base_seed, OPTIONS)
    return int(np.random.SeedSequence([base_seed, int(attempt)]).generate_state(1)[0])


def check_train_options(*, repeat: int | None, until_kept: int | None, max_attempts: int | None, keep_above: float,
                        seed: int = 0, val_fraction: float | None = None, time_budget: float | None = None,
                        metric: str = "accuracy", folds: int | None = None, refit: bool = False) -> dict[str, Any]:
    """The options of a run of attempts, checked as kaggle_cnn.config's table says
    and returned normalised (a seed of 5.0 is 5; a repeat left out is 1); --keep-above
    within the metric's range; and the options that do not go together refused."""
    from kaggle_cnn.evaluation.metric_registry import check_threshold, get_metric

    given = {"keep_above": keep_above, "repeat": 1 if repeat is None else repeat, "until_kept": until_kept,
             "max_attempts": max_attempts, "seed": seed, "val_fraction": val_fraction, "time_budget": time_budget,
             "metric": metric, "folds": folds, "refit": refit}
    checked = {name: check_setting(name, value, OPTIONS) for name, value in given.items()}
    checked["metric"] = get_metric(checked["metric"]).name  # map@05 is map@5
    checked["keep_above"] = check_threshold(get_metric(checked["metric"]), checked["keep_above"])
    if repeat is not None and checked["until_kept"] is not None:
        raise InputError("give --repeat N or --until-kept K, not both")
    if checked["max_attempts"] is not None and checked["until_kept"] is None:
        raise InputError("--max-attempts only applies with --until-kept")
    if checked["refit"] and checked["folds"] is None:
        raise InputError("--refit trains one more model on every row after the folds: it needs --folds K")
    if checked["folds"] is not None and val_fraction is not None:
        raise InputError("--val-fraction does not go with --folds: a k-fold run is scored on every training row")
    return checked


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
