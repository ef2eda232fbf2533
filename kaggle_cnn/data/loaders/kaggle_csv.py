"""Load a Kaggle-style competition folder: train.csv, test.csv, sample_submission.csv.

Files may be gzip-compressed (train.csv.gz ...). Everything wrong with the input
becomes a one-line InputError naming the file, line (header = line 1) and column,
because the person fixing it is looking at that file in an editor.

Speed: the happy path is one pandas C-parser read per file plus vectorised
checks; the exact failing line and column are only worked out after a check fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from kaggle_cnn.data.dataset import Dataset, ImageShape, resolve_image_shape
from kaggle_cnn.data.loaders.csv_files import (
    cell_error,
    file_line,
    find_file,
    list_columns,
    read_header,
    read_table,
)
from kaggle_cnn.data.loaders.pixel_scale import scale_to_unit
from kaggle_cnn.data.loaders.sample import SAMPLE_NAME, read_sample
from kaggle_cnn.errors import InputError
from kaggle_cnn.labels import normalise_labels

LABEL_CANDIDATES = ("label", "Label", "LABEL", "target", "class")
ID_CANDIDATES = ("id", "Id", "ID", "ImageId", "image_id")
DEFAULT_ID_HEADER = "ImageId"

_PIXEL_RE = re.compile(r"pixel(\d+)")
_CANONICAL_INT = re.compile(r"0|-?[1-9]\d{0,17}")  # fits int64, round-trips via str(int)


def load_kaggle_folder(
    folder: Path,
    *,
    label_column: str | None = None,
    id_column: str | None = None,
    image_shape: ImageShape | None = None,
    source: str,
) -> Dataset:
    """Read and validate a competition folder into a Dataset."""
    train_path = _require(folder, "train.csv")
    test_path = _require(folder, "test.csv")
    sample_path = find_file(folder, SAMPLE_NAME)

    train_header = read_header(train_path)
    test_header = read_header(test_path)
    label = _pick_label_column(train_path, train_header, label_column)
    id_col = _pick_id_column(test_path, test_header, id_column)
    not_pixels = {label} | ({id_col} if id_col else set())
    train_pixels = _pixel_columns(train_header, not_pixels)
    test_pixels = _pixel_columns(test_header, not_pixels)
    test_pixels = _match_pixel_columns(train_path, train_pixels, test_path, test_pixels)
    shape = resolve_image_shape(len(train_pixels), image_shape, train_path.name)

    train = read_table(train_path, text_columns=[label])
    test = read_table(test_path, text_columns=[id_col] if id_col else [])
    _require_rows(train_path, train)
    _require_rows(test_path, test)
    x_train = _pixel_matrix(train_path, train, train_pixels)
    x_test = _pixel_matrix(test_path, test, test_pixels)
    classes, y_train = encode_labels(train_path, train, label)
    test_ids = read_ids(test_path, test, id_col)
    header, kind, top_k = (id_col or DEFAULT_ID_HEADER, label), "label", None

    if sample_path is not None:
        header, kind, top_k, order = _sample_order(sample_path, id_col, test_path, test_ids, classes)
        x_test = x_test[order]
        test_ids = [test_ids[i] for i in order]

    return Dataset(
        x_train=x_train.reshape((len(x_train), *shape)),
        y_train=y_train,
        classes=classes,
        x_test=np.ascontiguousarray(x_test).reshape((len(x_test), *shape)),
        test_ids=test_ids,
        submission_header=header,
        submission_kind=kind,
        top_k=top_k,
        source=source,
        kind="kaggle_csv",
    )


def kaggle_classes(folder: Path, *, label_column: str | None = None) -> list:
    """The classes, read from train.csv's label column alone (no pixel is parsed)."""
    train_path = _require(folder, "train.csv")
    label = _pick_label_column(train_path, read_header(train_path), label_column)
    train = read_table(train_path, text_columns=[label], only=[label])
    _require_rows(train_path, train)
    return encode_labels(train_path, train, label)[0]


