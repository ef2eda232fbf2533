"""`kcnn vote`: gather members, choose their weights on the shared validation
split, combine them into a submission, and say how good it is before it is spent.

Members are the submission CSVs of a folder. Those that are kept runs of this
workspace also bring their stored probabilities and validation predictions; a
plain CSV (a teammate's) brings labels only, which is enough for hard and
weighted votes. No TensorFlow here.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn import fileio
from kaggle_cnn.ensemble import rules as ensemble
from kaggle_cnn.ensemble.rules import VoteSpec
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.submissions import Member
from kaggle_cnn.store.workspace import Run, Split, Workspace

DEFAULT_NAMES = {"hard": "majority_vote", "soft": "soft_vote", "weighted": "weighted_vote", "greedy": "greedy_ensemble"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class VoteOutcome:
    csv_path: Path
    json_path: Path
    sidecar: dict[str, Any]


@dataclass
class Pool:
    """The members after filtering, as arrays in one class order."""

    members: list[Member]
    runs: list[Run | None]
    classes: list[str]
    votes: np.ndarray  # (members, test rows) class indices
    proba: list[np.ndarray | None]  # test probabilities per member
    val: "Validation | None"


@dataclass
class Validation:
    split: Split
    votes: np.ndarray  # (members, val rows)
    proba: list[np.ndarray]
    truth: np.ndarray  # class indices in the pool's order


def check_spec(spec: VoteSpec) -> None:
    if spec.method not in ensemble.METHODS:
        raise InputError(f"--method {spec.method!r}: choose one of {', '.join(ensemble.METHODS)}")
    if spec.top is not None and spec.top < 1:
        raise InputError(f"--top must be at least 1, got {spec.top}")
    if spec.keep_above is not None and not 0 <= spec.keep_above <= 1:
        raise InputError(f"--keep-above must be an accuracy in [0, 1], got {spec.keep_above}")
    if spec.rounds < 0 or spec.init < 1:
        raise InputError("--rounds must be >= 0 and --init >= 1")
    if spec.metric not in ensemble.GREEDY_METRICS:
        raise InputError(f"--metric {spec.metric!r}: choose one of {', '.join(ensemble.GREEDY_METRICS)}")


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
    from kaggle_cnn.store.submissions import check_submission, write_submission

    check_spec(spec)
    name = name or DEFAULT_NAMES[spec.method] + ("_tta" if tta else "")
    if not _NAME.match(name):
        raise InputError(f"--name {name!r}: use letters, digits, '_', '-' or '.'")
    directory = Path(directory) if directory is not None else workspace.submissions_dir
    pool = gather(workspace, directory, model=model, tta=tta)
    if member_weights is not None:
        spec = VoteSpec(**{**asdict(spec), "fixed_weights": read_weights(member_weights, pool.members)})
    require(spec, pool, tta)

    weights, scores = choose_weights(spec, pool)
    result = ensemble.combine(spec, weights, pool.votes, pool.proba, scores, len(pool.classes))
    labels = [pool.classes[i] for i in result.predictions]
    first = pool.members[0]
    check_submission(first.path.name, first.header, first.ids, np.array(labels), classes=_run_classes(pool))

    sidecar = _sidecar(name, spec, directory, pool, weights, scores, result, tta)
    csv_path = workspace.ensemble_dir / f"{name}.csv"
    json_path = workspace.ensemble_dir / f"{name}.json"
    write_submission(csv_path, first.header, first.ids, labels)
    fileio.write_json(json_path, sidecar)
    return VoteOutcome(csv_path, json_path, sidecar)


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
    runs = [workspace.load_run(m.name) if m.name in kept else None for m in members]
    if model is not None:
        chosen = [i for i, r in enumerate(runs) if r is not None and r.record["model"] == model]
        if not chosen:
            raise InputError(f"{directory}: no member is a kept run of model {model!r}")
        members, runs = [members[i] for i in chosen], [runs[i] for i in chosen]
    _check_same_classes(members, runs)

    suffix = "_tta" if tta else ""
    test_proba = [_load_proba(r, f"test_proba{suffix}.npy", len(members[0].ids)) if r else None for r in runs]
    run_labels = [np.array(r.classes, dtype=str) for r in runs if r]
    classes = sorted_labels(np.concatenate([m.labels for m in members] + run_labels))
    position = {label: i for i, label in enumerate(classes)}
    proba = [_aligned(p, r.classes, position) if p is not None else None for p, r in zip(test_proba, runs)]
    if tta:  # a member's vote is its own augmented prediction, not its CSV
        votes = np.array([p.argmax(axis=1) if p is not None else np.zeros(len(members[0].ids), int) for p in proba])
    else:
        votes = np.array([[position[label] for label in m.labels] for m in members])
    return Pool(members, runs, classes, votes, proba, _validation(workspace, runs, position, tta))


def _check_same_classes(members: list[Member], runs: list[Run | None]) -> None:
    first = next(((m, r) for m, r in zip(members, runs) if r is not None), None)
    for member, run in zip(members, runs):
        if run is not None and [str(c) for c in run.classes] != [str(c) for c in first[1].classes]:
            raise InputError(
                f"{member.path}: its run has classes {run.classes[:6]}..., but {first[0].path.name}'s has "
                f"{first[1].classes[:6]}...: members must predict the same classes"
            )


def _load_proba(run: Run, filename: str, rows: int) -> np.ndarray | None:
    path = run.path / filename
    if not path.exists():
        return None
    proba = np.load(path)
    if proba.ndim != 2 or proba.shape != (rows, len(run.classes)):
        raise InputError(f"{path}: shape {proba.shape} does not match {rows} rows x {len(run.classes)} classes")
    return proba


def _aligned(proba: np.ndarray, run_classes: list, position: dict[str, int]) -> np.ndarray:
    """A run's probabilities re-ordered into the pool's class order."""
    aligned = np.zeros((proba.shape[0], len(position)), dtype=np.float64)
    aligned[:, [position[str(c)] for c in run_classes]] = proba
    return aligned


def _validation(workspace: Workspace, runs: list[Run | None], position: dict[str, int], tta: bool) -> Validation | None:
    """Validation arrays when every member is a kept run scored on one split."""
    if any(r is None for r in runs) or len({r.fingerprint for r in runs}) != 1:
        return None
    split = workspace.find_split(runs[0].fingerprint)
    if split is None:
        return None
    suffix = "_tta" if tta else ""
    raw = [_load_proba(r, f"val_proba{suffix}.npy", len(split.val_indices)) for r in runs]
    if any(p is None for p in raw):
        return None
    proba = [_aligned(p, r.classes, position) for p, r in zip(raw, runs)]
    truth = np.array([position[str(split.classes[i])] for i in split.val_labels])
    return Validation(split, np.array([p.argmax(axis=1) for p in proba]), proba, truth)


def read_weights(path: str | Path, members: list[Member]) -> tuple[float, ...]:
    """--member-weights FILE: a CSV `member,weight`, a member named by file name or stem."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such weights file")
    try:
        frame = pd.read_csv(path, dtype={"member": str})
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        raise InputError(f"{path}: not a CSV with columns member,weight") from None
    if list(frame.columns[:2]) != ["member", "weight"]:
        raise InputError(f"{path}: expected columns member,weight, found {','.join(map(str, frame.columns))}")
    given = {Path(str(m)).stem: w for m, w in zip(frame["member"], frame["weight"])}
    unknown = sorted(set(given) - {m.name for m in members})
    if unknown:
        raise InputError(f"{path}: {unknown[0]!r} is not a member of this vote")
    missing = [m.path.name for m in members if m.name not in given]
    if missing:
        raise InputError(f"{path}: no weight for member {missing[0]}")
    weights = pd.to_numeric(pd.Series([given[m.name] for m in members]), errors="coerce")
    if weights.isna().any() or (weights < 0).any() or weights.sum() <= 0:
        raise InputError(f"{path}: weights must be non-negative numbers, not all zero")
    return tuple(float(w) for w in weights)


