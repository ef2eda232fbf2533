"""The members of a vote, gathered: each submission CSV with, when it is a kept
run's own, the run's stored test probabilities and its honest validation
predictions, aligned in one class order on the training rows every member has.

A member that is a kept run's own CSV (byte for byte, or the same ids and labels
as models/<id>/submission.csv) brings that run's stored probabilities; a CSV
written as probabilities brings its own; any other CSV brings labels only.
No TensorFlow here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kaggle_cnn.errors import InputError, one_line
from kaggle_cnn.labels import sorted_labels
from kaggle_cnn.store.files import file_sha256
from kaggle_cnn.store.run import Run
from kaggle_cnn.store.submissions import PROBABILITY, Member
from kaggle_cnn.store.validation import describe_rows, honest_predictions
from kaggle_cnn.store.workspace import Workspace


@dataclass
class Pool:
    """The members after filtering, as arrays in one class order."""

    members: list[Member]
    runs: list[Run | None]  # the run whose stored predictions belong to the member, or None
    classes: list[str]
    votes: np.ndarray  # (members, test rows) class indices
    proba: list[np.ndarray | None]  # test probabilities per member
    val: "Validation | None"
    lacking: list[str | None]  # per member, why it has no test probabilities (None: it has them)
    val_note: str | None = None  # why there are no validation predictions
    notices: list[str] | None = None  # warnings to give once the vote goes ahead


@dataclass
class Validation:
    """The training rows where every member has honest predictions (hold-out, or out of fold)."""

    fingerprint: str
    rows: np.ndarray  # training-row numbers
    votes: np.ndarray  # (members, rows)
    proba: list[np.ndarray]
    truth: np.ndarray  # class indices in the pool's order
    description: str  # which rows these are, as printouts say


def gather(workspace: Workspace, directory: Path, *, model: str | None = None, tta: bool = False,
           across_data: bool = False) -> Pool:
    """The members in `directory`, checked: the same header, ids and id order, labels
    among their runs' classes, and (unless `across_data`) runs on the same data."""
    from kaggle_cnn.store.submissions import check_members, find_members, read_member

    members = [read_member(path) for path in find_members(directory)]
    kept = set(workspace.run_ids())
    found = [_member_run(workspace, m, kept) for m in members]
    runs, lacking = [run for run, _, _ in found], [why for _, why, _ in found]
    notices = [f"{why}: voted as labels only" for _, why, told in found if told]
    if model is not None:
        chosen = [i for i, r in enumerate(runs) if r is not None and r.record["model"] == model]
        if not chosen:
            raise InputError(f"{directory}: no member is a kept run of model {model}")
        members, runs, lacking = [members[i] for i in chosen], [runs[i] for i in chosen], [lacking[i] for i in chosen]
        notices = []  # the members left are all runs' own CSVs
    _check_same_classes(members, runs)
    check_members(members, run_classes(runs))
    if not across_data:
        _check_same_data(members, runs)
    if members[0].kind == PROBABILITY:
        members = _binary_labels(members, runs, directory)

    suffix = "_tta" if tta else ""
    test_proba = []
    for i, run in enumerate(runs):
        proba, why = _stored(run, f"test_proba{suffix}.npy", len(members[0].ids), "test") if run else (None, None)
        test_proba.append((proba, run.classes) if proba is not None else None)
        if run is not None and why is not None:
            lacking[i] = why
            if not tta:  # without --tta a run's CSV still votes; under --tta, require() refuses
                notices.append(f"{why}: {members[i].path.name} voted as labels only")
        if test_proba[i] is None and members[i].proba is not None and not tta:  # a probability CSV brings its own
            test_proba[i], lacking[i] = _written(members[i], runs), None
    run_labels = [np.array(r.classes, dtype=str) for r in runs if r]
    classes = sorted_labels(np.concatenate([m.labels for m in members] + run_labels))
    position = {label: i for i, label in enumerate(classes)}
    proba = [_aligned(p[0], p[1], position) if p is not None else None for p in test_proba]
    if tta:  # a member's vote is its own augmented prediction, not its CSV
        votes = np.array([p.argmax(axis=1) if p is not None else np.zeros(len(members[0].ids), int) for p in proba])
    else:
        votes = np.array([[position[label] for label in m.labels] for m in members])
    val, val_note = _validation(workspace, members, runs, position, tta)
    return Pool(members, runs, classes, votes, proba, val, lacking, val_note, notices)


def _binary_labels(members: list[Member], runs: list[Run | None], directory: Path) -> list[Member]:
    """Members holding one probability column (a two-class task): the classes
    come from the workspace's runs, and each row's label is the likelier class."""
    from dataclasses import replace

    run = next((r for r in runs if r is not None), None)
    if run is None:
        raise InputError(f"{directory}: the members hold one probability column ({','.join(members[0].header)}), "
                         "and none is a run of this workspace to say which class it is the probability of")
    names = np.array([str(c) for c in run.classes])
    return [replace(m, labels=names[(m.proba[:, 0] >= 0.5).astype(int)],
                    proba=np.column_stack([1 - m.proba[:, 0], m.proba[:, 0]])) for m in members]


def _written(member: Member, runs: list[Run | None]) -> tuple[np.ndarray, list]:
    """A probability member's own values, and the classes of its columns: one per
    class named by the header, or (one probability column) the runs' two classes."""
    if member.kind == PROBABILITY:
        return member.proba, next(r for r in runs if r is not None).classes
    return member.proba, list(member.header[1:])


