"""The competition's sample submission: its header, what a submission holds (a
label, a probability per class, one probability column, or the K likeliest
labels), and the test ids in the order and spelling the grader expects. Every
loader with a test set reads it the same way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kaggle_cnn.data.loaders.csv_files import cell_error, list_columns, reading
from kaggle_cnn.errors import InputError
from kaggle_cnn.labels import normalise_label

SAMPLE_NAME = "sample_submission.csv"
# A labels CSV's competition may name its sample otherwise (Planet: sample_submission_v2.csv).
SAMPLE_NAMES = (SAMPLE_NAME, "sample_submission_v2.csv")


def find_sample(folder: Path) -> Path | None:
    """The competition folder's sample submission, by any of its usual names."""
    from kaggle_cnn.data.loaders.csv_files import find_file

    return next((found for name in SAMPLE_NAMES if (found := find_file(folder, name))), None)


@dataclass(frozen=True)
class Sample:
    path: Path
    header: tuple[str, ...]  # (id column, label column) or (id column, a column per class)
    kind: str  # kaggle_cnn.store.submissions' layouts: "label", "class_columns", "probability", "tags", "top_k"
    ids: list[str]  # as written, in order
    top_k: int | None = None  # "top_k": how many space-separated labels a row holds

    def cell(self, row: int, problem: str) -> str:
        """A one-line message about the id on data row `row`."""
        return cell_error(self.path, row, self.header[0], problem)

    def row(self, row: int) -> str:
        """Where the id of data row `row` is, for messages: "sample_submission.csv line 3, column id"."""
        return self.cell(row, "").rstrip(": ")


def read_sample(path: Path, classes: list, *, id_column: str | None = None, ids_from: str | None = None,
                multi_label: bool = False) -> Sample:
    """Read and check a sample submission. Its id column is `id_column` when given
    (the test file's), else its first column; ids must be present and unique.
    `multi_label`: one label column holds space-separated tags, each one of `classes`."""
    with reading(path):
        sample = pd.read_csv(path, dtype=str, index_col=False, keep_default_na=False)
    columns = [str(c) for c in sample.columns]
    if len(columns) < 2:
        raise InputError(f"{path.name}: needs an id and a label column (columns: {list_columns(columns)})")
    sample_id = id_column if id_column is not None else columns[0]
    if sample_id not in columns:
        raise InputError(f"{path.name}: no id column {sample_id!r} as in {ids_from} (columns: {list_columns(columns)})")
    ids = sample[sample_id].astype(object).tolist()
    if not ids:
        raise InputError(f"{path.name}: no data rows after the header")
    seen: set[str] = set()
    for row, sid in enumerate(ids):
        if sid == "":
            raise InputError(cell_error(path, row, sample_id, "missing id"))
        if sid in seen:
            raise InputError(cell_error(path, row, sample_id, f"duplicate id {sid!r}"))
        seen.add(sid)
    # Writers emit the id first even where the sample has it elsewhere.
    label_col = next(c for c in columns if c != sample_id)
    header, kind = sample_layout(path, sample, sample_id, label_col, classes)
    if multi_label and kind != "class_columns":  # tags first: a multi-label row is never a ranked answer
        check_tags(path, sample[label_col].tolist(), label_col, classes, "never occurs in training")
        return Sample(path, header, "tags", [str(i) for i in ids])
    top_k = answers_per_row(sample[label_col], classes) if kind == "label" else None
    return Sample(path, header, "top_k" if top_k else kind, [str(i) for i in ids], top_k)


def answers_per_row(values: pd.Series, classes: list) -> int | None:
    """K when every cell holds the same number K >= 2 of space-separated labels and
    no class has a space in its name: a top-K answer (whale-categorization's
    "new_whale w_1287fbc w_98baff9 w_7554f44 w_1eafe46"); else None."""
    if any(" " in str(c) for c in classes):
        return None
    counts = values.astype(str).str.split().map(len)
    return int(counts.iloc[0]) if len(counts) and counts.iloc[0] >= 2 and (counts == counts.iloc[0]).all() else None


def sample_layout(sample_path: Path, sample: pd.DataFrame, sample_id: str, label_col: str,
                   classes: list) -> tuple[tuple[str, ...], str]:
    """What a submission holds, as the sample shows it: one column per class
    (probabilities), one probability column of a two-class task (the second
    class's, as graders of ROC AUC and log-loss read it), or a label."""
    others = [str(c) for c in sample.columns if str(c) != sample_id]
    names = [str(c) for c in classes]
    if len(others) > 1:
        if sorted(others) != sorted(names):
            raise InputError(
                f"{sample_path.name}: columns {list_columns(others)} are neither one label column nor one "
                f"column per class (the classes are {list_columns(names)})")
        return (sample_id, *others), "class_columns"
    values = sample[label_col].map(normalise_label)
    if len(names) == 2 and len(values) and not values.isin(names).all():
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().all() and numbers.between(0, 1).all():
            return (sample_id, label_col), "probability"
    return (sample_id, label_col), "label"


def check_tags(path: Path, cells: list, column: str, classes: list, why: str) -> None:
    """Every space-separated tag in `cells` is one of `classes`; the first that is
    not is named by file, line and column."""
    known = {str(c) for c in classes}
    for row, cell in enumerate(cells):
        unknown = [tag for tag in (normalise_label(t) for t in str(cell).split()) if tag not in known]
        if unknown:
            raise InputError(cell_error(path, row, column, f"tag {unknown[0]!r} {why} (tags: "
                                        f"{list_columns(sorted(known))})"))