def require(spec: VoteSpec, pool: Pool, tta: bool) -> None:
    """Refuse, naming the members, what this pool cannot do."""
    lacking_proba = [m.path.name for m, p in zip(pool.members, pool.proba) if p is None]
    if tta and lacking_proba:
        raise InputError(f"--tta needs test-time-augmented predictions (kcnn tta); missing for: {_few(lacking_proba)}")
    if spec.uses_probabilities and lacking_proba:
        raise InputError(f"--method {spec.method} needs stored probabilities; plain CSV members lack them: {_few(lacking_proba)}")
    needs_validation = (spec.method == "greedy" or spec.keep_above is not None or spec.top is not None
                        or (spec.method == "weighted" and spec.fixed_weights is None))
    if needs_validation and pool.val is None:
        what = {"greedy": "--method greedy", "weighted": "--method weighted (or give --member-weights FILE)"}.get(
            spec.method, "--keep-above/--top")
        lacking = [m.path.name for m, r in zip(pool.members, pool.runs) if r is None] or ["(members scored on different splits)"]
        raise InputError(f"{what} needs validation predictions of every member; lacking: {_few(lacking)}")


def _few(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


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
        lacking = sum(r is None for r in pool.runs)
        note = (f"{lacking} member(s) are not kept runs of this workspace: no validation predictions" if lacking
                else "members lack validation predictions on one shared split")
        return {"val_accuracy": None, "val_note": note}
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