def _member_run(workspace: Workspace, member: Member, kept: set[str]) -> tuple[Run | None, str | None, bool]:
    """(the run whose stored predictions belong to this member CSV, or None; why
    not; whether to warn when the member votes by its labels anyway)."""
    if member.name not in kept:
        return None, f"{member.path.name} is not a run of this workspace", False
    try:
        run = workspace.load_run(member.name)
    except InputError as error:
        return None, f"{member.path.name}: its run is damaged ({error})", True
    differs = _not_own_csv(member, run)
    if differs:
        return None, f"{member.path} is not run {run.run_id} of this workspace ({differs})", True
    return run, None, False


def _not_own_csv(member: Member, run: Run) -> str | None:
    """None when the member CSV is the run's own submission, else how it differs."""
    from kaggle_cnn.store.submissions import read_member

    own = run.path / "submission.csv"
    if not own.is_file():
        return f"the run has no {own} to compare it with"
    if file_sha256(member.path) == file_sha256(own):
        return None
    try:
        theirs = read_member(own)
    except InputError as error:
        return f"the run's own CSV is unreadable: {error}"
    if len(member.ids) != len(theirs.ids) or (member.ids != theirs.ids).any():
        return "its ids differ"
    return "its labels differ" if (member.labels != theirs.labels).any() else None


def _check_same_classes(members: list[Member], runs: list[Run | None]) -> None:
    first = next(((m, r) for m, r in zip(members, runs) if r is not None), None)
    for member, run in zip(members, runs):
        if run is not None and [str(c) for c in run.classes] != [str(c) for c in first[1].classes]:
            raise InputError(
                f"{member.path}: its run has classes {_labels(run.classes)}, but {first[0].path.name}'s has "
                f"{_labels(first[1].classes)}: members must predict the same classes"
            )


def run_classes(runs: list[Run | None]) -> list[str] | None:
    """The classes the members' runs predict (one set: _check_same_classes), or None without runs."""
    run = next((r for r in runs if r is not None), None)
    return [str(c) for c in run.classes] if run else None


def _check_same_data(members: list[Member], runs: list[Run | None]) -> None:
    """Runs trained on other data make a vote with no shared validation rows; only
    --across-data asks for one."""
    first = next(((m, r) for m, r in zip(members, runs) if r is not None), None)
    for member, run in zip(members, runs):
        if run is not None and run.fingerprint != first[1].fingerprint:
            raise InputError(
                f"{member.path}: its run {run.run_id} was trained on other data ({_data_of(run)}) than "
                f"{first[0].path.name}'s ({_data_of(first[1])}); to vote them together pass --across-data"
            )


def _data_of(run: Run) -> str:
    source = run.record["data"].get("source")
    return f"{one_line(source, 80)}, fingerprint {run.fingerprint}" if source else f"fingerprint {run.fingerprint}"


def _labels(classes: list) -> str:
    return ", ".join(str(c) for c in classes[:6]) + (", ..." if len(classes) > 6 else "")


def _stored(run: Run, filename: str, rows: int, what: str) -> tuple[np.ndarray | None, str | None]:
    """A run's stored probabilities, or None and why not (missing, or damaged)."""
    try:
        proba = run.proba(filename, rows)
    except InputError as error:
        return None, one_line(error)
    if proba is None:
        made_by = " from kcnn tta" if "_tta" in filename else ""
        return None, f"run {run.run_id} has no stored {what} probabilities{made_by}: {run.path / filename} is missing"
    return proba, None


def _aligned(proba: np.ndarray, run_classes: list, position: dict[str, int]) -> np.ndarray:
    """A run's probabilities re-ordered into the pool's class order."""
    aligned = np.zeros((proba.shape[0], len(position)), dtype=np.float64)
    aligned[:, [position[str(c)] for c in run_classes]] = proba
    return aligned


def _validation(workspace: Workspace, members: list[Member], runs: list[Run | None], position: dict[str, int],
                tta: bool) -> tuple[Validation | None, str | None]:
    """Validation arrays on the training rows where every member has honest
    predictions (the hold-out split's, or out of fold), when every member is a
    kept run on the same data; else None and why not."""
    others = [m.path.name for m, r in zip(members, runs) if r is None]
    if others:
        return None, f"{len(others)} member(s) are not kept runs of this workspace: {few(others)}"
    if len({r.fingerprint for r in runs}) != 1:
        return None, "members are runs on different data (no shared validation rows)"
    try:
        honest = [honest_predictions(workspace, run, "_tta" if tta else "") for run in runs]
    except InputError as error:
        return None, one_line(error)
    rows = functools.reduce(np.intersect1d, [h.rows for h in honest])
    if not len(rows):
        return None, "the members share no validation rows"
    proba = [_aligned(h.proba[np.searchsorted(h.rows, rows)], r.classes, position) for h, r in zip(honest, runs)]
    first, run = honest[0], runs[0]
    truth = np.array([position[str(run.classes[i])] for i in first.truth[np.searchsorted(first.rows, rows)]])
    return Validation(run.fingerprint, rows, np.array([p.argmax(axis=1) for p in proba]), proba, truth,
                      describe_rows({h.kind for h in honest}, len(rows))), None


def few(names: list[str]) -> str:
    """The first three of a list of names or reasons, and how many more."""
    return "; ".join(names[:3]) + (f"; and {len(names) - 3} more" if len(names) > 3 else "")
