"""`kcnn vote`: gather members, choose their weights on the shared validation
split, combine them into a submission, and say how good it is before it is spent.

Members are the submission CSVs of a folder. A member that is a kept run's own
CSV (byte for byte, or the same ids and labels as models/<id>/submission.csv)
also brings that run's stored probabilities and validation predictions; any
other CSV (a teammate's, another workspace's) brings labels only, which is
enough for hard and weighted votes. No TensorFlow here.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn import fileio
from kaggle_cnn.ensemble import rules as ensemble
from kaggle_cnn.ensemble.rules import VoteSpec, check_spec
from kaggle_cnn.errors import InputError, one_line, warn
from kaggle_cnn.store.files import file_sha256, is_plain_name
from kaggle_cnn.store.submissions import Member
from kaggle_cnn.store.workspace import Run, Split, Workspace

DEFAULT_NAMES = {"hard": "majority_vote", "soft": "soft_vote", "weighted": "weighted_vote", "greedy": "greedy_ensemble"}
NAME_LENGTH = 100


@dataclass
class VoteOutcome:
    csv_path: Path
    json_path: Path
    sidecar: dict[str, Any]


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
    split: Split
    votes: np.ndarray  # (members, val rows)
    proba: list[np.ndarray]
    truth: np.ndarray  # class indices in the pool's order


def vote(
    workspace: Workspace,
    directory: str | Path | None = None,
    *,
    spec: VoteSpec = VoteSpec(),
    name: str | None = None,
    model: str | None = None,
    member_weights: str | Path | None = None,
    tta: bool = False,
) -> VoteOutcome:
    """Combine the member CSVs in `directory` (default the workspace's submissions/)
    by `spec.method` into submissions/ensemble/<name>.csv and its JSON sidecar."""
    check_spec(spec)
    name = name or DEFAULT_NAMES[spec.method] + ("_tta" if tta else "")
    if not is_plain_name(name, NAME_LENGTH):
        raise InputError(f"--name {one_line(name, 60)}: use at most {NAME_LENGTH} letters, digits, '_', '-' or '.'")
    if member_weights is not None and spec.method != "weighted":
        raise InputError(f"--member-weights is for --method weighted, not {spec.method}")
    directory = Path(directory) if directory is not None else workspace.submissions_dir
    csv_path, json_path = workspace.ensemble_dir / f"{name}.csv", workspace.ensemble_dir / f"{name}.json"
    _check_not_output(workspace, directory)
    # Held while reading and writing when free, so the repair never meets another
    # vote's temporary files; a vote during a long train goes on without it.
    with workspace.hold_if_idle():
        return _vote(workspace, directory, spec, name, model, member_weights, tta, csv_path, json_path)


def _vote(workspace, directory, spec, name, model, member_weights, tta, csv_path, json_path) -> VoteOutcome:
    from kaggle_cnn.store.submissions import check_submission, write_submission

    pool = gather(workspace, directory, model=model, tta=tta)
    _check_not_output(workspace, directory, pool.members, csv_path)
    if member_weights is not None:
        spec = VoteSpec(**{**asdict(spec), "fixed_weights": read_weights(member_weights, pool.members)})
    check_spec(spec, len(pool.members))
    require(spec, pool, tta)

    weights, scores = choose_weights(spec, pool)
    result = ensemble.combine(spec, weights, pool.votes, pool.proba, scores, len(pool.classes))
    labels = [pool.classes[i] for i in result.predictions]
    first = pool.members[0]
    check_submission(first.path.name, first.header, first.ids, np.array(labels), classes=_run_classes(pool))
    for notice in pool.notices or []:  # the vote goes ahead: now, and only now, the warnings
        warn(notice)

    sidecar = _sidecar(name, spec, directory, pool, weights, scores, result, tta)
    write_submission(csv_path, first.header, first.ids, labels)
    sidecar["csv_sha256"] = file_sha256(csv_path)  # readers trust the sidecar only for this CSV
    fileio.write_json(json_path, sidecar)
    return VoteOutcome(csv_path, json_path, sidecar)


def _check_not_output(workspace: Workspace, directory: Path, members: list[Member] = (), output: Path | None = None):
    """A vote never reads what it is about to write."""
    if directory.resolve() == workspace.ensemble_dir.resolve():
        raise InputError(f"{directory}: this is where votes are written, not a folder of members "
                         f"(vote on {workspace.submissions_dir}, or copy the CSVs elsewhere)")
    for member in members:
        if output is not None and member.path.resolve() == output.resolve():
            raise InputError(f"{member.path}: this member is the vote's own output {output}: choose another --name")


# -- members --------------------------------------------------------------------------


def gather(workspace: Workspace, directory: Path, *, model: str | None = None, tta: bool = False) -> Pool:
    from kaggle_cnn.store.submissions import (
        check_members,
        find_members,
        read_member,
        sorted_labels,
    )

    members = [read_member(path) for path in find_members(directory)]
    check_members(members)
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

    suffix = "_tta" if tta else ""
    test_proba = []
    for i, run in enumerate(runs):
        proba, why = _stored(run, f"test_proba{suffix}.npy", len(members[0].ids), "test") if run else (None, None)
        test_proba.append(proba)
        if run is not None and why is not None:
            lacking[i] = why
            if not tta:  # without --tta a run's CSV still votes; under --tta, require() refuses
                notices.append(f"{why}: {members[i].path.name} voted as labels only")
    run_labels = [np.array(r.classes, dtype=str) for r in runs if r]
    classes = sorted_labels(np.concatenate([m.labels for m in members] + run_labels))
    position = {label: i for i, label in enumerate(classes)}
    proba = [_aligned(p, r.classes, position) if p is not None else None for p, r in zip(test_proba, runs)]
    if tta:  # a member's vote is its own augmented prediction, not its CSV
        votes = np.array([p.argmax(axis=1) if p is not None else np.zeros(len(members[0].ids), int) for p in proba])
    else:
        votes = np.array([[position[label] for label in m.labels] for m in members])
    val, val_note = _validation(workspace, members, runs, position, tta)
    return Pool(members, runs, classes, votes, proba, val, lacking, val_note, notices)


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
    """Validation arrays when every member is a kept run scored on one split, else
    None and why not."""
    others = [m.path.name for m, r in zip(members, runs) if r is None]
    if others:
        return None, f"{len(others)} member(s) are not kept runs of this workspace: {_few(others)}"
    if len({r.fingerprint for r in runs}) != 1:
        return None, "members are runs on different data (no shared validation split)"
    try:
        split = workspace.find_split(runs[0].fingerprint)
    except InputError as error:
        return None, one_line(error)
    if split is None:
        return None, f"the validation split {workspace.split_path(runs[0].fingerprint)} is missing"
    suffix = "_tta" if tta else ""
    raw = []
    for run in runs:
        proba, why = _stored(run, f"val_proba{suffix}.npy", len(split.val_indices), "validation")
        if why is not None:
            return None, why
        raw.append(proba)
    proba = [_aligned(p, r.classes, position) for p, r in zip(raw, runs)]
    truth = np.array([position[str(split.classes[i])] for i in split.val_labels])
    return Validation(split, np.array([p.argmax(axis=1) for p in proba]), proba, truth), None


def read_weights(path: str | Path, members: list[Member]) -> tuple[float, ...]:
    """--member-weights FILE: a CSV `member,weight`, a member named by file name or stem."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such weights file")
    try:
        frame = pd.read_csv(path, dtype={"member": str}, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        raise InputError(f"{path}: not a CSV with columns member,weight") from None
    if list(frame.columns[:2]) != ["member", "weight"]:
        raise InputError(f"{path}: expected columns member,weight, found {','.join(map(str, frame.columns))}")
    given: dict[str, tuple[int, Any]] = {}
    for row, (member, weight) in enumerate(zip(frame["member"], frame["weight"])):
        stem = Path(str(member)).stem
        if stem in given:
            raise InputError(f"{path} line {row + 2}: member {stem} is listed twice (lines {given[stem][0]} and {row + 2})")
        given[stem] = (row + 2, weight)
    unknown = sorted(set(given) - {m.name for m in members})
    if unknown:
        raise InputError(f"{path} line {given[unknown[0]][0]}: {unknown[0]} is not a member of this vote")
    missing = [m.path.name for m in members if m.name not in given]
    if missing:
        raise InputError(f"{path}: no weight for member {missing[0]}")
    weights = pd.to_numeric(pd.Series([given[m.name][1] for m in members]), errors="coerce")
    bad = [i for i, w in enumerate(weights) if not np.isfinite(w) or w < 0]
    if bad:
        line, value = given[members[bad[0]].name]
        raise InputError(f"{path} line {line}: weight {value} of {members[bad[0]].name} is not a finite number >= 0")
    if weights.sum() <= 0:
        raise InputError(f"{path}: every weight is 0")
    return tuple(float(w) for w in weights)


def require(spec: VoteSpec, pool: Pool, tta: bool) -> None:
    """Refuse, naming the members and why, what this pool cannot do."""
    lacking = [why for why in pool.lacking if why]
    if tta and lacking:
        raise InputError(f"--tta needs test-time-augmented predictions (kcnn tta) of every member: {_few(lacking)}")
    if spec.uses_probabilities and lacking:
        raise InputError(f"--method {spec.method} needs stored probabilities of every member: {_few(lacking)}")
    needs_validation = (spec.method == "greedy" or spec.keep_above is not None or spec.top is not None
                        or (spec.method == "weighted" and spec.fixed_weights is None))
    if needs_validation and pool.val is None:
        what = {"greedy": "--method greedy", "weighted": "--method weighted (or give --member-weights FILE)"}.get(
            spec.method, "--keep-above/--top")
        raise InputError(f"{what} needs validation predictions of every member; {pool.val_note}")


def _few(names: list[str]) -> str:
    return "; ".join(names[:3]) + (f"; and {len(names) - 3} more" if len(names) > 3 else "")


def choose_weights(spec: VoteSpec, pool: Pool) -> tuple[np.ndarray, list[float | None]]:
    """Weights from the whole validation split, and members' validation accuracy."""
    if pool.val is None:
        weights = np.asarray(spec.fixed_weights if spec.fixed_weights is not None else np.ones(len(pool.members)))
        return weights.astype(np.float64), [None] * len(pool.members)
    weights = ensemble.fit_weights(spec, pool.val.votes, pool.val.proba, pool.val.truth)
    return weights, list(ensemble.member_accuracies(pool.val.votes, pool.val.truth))


def _run_classes(pool: Pool) -> list[str] | None:
    run = next((r for r in pool.runs if r is not None), None)
    return [str(c) for c in run.classes] if run else None


# -- the sidecar: what was chosen, how good it is, why ----------------------------------


def _sidecar(name, spec, directory, pool, weights, scores, result, tta) -> dict[str, Any]:
    first = pool.members[0]
    sidecar = {
        "name": name, "method": spec.method, "tta": tta,
        "rule": ensemble.PROBABILITY_TIE_RULE if ensemble.combines_probabilities(spec, pool.proba, weights)
        else ensemble.TIE_RULE,
        "options": {k: v for k, v in asdict(spec).items() if k != "method"},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "source_dir": str(directory), "rows": len(first.ids), "classes": pool.classes,
        "ties": result.ties, "ties_by_rule": result.ties_by_rule,
        "members": [
            {"file": m.path.name, "run_id": r.run_id if r else None,
             "model": r.record["model"] if r else None, "val_accuracy": s, "weight": float(w)}
            for m, r, s, w in zip(pool.members, pool.runs, scores, weights)
        ],
        "diagnostics": _diagnostics(pool, result, first),
    }
    if spec.method == "greedy":
        sidecar["multiplicities"] = {m.name: int(w) for m, w in zip(pool.members, weights) if w > 0}
    sidecar.update(_validation_figures(spec, pool, weights, scores))
    return sidecar


def _diagnostics(pool: Pool, result, first: Member) -> dict[str, Any]:
    return {
        "disagreement": {"members": [m.name for m in pool.members],
                         "matrix": np.round(ensemble.disagreement_matrix(pool.votes), 4).tolist()},
        "margins": ensemble.margin_histogram(result.margins),
        "tied_ids": [str(first.ids[i]) for i in result.tied_rows],
    }


def _validation_figures(spec, pool: Pool, weights, scores) -> dict[str, Any]:
    if pool.val is None:
        return {"val_accuracy": None, "val_note": pool.val_note}
    val = pool.val
    in_sample = ensemble.combine(spec, weights, val.votes, val.proba, scores, len(pool.classes))
    accuracy = float(np.mean(in_sample.predictions == val.truth))
    figures = {
        "val_accuracy": accuracy,
        "val_accuracy_split_half": ensemble.split_half_accuracy(spec, val.votes, val.proba, val.truth, len(pool.classes)),
        "val_rows": int(len(val.truth)), "val_ties": in_sample.ties, "fingerprint": val.split.fingerprint,
        "val_predictions": [pool.classes[i] for i in in_sample.predictions],
        "best_member": _best_member(pool, scores),
        "per_class_f1_gain": _f1_gain(pool, in_sample.predictions, scores),
    }
    return figures


def _best_member(pool: Pool, scores) -> dict[str, Any]:
    best = ensemble.best_first(scores)[0]
    return {"file": pool.members[best].path.name, "val_accuracy": scores[best]}


def _f1_gain(pool: Pool, predictions: np.ndarray, scores) -> dict[str, dict[str, float]]:
    """Per class: the ensemble's validation F1, its best member's, and the gain."""
    from sklearn.metrics import f1_score

    best = ensemble.best_first(scores)[0]
    labels = np.arange(len(pool.classes))
    ours = f1_score(pool.val.truth, predictions, labels=labels, average=None, zero_division=0)
    theirs = f1_score(pool.val.truth, pool.val.votes[best], labels=labels, average=None, zero_division=0)
    return {c: {"ensemble": round(float(a), 4), "best_member": round(float(b), 4), "gain": round(float(a - b), 4)}
            for c, a, b in zip(pool.classes, ours, theirs)}
