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
import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn import fileio
from kaggle_cnn.ensemble import rules as ensemble
from kaggle_cnn.ensemble.rules import VoteSpec, check_spec
from kaggle_cnn.errors import InputError, one_line, warn
from kaggle_cnn.store.files import file_sha256, is_plain_name
from kaggle_cnn.store.submissions import LABEL, PROBABILITY, Member
from kaggle_cnn.store.validation import honest_predictions, workspace_metric
from kaggle_cnn.store.workspace import Run, Workspace

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
    """The training rows where every member has honest predictions (hold-out, or out of fold)."""

    fingerprint: str
    rows: np.ndarray  # training-row numbers
    votes: np.ndarray  # (members, rows)
    proba: list[np.ndarray]
    truth: np.ndarray  # class indices in the pool's order
    description: str  # which rows these are, as printouts say


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
    by `spec.method` into submissions/ensemble/<name>.csv and its JSON sidecar.
    A method of None is hard, or soft when the members are probabilities."""
    directory = Path(directory) if directory is not None else workspace.submissions_dir
    method = spec.method or _default_method(directory)
    spec = VoteSpec(**{**asdict(spec), "method": method, "metric": spec.metric or workspace_metric(workspace)})
    check_spec(spec)
    name = name or DEFAULT_NAMES[spec.method] + ("_tta" if tta else "")
    if not is_plain_name(name, NAME_LENGTH):
        raise InputError(f"--name {one_line(name, 60)}: use at most {NAME_LENGTH} letters, digits, '_', '-' or '.'")
    if member_weights is not None and spec.method != "weighted":
        raise InputError(f"--member-weights is for --method weighted, not {spec.method}")
    csv_path, json_path = workspace.ensemble_dir / f"{name}.csv", workspace.ensemble_dir / f"{name}.json"
    _check_not_output(workspace, directory)
    # Held while reading and writing when free, so the repair never meets another
    # vote's temporary files; a vote during a long train goes on without it.
    with workspace.hold_if_idle():
        return _vote(workspace, directory, spec, name, model, member_weights, tta, csv_path, json_path)


def _vote(workspace, directory, spec, name, model, member_weights, tta, csv_path, json_path) -> VoteOutcome:
    from kaggle_cnn.store.submissions import check_submission, write_predictions, write_submission

    pool = gather(workspace, directory, model=model, tta=tta)
    _check_not_output(workspace, directory, pool.members, csv_path)
    if member_weights is not None:
        spec = VoteSpec(**{**asdict(spec), "fixed_weights": read_weights(member_weights, pool.members)})
    check_spec(spec, len(pool.members))
    require(spec, pool, tta)

    weights, scores = choose_weights(spec, pool)
    result = ensemble.combine(spec, weights, pool.votes, pool.proba, ensemble.goodness(spec.metric, scores),
                              len(pool.classes))
    labels = [pool.classes[i] for i in result.predictions]
    first = pool.members[0]
    if first.kind == LABEL:
        check_submission(first.path.name, first.header, first.ids, np.array(labels), classes=_run_classes(pool))
    for notice in pool.notices or []:  # the vote goes ahead: now, and only now, the warnings
        warn(notice)

    sidecar = _sidecar(name, spec, directory, pool, weights, scores, result, tta)
    if first.kind == LABEL:
        write_submission(csv_path, first.header, first.ids, labels)
    else:  # the competition takes probabilities: the members' weighted mean, in the members' layout
        write_predictions(csv_path, first.kind, first.header, first.ids, pool.classes,
                          ensemble.average_probabilities(pool.proba, weights, spec.geometric))
    sidecar["csv_sha256"] = file_sha256(csv_path)  # readers trust the sidecar only for this CSV
    fileio.write_json(json_path, sidecar)
    return VoteOutcome(csv_path, json_path, sidecar)


def _default_method(directory: Path) -> str:
    """hard, or soft for members written as probabilities (a hard vote has labels only)."""
    from kaggle_cnn.store.submissions import find_members, read_member

    return "hard" if read_member(find_members(directory)[0]).kind == LABEL else "soft"


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
        return None, f"{len(others)} member(s) are not kept runs of this workspace: {_few(others)}"
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
    kinds = sorted({h.kind for h in honest})
    description = f"{len(rows)} out-of-fold rows (every training row)" if kinds != ["hold-out"] and \
        "hold-out" not in kinds else f"{len(rows)} hold-out rows" + (
            " (k-fold members out of fold there)" if len(kinds) > 1 else "")
    return Validation(run.fingerprint, rows, np.array([p.argmax(axis=1) for p in proba]), proba, truth,
                      description), None


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
    from kaggle_cnn.evaluation.competition import get_metric, require_probabilities

    lacking = [why for why in pool.lacking if why]
    first = pool.members[0]
    if first.kind != LABEL and spec.method == "hard":
        raise InputError(f"--method hard: the members are probability submissions ({','.join(first.header[:4])}"
                         f"{',...' if len(first.header) > 4 else ''}) and a hard vote has labels only; use --method "
                         "soft, weighted or greedy")
    require_probabilities(get_metric(spec.metric), [m.path.name for m, why in zip(pool.members, pool.lacking) if why])
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
    """Weights from every shared validation row, and members' scores there by the metric."""
    if pool.val is None:
        weights = np.asarray(spec.fixed_weights if spec.fixed_weights is not None else np.ones(len(pool.members)))
        return weights.astype(np.float64), [None] * len(pool.members)
    weights = ensemble.fit_weights(spec, pool.val.votes, pool.val.proba, pool.val.truth)
    return weights, [float(s) for s in ensemble.member_scores(spec.metric, pool.val.votes, pool.val.proba,
                                                              pool.val.truth)]


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
        "metric": spec.metric,
        "members": [
            {"file": m.path.name, "run_id": r.run_id if r else None,
             "model": r.record["model"] if r else None, "val_accuracy": a, "val_score": s, "weight": float(w)}
            for m, r, a, s, w in zip(pool.members, pool.runs, _accuracies(pool), scores, weights)
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


def _accuracies(pool: Pool) -> list[float | None]:
    if pool.val is None:
        return [None] * len(pool.members)
    return [float(a) for a in ensemble.member_accuracies(pool.val.votes, pool.val.truth)]


def _validation_figures(spec, pool: Pool, weights, scores) -> dict[str, Any]:
    """In-sample figures (weights chosen on the rows they are scored on), and the
    K-fold estimate (chosen on K-1 folds of those rows, scored on the fold left out)."""
    if pool.val is None:
        return {"val_accuracy": None, "val_note": pool.val_note}
    val, n_classes = pool.val, len(pool.classes)
    ranked = ensemble.goodness(spec.metric, scores)
    in_sample = ensemble.combine(spec, weights, val.votes, val.proba, ranked, n_classes)
    return {
        "val_accuracy": float(np.mean(in_sample.predictions == val.truth)),
        "val_score": ensemble.ensemble_score(spec, weights, in_sample, val.proba, val.truth, n_classes),
        "val_estimate": ensemble.kfold_estimate(spec, val.votes, val.proba, val.truth, n_classes),
        "val_rows": int(len(val.truth)), "val_rows_described": val.description,
        "val_row_numbers": val.rows, "val_ties": in_sample.ties, "fingerprint": val.fingerprint,
        "val_predictions": [pool.classes[i] for i in in_sample.predictions],
        "best_member": _best_member(pool, scores, ranked),
        "per_class_f1_gain": _f1_gain(pool, in_sample.predictions, ranked),
    }


def _best_member(pool: Pool, scores, ranked) -> dict[str, Any]:
    best = ensemble.best_first(ranked)[0]
    return {"file": pool.members[best].path.name, "val_score": scores[best], "val_accuracy": _accuracies(pool)[best]}


def _f1_gain(pool: Pool, predictions: np.ndarray, ranked) -> dict[str, dict[str, float]]:
    """Per class: the ensemble's validation F1, its best member's (by the metric), and the gain."""
    from sklearn.metrics import f1_score

    best = ensemble.best_first(ranked)[0]
    labels = np.arange(len(pool.classes))
    ours = f1_score(pool.val.truth, predictions, labels=labels, average=None, zero_division=0)
    theirs = f1_score(pool.val.truth, pool.val.votes[best], labels=labels, average=None, zero_division=0)
    return {c: {"ensemble": round(float(a), 4), "best_member": round(float(b), 4), "gain": round(float(a - b), 4)}
            for c, a, b in zip(pool.classes, ours, theirs)}
