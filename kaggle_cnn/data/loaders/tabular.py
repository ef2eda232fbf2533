"""Table columns beside the images (SIIM-ISIC melanoma's sex, age_approx and
anatom_site_general_challenge; PetFinder's metadata): chosen, encoded as numbers,
and joined to each image's row (`--tabular-columns a,b,c` or `auto`).

- numeric columns (most values numbers) are standardised with the training rows'
  mean and standard deviation; a missing value becomes the training median, and a
  second column says it was missing (1) or not (0);
- other columns are one-hot over the categories of the training rows; a missing
  value is a category of its own, and a category training never saw is all zeros.

The encoding is fitted once, on the labels CSV's rows of the training images, and
applied the same way to the test rows, read from test.csv by id. `auto` takes
every column but the id and the label(s), leaving out, with the reason, columns
that are constant, that hold a different value on every row or more than
MAX_CATEGORIES categories (patient ids, file names), or that test.csv lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kaggle_cnn.data.loaders.csv_files import (
    file_line,
    list_columns,
    read_header,
    read_table,
)
from kaggle_cnn.errors import InputError

AUTO = "auto"
NUMERIC, CATEGORICAL = "numeric", "categorical"
MAX_CATEGORIES = 50  # more, and a text column is an identifier (patients), not a category to one-hot
MISSING = None  # a categorical column's own category for empty cells (null in run.json)


@dataclass(frozen=True)
class TableEncoding:
    """How table columns become numbers: one dict per column (name, kind and what
    was fitted: mean, std and median, or the categories), as run.json records it."""

    columns: tuple[dict, ...]
    left_out: tuple[tuple[str, str], ...] = ()  # (column, why) under `auto`

    @property
    def names(self) -> list[str]:
        """The encoded vector's columns: `age`, `age missing`, `sex=female`, `sex=(missing)`."""
        names = []
        for column in self.columns:
            if column["kind"] == NUMERIC:
                names += [column["name"], f"{column['name']} missing"]
            else:
                names += [f"{column['name']}={'(missing)' if c is MISSING else c}" for c in column["categories"]]
        return names

    @property
    def width(self) -> int:
        return len(self.names)

    def record(self) -> dict:
        return {"columns": [dict(c) for c in self.columns], "width": self.width,
                "left_out": {name: why for name, why in self.left_out}}

    def transform(self, frame: pd.DataFrame, path: Path, rows: list[int]) -> np.ndarray:
        """The encoded rows of `frame` (text cells), float32 rows x width; `rows` are
        their data rows in `path`, for naming the line of a bad value."""
        parts = []
        for column in self.columns:
            cells = _cells(frame[column["name"]])
            if column["kind"] == NUMERIC:
                values = _numbers(cells, path, column["name"], rows)
                missing = np.isnan(values)
                filled = np.where(missing, column["median"], values)
                parts += [(filled - column["mean"]) / column["std"], missing.astype(np.float64)]
            else:
                for category in column["categories"]:
                    parts.append(cells.isna().to_numpy() if category is MISSING
                                 else (cells == category).to_numpy(dtype=bool))
        if not parts:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.column_stack([np.asarray(p, dtype=np.float64) for p in parts]).astype(np.float32)


def fit_encoding(frame: pd.DataFrame, columns: list[str], path: Path, rows: list[int] | None = None,
                 left_out: tuple = ()) -> TableEncoding:
    """The encoding of `columns`, fitted on `frame`'s rows (text cells as read from `path`)."""
    rows = list(range(len(frame))) if rows is None else rows
    fitted = []
    for name in columns:
        cells = _cells(frame[name])
        if column_kind(cells) == NUMERIC:
            values = _numbers(cells, path, name, rows)
            present = values[~np.isnan(values)]
            std = float(present.std()) if len(present) else 0.0
            fitted.append({"name": name, "kind": NUMERIC, "mean": float(present.mean()) if len(present) else 0.0,
                           "std": std if std > 0 else 1.0, "median": float(np.median(present)) if len(present) else 0.0})
        else:
            seen = sorted(set(cells.dropna()))
            fitted.append({"name": name, "kind": CATEGORICAL,
                           "categories": seen + ([MISSING] if cells.isna().any() else [])})
    return TableEncoding(tuple(fitted), tuple(left_out))


def column_kind(cells: pd.Series) -> str:
    """Numeric when at least half of the values present are numbers (the others are then mistakes)."""
    present = cells.dropna()
    numbers = pd.to_numeric(present, errors="coerce").notna().sum()
    return NUMERIC if len(present) and numbers * 2 >= len(present) else CATEGORICAL


def _cells(series: pd.Series) -> pd.Series:
    """Text cells, spaces around them dropped; empty ones missing (NaN)."""
    text = series.astype(object).where(series.notna(), None).map(lambda v: None if v is None else str(v).strip())
    return text.where(text != "", None).astype(object)


