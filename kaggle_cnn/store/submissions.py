"""Submission CSVs: writing a run's own, reading vote members and checking them.

Members are read as text, so ids and labels come back exactly as written
("007" stays "007", "cat" stays "cat"); no TensorFlow here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kaggle_cnn import fileio
from kaggle_cnn.config import PROBABILITY_CLIP
from kaggle_cnn.errors import InputError, one_line


# What a submission holds, as the competition's sample submission shows it.
LABEL = "label"  # id,label: the predicted class
CLASS_COLUMNS = "class_columns"  # id,cat,dog: a probability per class, columns in the sample's order
PROBABILITY = "probability"  # id,label of a two-class task: the second class's probability
KINDS = (LABEL, CLASS_COLUMNS, PROBABILITY)


def submission_frame(header: Sequence[str], ids: Sequence[str], labels: Sequence) -> pd.DataFrame:
    id_column, label_column = header
    return pd.DataFrame({id_column: list(ids), label_column: list(labels)})


def write_submission(path: str | os.PathLike, header: Sequence[str], ids: Sequence[str], labels: Sequence) -> None:
    fileio.write_csv(path, submission_frame(header, ids, labels))


def write_predictions(path: str | os.PathLike, kind: str, header: Sequence[str], ids: Sequence[str],
                      classes: Sequence, proba: np.ndarray) -> None:
    """A submission of `proba` (rows x classes, in `classes` order) in the
    competition's layout: the top class's label, or probabilities."""
    if kind == LABEL:
        write_submission(path, header, ids, [classes[i] for i in np.asarray(proba).argmax(axis=1)])
        return
    clipped = np.clip(np.asarray(proba, dtype=np.float64), PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    position = {str(c): i for i, c in enumerate(classes)}
    if kind == CLASS_COLUMNS:
        columns = {column: clipped[:, position[column]] for column in header[1:]}
    else:
        columns = {header[1]: clipped[:, 1]}
    fileio.write_csv(path, pd.DataFrame({header[0]: list(ids), **columns}), float_format="%.6g")


@dataclass(frozen=True)
class Member:
    """One vote member: a submission CSV read as text."""

    path: Path
    header: tuple[str, ...]
    ids: np.ndarray  # str
    labels: np.ndarray  # str; for a probability member, the probability as written
    kind: str = LABEL  # KINDS
    proba: np.ndarray | None = None  # probability members: the values, columns in header order

    @property
    def name(self) -> str:
        return self.path.stem


def read_member(path: str | os.PathLike, option: str | None = None) -> Member:
    """A submission CSV (or a sample or answers file: `option` names the option that
    gave it, for the message), read as text."""
    path = Path(path)
    where = f"{option} {path}" if option else str(path)
    if not path.exists():
        raise InputError(f"{where}: no such file")
    if not path.is_file():
        raise InputError(f"{where}: a folder, not a CSV file" if path.is_dir() else f"{where}: not a regular file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{where}: empty file, not a submission") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InputError(f"{where}: not a readable CSV ({one_line(error, 120)})") from None
    if frame.shape[1] < 2:
        raise InputError(f"{where}: a submission has an id column and a label column (or one column per class), "
                         f"found {frame.shape[1]} column: {one_line(','.join(map(str, frame.columns)), 120)}")
    if frame.empty:
        raise InputError(f"{where}: header only, no rows")
    ids, header = frame.iloc[:, 0].to_numpy(dtype=str), tuple(map(str, frame.columns))
    if frame.shape[1] > 2:  # one probability column per class
        proba = _probabilities(path, frame)
        labels = np.asarray(header[1:], dtype=str)[proba.argmax(axis=1)]
        return Member(path, header, ids, labels, CLASS_COLUMNS, proba)
    labels = frame.iloc[:, 1].to_numpy(dtype=str)
    blank = np.flatnonzero(labels == "")
    if blank.size:
        raise InputError(f"{path} line {blank[0] + 2}, column {frame.columns[1]}: empty label")
    if _written_probabilities(labels):
        return Member(path, header, ids, labels, PROBABILITY, _probabilities(path, frame))
    return Member(path, header, ids, labels)


def _written_probabilities(values: np.ndarray) -> bool:
    """A single column of fractions (0.73, 1e-15), not labels: every value a number
    in [0, 1], and some of them not whole."""
    numbers = pd.to_numeric(pd.Series(values), errors="coerce")
    return bool(numbers.notna().all() and numbers.between(0, 1).all() and (numbers % 1 != 0).any())


def _probabilities(path: Path, frame: pd.DataFrame) -> np.ndarray:
    """The probability columns as numbers; one not in [0, 1] is named by line and column."""
    values = frame.iloc[:, 1:].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.argwhere(~((values >= 0) & (values <= 1)))  # NaN (not a number) fails too
    if len(bad):
        row, column = bad[0]
        raise InputError(f"{path} line {row + 2}, column {frame.columns[column + 1]}: "
                         f"{_q(frame.iat[row, column + 1])} is not a probability between 0 and 1")
    return values


def find_members(directory: str | os.PathLike) -> list[Path]:
    """Every *.csv directly in `directory`, by name. The ensemble/ sub-folder (the
    vote's own outputs) is never read back as members."""
    directory = Path(directory)
    if not directory.exists():
        raise InputError(f"{directory}: no such folder")
    if not directory.is_dir():
        raise InputError(f"{directory}: not a folder of submission CSVs")
    paths = sorted(p for p in directory.glob("*.csv") if p.is_file() and not p.name.startswith("."))
    if not paths:
        raise InputError(f"{directory}: no submission CSVs to vote on")
    return paths


def check_members(members: Sequence[Member]) -> None:
    """All members must share header, ids and id order with the first one."""
    first = members[0]
    for member in members[1:]:
        if member.header != first.header:
            raise InputError(
                f"{member.path}: header {','.join(member.header)} differs from {','.join(first.header)} in {first.path.name}"
            )
        if len(member.ids) != len(first.ids):
            raise InputError(f"{member.path}: {len(member.ids)} rows, but {first.path.name} has {len(first.ids)}")
        differ = np.flatnonzero(member.ids != first.ids)
        if differ.size:
            row = differ[0]
            raise InputError(
                f"{member.path} line {row + 2}: id {_q(member.ids[row])} differs from {_q(first.ids[row])} in {first.path.name}"
                " (members must list the same ids in the same order)"
            )


def check_same_ids(name: str, ids: Sequence[str], reference_ids: Sequence[str], reference: str) -> None:
    """Every id of the reference (a sample submission, the answers) listed, and no other."""
    listed = set(ids)
    missing = [i for i in reference_ids if i not in listed]
    if missing:
        raise InputError(f"{name}: id {_q(missing[0])} of {reference} is missing")
    expected = set(reference_ids)
    extra = [i for i in ids if i not in expected]
    if extra:
        raise InputError(f"{name}: id {_q(extra[0])} is not in {reference}")


def check_submission(
    name: str,
    header: Sequence[str],
    ids: np.ndarray,
    labels: np.ndarray,
    *,
    sample: Member | None = None,
    classes: Sequence[str] | None = None,
) -> None:
    """The checks a grader makes, raised as one InputError naming the first problem:
    header, row count, id set and order against the sample submission; unique ids;
    labels within the competition's classes."""
    ids, labels = np.asarray(ids, dtype=str), np.asarray(labels, dtype=str)
    seen: dict[str, int] = {}
    for row, value in enumerate(ids):
        if value in seen:
            raise InputError(f"{name} line {row + 2}: id {_q(value)} repeats line {seen[value] + 2}")
        seen[value] = row
    if sample is not None:
        if tuple(header) != tuple(sample.header):
            raise InputError(f"{name}: header {','.join(header)} differs from {','.join(sample.header)} in {sample.path.name}")
        check_same_ids(name, ids, sample.ids, sample.path.name)
        differ = np.flatnonzero(ids != sample.ids)
        if differ.size:
            row = differ[0]
            raise InputError(
                f"{name} line {row + 2}: id {_q(ids[row])} where {sample.path.name} has "
                f"{_q(sample.ids[row])} (same ids, different order)"
            )
    if classes is not None and len(header) > 2:
        names = sorted(map(str, classes))
        if sorted(header[1:]) != names:
            raise InputError(f"{name}: columns {','.join(header[1:])} are not one per class "
                             f"({','.join(names[:10])}{', ...' if len(names) > 10 else ''})")
    elif classes is not None and not kind_of(labels) == PROBABILITY:
        allowed = set(map(str, classes))
        outside = np.flatnonzero(~np.isin(labels, list(allowed)))
        if outside.size:
            row = outside[0]
            raise InputError(f"{name} line {row + 2}: label {_q(labels[row])} is not one of the {len(allowed)} classes")


def kind_of(values: np.ndarray) -> str:
    """LABEL, or PROBABILITY for a column of fractions."""
    return PROBABILITY if _written_probabilities(np.asarray(values, dtype=str)) else LABEL


def _q(value) -> str:
    """A label or id quoted as plain text ('987', never np.str_('987')), cut when long."""
    return repr(one_line(str(value), 60))


def sorted_labels(labels: np.ndarray) -> list[str]:
    """Distinct labels in their natural order: numeric when they all are numbers,
    else alphabetical. This order is what 'the smallest label' means in a tie."""
    distinct = list(np.unique(labels))
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return sorted(distinct)


