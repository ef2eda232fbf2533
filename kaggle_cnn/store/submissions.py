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
from kaggle_cnn.labels import normalise_labels

# What a submission holds, as the competition's sample submission shows it.
LABEL = "label"  # id,label: the predicted class
CLASS_COLUMNS = "class_columns"  # id,cat,dog: a probability per class, columns in the sample's order
PROBABILITY = "probability"  # id,label of a two-class task: the second class's probability
TAGS = "tags"  # id,tags of a multi-label task: the labels that apply, joined by spaces
TOP_K = "top_k"  # id,label holding the K likeliest labels, space-separated, likeliest first (MAP@K)
VALUE = "value"  # id,target: one number per id (regression), or a whole grade (ordinal)
KINDS = (LABEL, CLASS_COLUMNS, PROBABILITY, TAGS, TOP_K, VALUE)


def submission_frame(header: Sequence[str], ids: Sequence[str], labels: Sequence) -> pd.DataFrame:
    id_column, label_column = header
    return pd.DataFrame({id_column: list(ids), label_column: list(labels)})


def write_submission(path: str | os.PathLike, header: Sequence[str], ids: Sequence[str], labels: Sequence) -> None:
    fileio.write_csv(path, submission_frame(header, ids, labels))


def write_predictions(path: str | os.PathLike, kind: str, header: Sequence[str], ids: Sequence[str],
                      classes: Sequence, proba: np.ndarray, thresholds: float | np.ndarray = 0.5,
                      top_k: int | None = None, grading: dict | None = None) -> None:
    """A submission of `proba` (rows x classes, in `classes` order) in the
    competition's layout: the top class's label, the `top_k` likeliest labels
    (TOP_K), probabilities, or (multi-label) the tags whose probability reaches its
    threshold (`thresholds`: one, or one per class). VALUE: `proba` is one column of
    numbers, written as they are, or with `grading` ({low, high[, cut_points]}) as
    whole grades (`grades`)."""
    if kind == VALUE:
        values = np.asarray(proba, dtype=np.float64)[:, 0]
        written = grades(values, **grading) if grading else np.round(values, 6)
        write_submission(path, header, ids, written.tolist())
        return
    if kind == TAGS:
        write_submission(path, header, ids, tag_strings(proba, classes, thresholds))
        return
    if kind == LABEL:
        write_submission(path, header, ids, [classes[i] for i in np.asarray(proba).argmax(axis=1)])
        return
    if kind == TOP_K:
        ranked = top_classes(proba, top_k)
        write_submission(path, header, ids, [" ".join(str(classes[i]) for i in row) for row in ranked])
        return
    clipped = np.clip(np.asarray(proba, dtype=np.float64), PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    position = {str(c): i for i, c in enumerate(classes)}
    if kind == CLASS_COLUMNS:
        columns = {column: clipped[:, position[column]] for column in header[1:]}
    else:
        columns = {header[1]: clipped[:, 1]}
    fileio.write_csv(path, pd.DataFrame({header[0]: list(ids), **columns}), float_format="%.6g")


def grades(values: np.ndarray, low: int, high: int, cut_points: Sequence[float] | None = None) -> np.ndarray:
    """Whole grades low..high of numeric predictions: each rounded to the nearest,
    or with `cut_points` (ascending, one between each two grades) the grade whose
    interval holds it: low below the first cut-point, low + 1 up to the second, ..."""
    values = np.asarray(values, dtype=np.float64)
    if cut_points is None:
        return np.clip(np.round(values), low, high).astype(np.int64)
    return (int(low) + np.searchsorted(np.asarray(cut_points, dtype=np.float64), values, side="right")).astype(np.int64)


def decisions(proba: np.ndarray, thresholds: float | np.ndarray = 0.5) -> np.ndarray:
    """Multi-label decisions as a submission writes them: each label at or above its
    threshold (one, or one per label), and where none is, the likeliest label alone:
    graders that average a score over images (Planet's F2) give an empty row 0."""
    proba = np.asarray(proba, dtype=np.float64)
    chosen = proba >= np.asarray(thresholds, dtype=np.float64)
    if len(proba):
        chosen[np.arange(len(proba)), proba.argmax(axis=1)] |= ~chosen.any(axis=1)
    return chosen


def tag_strings(proba: np.ndarray, classes: Sequence, thresholds: float | np.ndarray = 0.5) -> list[str]:
    """Each row's decided labels (`decisions`), joined by spaces in the classes' order."""
    names = [str(c) for c in classes]
    return [" ".join(n for n, on in zip(names, row) if on) for row in decisions(proba, thresholds)]
def top_classes(proba: np.ndarray, k: int) -> np.ndarray:
    """rows x k class indices, likeliest first (ties: the lower class index first):
    what a top-k row lists, and what MAP@K scores."""
    return np.argsort(-np.asarray(proba, dtype=np.float64), axis=1, kind="stable")[:, :k]


@dataclass(frozen=True)
class Member:
    """One vote member: a submission CSV read as text."""

    path: Path
    header: tuple[str, ...]
    ids: np.ndarray  # str
    labels: np.ndarray  # str; for a probability member, the probability as written
    kind: str = LABEL  # KINDS
    proba: np.ndarray | None = None  # probability members: the values, columns in header order
    ranked: np.ndarray | None = None  # TOP_K members: rows x K labels, likeliest first (labels: the first)

    @property
    def name(self) -> str:
        return self.path.stem


def read_member(path: str | os.PathLike, option: str | None = None, *, labels_only: bool = False,
                tags: bool = False, columns: tuple[str, str] | None = None) -> Member:
    """A submission CSV (or a sample or answers file: `option` names the option that
    gave it, for the message), read as text, labels normalised (kaggle_cnn.labels).
    `labels_only`: the file must be id,label (an answers file), never probabilities.
    `tags`: a multi-label file, whose space-separated labels are a set, never a
    ranked top-k answer (even when every row holds as many). `columns`: the (id,
    label) columns to read when the file holds both among others (Hotel-ID's
    answers: image,chain,hotel_id)."""
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
    if columns is not None and frame.shape[1] > 2 and set(columns) <= set(frame.columns):
        frame = frame[list(columns)]
    ids, header = frame.iloc[:, 0].to_numpy(dtype=str), tuple(map(str, frame.columns))
    if labels_only and frame.shape[1] > 2:
        raise InputError(f"{where}: column {one_line(header[2], 60)!r} is one too many: answers are an id column "
                         f"and a label column ({','.join(header[:2])})")
    if frame.shape[1] > 2:  # one probability column per class
        proba = _probabilities(path, frame)
        labels = np.asarray(header[1:], dtype=str)[proba.argmax(axis=1)]
        return Member(path, header, ids, labels, CLASS_COLUMNS, proba)
    labels = frame.iloc[:, 1].to_numpy(dtype=str)
    if not labels_only and _written_probabilities(labels):
        return Member(path, header, ids, labels, PROBABILITY, _probabilities(path, frame))
    labels = np.array(normalise_labels(labels), dtype=str)
    blank = np.flatnonzero(labels == "")
    if blank.size:
        raise InputError(f"{path} line {blank[0] + 2}, column {frame.columns[1]}: empty label")
    ranked = None if labels_only or tags else _ranked(labels)
    if ranked is not None:
        return Member(path, header, ids, ranked[:, 0], TOP_K, ranked=ranked)
    return Member(path, header, ids, labels)


def _ranked(labels: np.ndarray) -> np.ndarray | None:
    """rows x K labels when every cell holds the same number K >= 2 of
    space-separated labels (a top-k submission), else None."""
    split = [cell.split() for cell in labels]
    k = len(split[0])
    if k < 2 or any(len(row) != k for row in split):
        return None
    return np.array([normalise_labels(row) for row in split], dtype=str)


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
        # With more than two columns the file may be an id,label file with a column too many.
        layout = (f" (with {frame.shape[1]} columns it is read as an id and one probability column per class; "
                  "an id,label file has 2)") if frame.shape[1] > 2 else ""
        raise InputError(f"{path} line {row + 2}, column {frame.columns[column + 1]}: "
                         f"{_q(frame.iat[row, column + 1])} is not a probability between 0 and 1{layout}")
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


def check_members(members: Sequence[Member], classes: Sequence[str] | None = None) -> None:
    """Every member checked by check_submission against the first one: the same
    header, ids and id order, and (with `classes`) labels among them."""
    for member in members:
        check_submission(member, sample=members[0] if member is not members[0] else None, classes=classes)


def check_submission(
    member: Member,
    *,
    sample: Member | None = None,
    classes: Sequence[str] | None = None,
    name: str | None = None,
    reference: str | None = None,
    same_order: bool = True,
) -> None:
    """The one check of a submission, vote member or answers file, as a grader makes
    it, raised as one InputError naming the first problem: unique ids; against
    `sample` (a sample submission, the first vote member, the answers) the header,
    the id set and, when `same_order`, the id order; labels (or class columns)
    within `classes`. `name` and `reference` name the file and the sample in messages."""
    name = name or str(member.path)
    ids = np.asarray(member.ids, dtype=str)
    seen: dict[str, int] = {}
    for row, value in enumerate(ids):
        if value in seen:
            raise InputError(f"{name} line {row + 2}: id {_q(value)} repeats line {seen[value] + 2}")
        seen[value] = row
    if sample is not None:
        _check_against(name, member, sample, reference or sample.path.name, same_order)
        if sample.kind == PROBABILITY and member.kind == LABEL:  # 0s and 1s are probabilities too; 1.2 is not
            probabilities(member, name, f"{reference or sample.path.name} holds probabilities")
            return
        if sample.kind == TOP_K:
            _check_top_k(name, member, sample.ranked.shape[1], reference or sample.path.name)
    if classes is None:
        return
    names = [str(c) for c in classes]
    if member.kind == CLASS_COLUMNS:
        if sorted(member.header[1:]) != sorted(names):
            raise InputError(f"{name}: columns {','.join(member.header[1:])} are not one per class "
                             f"({_few(sorted(names))})")
    elif member.kind in (LABEL, TOP_K):
        labels = member.labels if member.ranked is None else member.ranked
        outside = np.argwhere(~np.isin(labels, names).reshape(len(labels), -1))
        if outside.size:
            row, position = outside[0]
            label = labels[row] if member.ranked is None else labels[row, position]
            raise InputError(f"{name} line {row + 2}: label {_q(label)} is not one of the "
                             f"{len(names)} classes ({_few(names)})")


def probabilities(member: Member, name: str, why: str) -> np.ndarray:
    """A one-column member's values as probabilities (a column of 0s and 1s is read
    as labels, yet graders of ROC AUC and log-loss take it); a value that is not a
    number in [0, 1] is refused, naming its line and column, and `why` it must be."""
    if member.kind == PROBABILITY:
        return member.proba[:, 0]
    values = pd.to_numeric(pd.Series(member.labels), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~((values >= 0) & (values <= 1)))
    if bad.size:
        row = bad[0]
        raise InputError(f"{name} line {row + 2}, column {member.header[1]}: {_q(member.labels[row])} is not a "
                         f"probability between 0 and 1 ({why})")
    return values
def _check_top_k(name: str, member: Member, k: int, reference: str) -> None:
    """Each row of a top-k submission holds k distinct labels, as the sample's rows do."""
    held = 1 if member.ranked is None else member.ranked.shape[1]
    if member.kind not in (LABEL, TOP_K) or held != k:
        what = f"{held} label{'s' * (held != 1)} a row" if member.kind in (LABEL, TOP_K) else "probabilities"
        raise InputError(f"{name}: holds {what}; {reference} asks for {k} space-separated labels a row, "
                         "likeliest first")
    for row, labels in enumerate(member.ranked):
        if len(set(labels)) != k:
            repeated = next(label for label in labels if list(labels).count(label) > 1)
            raise InputError(f"{name} line {row + 2}: label {_q(repeated)} is listed twice; the {k} labels of a "
                             "row are distinct")


def _check_against(name: str, member: Member, sample: Member, reference: str, same_order: bool) -> None:
    """Header, id set and (when `same_order`) id order of `member` against `sample`."""
    if same_order and tuple(member.header) != tuple(sample.header):
        raise InputError(f"{name}: header {','.join(member.header)} differs from {','.join(sample.header)} "
                         f"in {reference}")
    ids, reference_ids = np.asarray(member.ids, dtype=str), np.asarray(sample.ids, dtype=str)
    same_set = set(ids) == set(reference_ids)
    if same_order and len(ids) == len(reference_ids):
        differ = np.flatnonzero(ids != reference_ids)
        if differ.size:
            row = differ[0]
            why = "same ids, different order" if same_set else "the same ids in the same order are needed"
            raise InputError(f"{name} line {row + 2}: id {_q(ids[row])} differs from {_q(reference_ids[row])} in "
                             f"{reference} ({why})")
    if not same_set:
        rows = f" ({len(ids)} rows, {len(reference_ids)} in {reference})" if len(ids) != len(reference_ids) else ""
        listed = set(ids)
        missing = [i for i in reference_ids if i not in listed]
        if missing:
            raise InputError(f"{name}: id {_q(missing[0])} of {reference} is missing{rows}")
        expected = set(reference_ids)
        extra = next(i for i in ids if i not in expected)
        raise InputError(f"{name}: id {_q(extra)} is not in {reference}{rows}")


def _few(names: Sequence[str]) -> str:
    return ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")


def _q(value) -> str:
    """A label or id quoted as plain text ('987', never np.str_('987')), cut when long."""
    return repr(one_line(str(value), 60))
