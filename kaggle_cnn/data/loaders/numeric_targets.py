"""Numeric targets in a labels CSV: a score per image (PetFinder Pawpularity's
1-100, graded by RMSE) with --regression, or a whole grade per image (APTOS
2019's diagnosis 0-4, graded by quadratic weighted kappa) with --ordinal.

The target column is read as floats; a cell that is not a number (or, for
grades, not a whole number) is one line naming the file, line and column. The
Dataset's `classes` is then the target column's name alone: the one column
every run predicts and every submission writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kaggle_cnn.data.loaders.csv_files import cell_error
from kaggle_cnn.errors import InputError
from kaggle_cnn.labels import ORDINAL, REGRESSION


def numeric_task(regression: bool, ordinal: bool, multi_label: bool, source: str) -> str | None:
    """The task the options ask for (None: classes), refused when they contradict."""
    if multi_label and (regression or ordinal):
        raise InputError(f"{source}: --{'ordinal' if ordinal else 'regression'} and --multi-label do not go "
                         "together: a numeric target is one number per image, not tags")
    return ORDINAL if ordinal else REGRESSION if regression else None


def read_numeric_targets(path: Path, table: pd.DataFrame, column: str, task: str) -> np.ndarray:
    """The column's values as float64, each checked (whole numbers for ORDINAL)."""
    text = table[column]
    values = pd.to_numeric(text.astype(str).str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values) | text.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        shown = "missing value" if pd.isna(text.iloc[row]) else f"{str(text.iloc[row]).strip()!r} is not a number"
        raise InputError(cell_error(path, row, column, f"{shown} (--{task} reads the target as numbers)"))
    if task == ORDINAL:
        fractional = np.flatnonzero(values != np.round(values))
        if len(fractional):
            row = int(fractional[0])
            raise InputError(cell_error(path, row, column, f"{str(text.iloc[row]).strip()!r} is not a whole grade "
                                        "(--ordinal targets are whole numbers; use --regression for scores)"))
    if len(np.unique(values)) < 2:
        raise InputError(f"{path.name}: column {column} holds one value only ({values[0]:g}); nothing to learn")
    return values

