"""The validation split: which training rows a run holds out to score itself.

Stratified so every class is represented in proportion even on small or
imbalanced data, and deterministic for a seed so that a run can be reproduced
from its stored settings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import numpy as np

from kaggle_cnn.errors import InputError, one_line
from kaggle_cnn.labels import is_multi_label, is_numeric_target


def split_arrays(dataset, val_indices: np.ndarray) -> dict[str, np.ndarray]:
    """A dataset's training images cut by a split: x_train/y_train (every row not
    held out) and x_val/y_val (the held-out rows), as training takes them."""
    return cut_arrays(dataset.x_train, dataset.y_train, val_indices)


def cut_arrays(x: np.ndarray, y: np.ndarray, val_rows: np.ndarray) -> dict[str, np.ndarray]:
    """Images and labels cut into the rows a model trains on and the rows it is
    scored on (a hold-out split, one fold; none for a refit on every row)."""
    train_rows = np.setdiff1d(np.arange(len(y)), val_rows, assume_unique=True)
    return {"x_train": x[train_rows], "y_train": y[train_rows], "x_val": x[val_rows], "y_val": y[val_rows]}


def make_split(
    y: np.ndarray, fraction: float, seed: int, *, classes: Sequence | None = None, where: str | None = None
) -> np.ndarray:
    """Sorted int64 indices of the validation rows.

    `classes` (the Dataset's label values) and `where` (the file the labels came
    from) only make error messages name the label instead of its index, and the file.
    """
    from sklearn.model_selection import (
        train_test_split,  # heavy import, only when splitting
    )

    if is_multi_label(np.asarray(y)) or is_numeric_target(np.asarray(y)):
        return _random_split(np.asarray(y), fraction, seed, where)
    y = np.asarray(y).reshape(-1)
    prefix = f"{where}: " if where else ""
    if isinstance(fraction, bool) or not isinstance(fraction, Real) or not 0 < fraction < 1:
        raise InputError(
            f"validation fraction must be between 0 and 1 (exclusive), got {fraction}"
        )
    n = len(y)
    if n == 0:
        raise InputError(f"{prefix}cannot make a validation split: there are no training rows")
    values, counts = np.unique(y, return_counts=True)
    small = np.flatnonzero(counts < 2)
    if len(small):
        value = values[small[0]]
        raise InputError(
            f"{prefix}{_class_name(value, classes)} has only 1 row (image); every class needs at least 2 "
            "for the stratified validation split"
        )
    # The same rounding sklearn uses: test rows rounded up, train rows down.
    n_val = math.ceil(fraction * n)
    n_train = math.floor((1 - fraction) * n)
    k = len(values)
    if n_val < k or n_train < k:
        raise InputError(
            f"{prefix}validation fraction {fraction:g} of {n} rows gives {n_val} validation and "
            f"{n_train} training rows, but each side needs at least one row of each of the "
            f"{k} classes; choose another fraction"
        )
    try:
        _, val = train_test_split(
            np.arange(n), test_size=float(fraction), random_state=seed, stratify=y
        )
    except ValueError as exc:
        raise InputError(f"{prefix}cannot make a validation split: {one_line(exc)}") from None
    return np.sort(np.asarray(val, dtype=np.int64))


def _random_split(y: np.ndarray, fraction: float, seed: int, where: str | None) -> np.ndarray:
    """Multi-label rows and numeric targets: a plain shuffled split (a row has
    several labels, or a number: there is no one class to stratify by)."""
    from sklearn.model_selection import train_test_split

    prefix = f"{where}: " if where else ""
    if isinstance(fraction, bool) or not isinstance(fraction, Real) or not 0 < fraction < 1:
        raise InputError(f"validation fraction must be between 0 and 1 (exclusive), got {fraction}")
    if len(y) < 2:
        raise InputError(f"{prefix}cannot make a validation split of {len(y)} row{'s' * (len(y) != 1)}")
    _, val = train_test_split(np.arange(len(y)), test_size=float(fraction), random_state=seed)
    return np.sort(np.asarray(val, dtype=np.int64))


def make_folds(
    y: np.ndarray, k: int, seed: int, *, classes: Sequence | None = None, where: str | None = None
) -> np.ndarray:
    """The fold (0..k-1) of every row: stratified, shuffled with `seed`, so each
    fold holds every class in proportion. Every class needs a row in every fold.
    Multi-label rows: shuffled folds of near-equal size (a row has several labels,
    so there is no one class to stratify by)."""
    from sklearn.model_selection import (
        StratifiedKFold,  # heavy import, only when assigning
    )

    if is_multi_label(np.asarray(y)):
        return _shuffled_folds(len(y), k, seed, where)
    if is_numeric_target(np.asarray(y)):
        raise InputError(f"--folds {k}: k-fold training takes class labels; this data is a number per row "
                         "(--regression, --ordinal): train on the hold-out split instead")
    y = np.asarray(y).reshape(-1)
    prefix = f"{where}: " if where else ""
    values, counts = np.unique(y, return_counts=True)
    if not len(y):
        raise InputError(f"{prefix}cannot assign folds: there are no training rows")
    smallest = int(counts.argmin())
    if counts[smallest] < k:
        raise InputError(
            f"--folds {k}: {prefix}{_class_name(values[smallest], classes)} has only {counts[smallest]} row(s), "
            f"and every fold needs one of each class; use --folds {max(2, int(counts[smallest]))} or fewer"
            if counts[smallest] >= 2 else
            f"--folds {k}: {prefix}{_class_name(values[smallest], classes)} has only 1 row; every class needs at "
            "least 2 for k-fold training")
    fold_of_row = np.empty(len(y), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=int(k), shuffle=True, random_state=seed)
    for fold, (_, rows) in enumerate(splitter.split(np.zeros(len(y)), y)):
        fold_of_row[rows] = fold
    return fold_of_row


def _shuffled_folds(n_rows: int, k: int, seed: int, where: str | None) -> np.ndarray:
    from sklearn.model_selection import KFold

    if n_rows < k:
        prefix = f"{where}: " if where else ""
        raise InputError(f"--folds {k}: {prefix}{n_rows} training row{'s' * (n_rows != 1)}, fewer than the folds")
    fold_of_row = np.empty(n_rows, dtype=np.int64)
    for fold, (_, rows) in enumerate(KFold(n_splits=int(k), shuffle=True, random_state=seed).split(np.zeros(n_rows))):
        fold_of_row[rows] = fold
    return fold_of_row


def _class_name(value: object, classes: Sequence | None) -> str:
    """"class '7'" (the label as plain text, never numpy's repr), or "class index 2"."""
    if classes is not None:
        try:
            return f"class {str(classes[int(value)])!r}"
        except (IndexError, TypeError, ValueError):
            pass
    if isinstance(value, (int, np.integer)):
        return f"class index {int(value)}"
    return f"class {str(value)!r}"