# ----------------------------------------------------------------- files


def _require(folder: Path, name: str) -> Path:
    found = find_file(folder, name)
    if found is None:
        raise InputError(
            f"{folder}: no {name} or {name}.gz (a competition folder needs train.csv and test.csv)"
        )
    return found


def _require_rows(path: Path, table: pd.DataFrame) -> None:
    if len(table) == 0:
        raise InputError(f"{path.name}: no data rows after the header")


# --------------------------------------------------------------- columns


def _pick_label_column(path: Path, header: list[str], wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in header:
            raise InputError(
                f"{path.name}: no label column {wanted!r} (columns: {list_columns(header)})"
            )
        return wanted
    for candidate in LABEL_CANDIDATES:
        if candidate in header:
            return candidate
    raise InputError(
        f"{path.name}: no label column (looked for {', '.join(LABEL_CANDIDATES)}; "
        f"columns: {list_columns(header)}); pass --label-column"
    )


def _pick_id_column(path: Path, header: list[str], wanted: str | None) -> str | None:
    if wanted is not None:
        if wanted not in header:
            raise InputError(
                f"{path.name}: no id column {wanted!r} (columns: {list_columns(header)})"
            )
        return wanted
    return next((c for c in ID_CANDIDATES if c in header), None)


def _pixel_columns(header: list[str], exclude: set[str]) -> list[str]:
    """pixelN columns in numeric order if the file has any, else every remaining column."""
    numbered = [c for c in header if _PIXEL_RE.fullmatch(c) and c not in exclude]
    if numbered:
        return sorted(numbered, key=lambda c: (int(_PIXEL_RE.fullmatch(c).group(1)), c))
    return [c for c in header if c not in exclude]


def _match_pixel_columns(
    train_path: Path, train_cols: list[str], test_path: Path, test_cols: list[str]
) -> list[str]:
    """Test pixel columns in train's order; the same names must be present in both."""
    if not train_cols:
        raise InputError(f"{train_path.name}: no pixel columns besides the label")
    if set(train_cols) == set(test_cols):
        return train_cols
    missing = next((c for c in train_cols if c not in set(test_cols)), None)
    extra = next((c for c in test_cols if c not in set(train_cols)), None)
    detail = (
        f"{missing!r} is missing from {test_path.name}"
        if missing is not None
        else f"{extra!r} is not in {train_path.name}"
    )
    raise InputError(
        f"{train_path.name} has {len(train_cols)} pixel columns but {test_path.name} has "
        f"{len(test_cols)}; they must match ({detail})"
    )


# ---------------------------------------------------------------- pixels


def _pixel_matrix(path: Path, table: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Validated float32 (rows, pixels) matrix in [0, 1], scaled by this file's own values."""
    pixels = _numeric_pixels(path, table, columns)
    x = pixels.to_numpy(dtype=np.float32)
    bad = np.isnan(x)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputError(cell_error(path, row, columns[col], "missing value"))
    bad = (x < 0) | (x > 255)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        value = pixels.iloc[row, col]
        raise InputError(cell_error(path, row, columns[col], f"value {value} is outside 0..255"))
    scale_to_unit(x, lambda index, problem: cell_error(path, index[0], columns[index[1]], problem))
    return x


def _numeric_pixels(path: Path, table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The pixel columns as numbers.

    A column the C parser did not read as numbers holds text somewhere: report the
    first such cell in file order, or convert the column if pandas can after all.
    """
    pixels = table[columns]
    suspects = [i for i, dtype in enumerate(pixels.dtypes) if dtype.kind not in "iuf"]
    if not suspects:
        return pixels
    worst: tuple[int, int, str] | None = None
    converted: dict[str, pd.Series] = {}
    for position in suspects:
        text = pixels.iloc[:, position].astype(object)
        if pixels.dtypes.iloc[position].kind == "b":  # True/False parsed as booleans
            numbers = pd.Series(np.nan, index=text.index)
        else:
            numbers = pd.to_numeric(text, errors="coerce")
        rows = np.flatnonzero((numbers.isna() & text.notna()).to_numpy())
        if len(rows) and (worst is None or (rows[0], position) < worst[:2]):
            worst = (int(rows[0]), position, str(text.iloc[rows[0]]))
        converted[columns[position]] = numbers
    if worst is not None:
        row, position, value = worst
        raise InputError(cell_error(path, row, columns[position], f"{value!r} is not a number"))
    return pixels.assign(**converted)


# ------------------------------------------------------------ labels, ids


def encode_labels(path: Path, table: pd.DataFrame, column: str) -> tuple[list, np.ndarray]:
    """Sorted class values and int64 indices.

    Labels are read as text and normalised (kaggle_cnn.labels: `7.0` is `7`); they
    become ints only when every one is a canonical integer, so writing str(value)
    later reproduces the normalised text exactly.
    """
    text = table[column]
    missing = np.flatnonzero(text.isna().to_numpy())
    if len(missing):
        raise InputError(cell_error(path, missing[0], column, "missing label"))
    text = np.array(normalise_labels(text), dtype=object)
    blank = np.flatnonzero(text == "")
    if len(blank):
        raise InputError(cell_error(path, blank[0], column, "missing label (only spaces)"))
    uniques, inverse = np.unique(text, return_inverse=True)
    if all(_CANONICAL_INT.fullmatch(u) for u in uniques):
        values = np.array([int(u) for u in uniques], dtype=np.int64)
        order = np.argsort(values, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        classes: list = [int(v) for v in values[order]]
        y = rank[inverse]
    else:
        classes = [str(u) for u in uniques]
        y = inverse
    if len(classes) < 2:
        raise InputError(
            f"{path.name}: column {column} has only {len(classes)} class "
            f"({classes[0]!r}); need at least 2"
        )
    return classes, np.asarray(y, dtype=np.int64).reshape(-1)


def read_ids(path: Path, table: pd.DataFrame, column: str | None) -> list[str]:
    """Ids as exact text; without an id column they are row numbers 1..m."""
    if column is None:
        return [str(i) for i in range(1, len(table) + 1)]
    ids = table[column]
    missing = np.flatnonzero(ids.isna().to_numpy())
    if len(missing):
        raise InputError(cell_error(path, missing[0], column, "missing id"))
    values = [str(v) for v in ids.tolist()]
    duplicated = np.flatnonzero(ids.duplicated().to_numpy())
    if len(duplicated):
        row = int(duplicated[0])
        raise InputError(cell_error(path, row, column, f"duplicate id {values[row]!r}"))
    return values


def _sample_order(
    sample_path: Path, id_col: str | None, test_path: Path, test_ids: list[str], classes: list
) -> tuple[tuple[str, ...], str, int | None, list[int]]:
    """Submission header, its kind (kaggle_cnn.store.submissions' layouts), the labels a top-k row holds, and the
    permutation putting test rows in the sample's id order."""
    sample = read_sample(sample_path, classes, id_column=id_col, ids_from=test_path.name)
    position = {tid: i for i, tid in enumerate(test_ids)}
    order: list[int] = []
    for row, sid in enumerate(sample.ids):
        if sid not in position:
            raise InputError(sample.cell(row, f"id {sid!r} is not in {test_path.name}"))
        order.append(position[sid])
    if len(order) != len(test_ids):
        seen = set(sample.ids)
        row = next(i for i, tid in enumerate(test_ids) if tid not in seen)
        raise InputError(
            f"{sample_path.name}: lacks id {test_ids[row]!r} from {test_path.name} "
            f"line {file_line(test_path, row)}"
        )
    return sample.header, sample.kind, sample.top_k, order