def _numbers(cells: pd.Series, path: Path, name: str, rows: list[int]) -> np.ndarray:
    values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64)
    text = np.flatnonzero(np.isnan(values) & cells.notna().to_numpy())
    if len(text):
        position = int(text[0])
        raise InputError(f"{path.name} line {file_line(path, rows[position])}, column {name}: "
                         f"{cells.iloc[position]!r} is not a number (the column is numeric: most of its values are "
                         "numbers; leave the cell empty for a missing value)")
    infinite = np.flatnonzero(np.isinf(values))
    if len(infinite):
        raise InputError(f"{path.name} line {file_line(path, rows[int(infinite[0])])}, column {name}: "
                         f"{cells.iloc[int(infinite[0])]!r} is not a finite number")
    return values


# ------------------------------------------------------------------ choosing


def choose_columns(spec: str, table: pd.DataFrame, labels_path: Path, taken: list[str],
                   test_header: list[str] | None, test_path: Path | None) -> tuple[list[str], list[tuple[str, str]]]:
    """(the columns to encode, [(column, why it was left out)]): the named ones (each
    must be in the labels CSV, not the id or a label, and in test.csv), or `auto`."""
    header = list(table.columns)
    if str(spec).strip().lower() != AUTO:
        named = [c.strip() for c in str(spec).split(",") if c.strip()]
        if not named:
            raise InputError("--tabular-columns: name the columns (a,b,c) or say auto")
        for name in named:
            if name not in header:
                raise InputError(f"--tabular-columns {name}: no such column in {labels_path.name} "
                                 f"(columns: {list_columns(header)})")
            if name in taken:
                raise InputError(f"--tabular-columns {name}: the id or label column of {labels_path.name}, "
                                 "not a table column")
            if test_header is not None and name not in test_header:
                raise InputError(f"--tabular-columns {name}: in {labels_path.name} but not in {test_path.name}, "
                                 "which the test images' rows come from")
        return list(dict.fromkeys(named)), []
    chosen, left_out = [], []
    for name in (c for c in header if c not in taken):
        cells = _cells(table[name])
        distinct = cells.nunique(dropna=False)
        if test_header is not None and name not in test_header:
            left_out.append((name, f"not in {test_path.name}"))
        elif distinct <= 1:
            left_out.append((name, "constant"))
        elif column_kind(cells) == CATEGORICAL and distinct == len(cells):
            left_out.append((name, "a different value on every row"))
        elif column_kind(cells) == CATEGORICAL and distinct > MAX_CATEGORIES:
            left_out.append((name, f"{distinct} categories: an identifier, at most {MAX_CATEGORIES} are one-hot"))
        else:
            chosen.append(name)
    if not chosen:
        why = "; ".join(f"{name}: {reason}" for name, reason in left_out) or "it holds only the id and label"
        raise InputError(f"--tabular-columns auto: no usable column in {labels_path.name} ({why})")
    return chosen, left_out


# ------------------------------------------------------------------ the test rows


def test_rows(test_csv: Path | None, test_ids: list[str], id_col: str, columns: list[str],
              describe) -> tuple[pd.DataFrame, list[int]]:
    """test.csv's rows of the test ids, in their order (the sample's), and their data
    rows in test.csv; an id may be spelled with or without its file extension."""
    if not test_ids:
        return pd.DataFrame({c: [] for c in columns}, dtype=object), []
    if test_csv is None:
        raise InputError("--tabular-columns: the test images' table columns come from test.csv, and there is none")
    header = read_header(test_csv)
    table = read_table(test_csv, text_columns=header)
    test_id = id_col if id_col in header else header[0]
    where = {}
    for row, value in enumerate(table[test_id].astype(str)):
        for key in {value, _stem(value)}:
            where.setdefault(key, row)
    rows = []
    for position, test_id_value in enumerate(test_ids):
        row = where.get(test_id_value, where.get(_stem(test_id_value)))
        if row is None:
            raise InputError(f"{describe(position)}: test id {test_id_value!r} has no row in {test_csv.name} "
                             f"(column {test_id}), which holds its table columns")
        rows.append(row)
    return table.iloc[rows].reset_index(drop=True), rows


def _stem(value: str) -> str:
    from kaggle_cnn.data.loaders.image_lookup import IMAGE_EXTENSIONS

    return value[: value.rfind(".")] if value.lower().endswith(IMAGE_EXTENSIONS) else value


def describe_encoding(encoding: TableEncoding) -> tuple[str, ...]:
    """What `kcnn data` says: the columns chosen and how, and the ones left out and why."""
    kinds = ", ".join(f"{c['name']} ({_kind(c)})" for c in encoding.columns)
    lines = [f"table: {len(encoding.columns)} column{'s' * (len(encoding.columns) != 1)} joined to the images, "
             f"{encoding.width} numbers a row: {kinds}"]
    if encoding.left_out:
        lines.append("table: left out " + "; ".join(f"{name} ({why})" for name, why in encoding.left_out))
    return tuple(lines)


def _kind(column: dict) -> str:
    if column["kind"] == NUMERIC:
        return "numeric"
    return f"{len(column['categories'])} categories"
