"""A labels CSV's label columns as targets: one-hot columns read as one label
(Plant Pathology's healthy,multiple_diseases,rust,scab), or as a multi-label
indicator matrix when rows hold several 1s (RANZCR CLiP); space-separated tags in
one column (Planet's `clear primary road`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kaggle_cnn.data.loaders.csv_files import file_line, list_columns
from kaggle_cnn.errors import InputError
from kaggle_cnn.labels import normalise_labels, sorted_labels

_ONE_HOT = {"0": False, "1": True, "0.0": False, "1.0": True}


def one_hot_labels(path: Path, table: pd.DataFrame, columns: list[str],
                    multi_label: bool = False) -> tuple[list, np.ndarray]:
    """One-hot columns as one label: classes are the column names (sorted); every row
    needs exactly one 1. With `multi_label`, or when some row has several 1s, the
    rows are a multi-label indicator matrix (bool, columns in the classes' order)."""
    values = table[columns].astype(object)
    known = values.isin(list(_ONE_HOT))
    if not known.to_numpy().all():
        row, position = np.argwhere(~known.to_numpy())[0]
        raise InputError(
            f"{path.name} line {file_line(path, row)}, column {columns[position]}: {values.iloc[row, position]!r} "
            f"is not 0 or 1; with several label columns ({list_columns(columns)}) each row is one-hot "
            "(or pass --label-column)")
    ones = values.replace(_ONE_HOT).to_numpy(dtype=bool)
    counts = ones.sum(axis=1)
    classes = sorted(columns)
    if multi_label or (counts > 1).any():  # RANZCR CLiP, Plant Pathology 2021: several findings per image
        return classes, ones[:, [columns.index(c) for c in classes]]
    wrong = np.flatnonzero(counts != 1)
    if len(wrong):
        row = int(wrong[0])
        raise InputError(f"{path.name} line {file_line(path, row)}: none of {list_columns(columns)} is 1; each "
                         "row needs exactly one 1 (or several, or with --multi-label any number, for multi-label)")
    rank = np.array([classes.index(c) for c in columns], dtype=np.int64)
    return classes, rank[ones.argmax(axis=1)]


def tag_labels(path: Path, table: pd.DataFrame, column: str) -> tuple[list, np.ndarray]:
    """Space-separated tags in one column (Planet's `clear primary road`): the
    classes are every tag seen (sorted), the targets a bool rows x classes matrix.
    A row without tags is allowed: none of the labels applies."""
    from sklearn.preprocessing import MultiLabelBinarizer

    text = table[column].fillna("").astype(str)
    tags = [normalise_labels(cell.split()) for cell in text]
    binarizer = MultiLabelBinarizer(classes=sorted_labels(t for row in tags for t in row))
    classes = list(binarizer.classes)
    if len(classes) < 2:
        raise InputError(f"{path.name}: column {column} has only {len(classes)} tag{'s' * (len(classes) != 1)}"
                         f"{f' ({classes[0]!r})' if classes else ''}; need at least 2")
    return classes, binarizer.fit_transform(tags).astype(bool)
