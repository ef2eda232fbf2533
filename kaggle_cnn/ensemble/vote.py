"""`kcnn vote`: gather members (kaggle_cnn.ensemble.pool), choose their weights
on the training rows where every member has honest predictions, combine them into
a submission in the competition's layout, and say how good it is before it is
spent. No TensorFlow here.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn import fileio
from kaggle_cnn.ensemble import rules as ensemble
from kaggle_cnn.ensemble.choices import NAME_LENGTH
from kaggle_cnn.ensemble.finishing import check_finish, finish_pool
from kaggle_cnn.ensemble.multi_label import multi_label_runs, vote_multi_label
from kaggle_cnn.ensemble.numeric import numeric_task_of, vote_numeric
from kaggle_cnn.ensemble.pool import Pool, few, gather
from kaggle_cnn.ensemble.rules import VoteSpec, check_spec
from kaggle_cnn.ensemble.tta_choice import choose_tta
from kaggle_cnn.errors import InputError, one_line, warn
from kaggle_cnn.evaluation.metric_registry import accuracy, get_metric
from kaggle_cnn.store.files import file_sha256, is_plain_name
from kaggle_cnn.store.submissions import LABEL, TOP_K, Member
from kaggle_cnn.store.validation import workspace_metric
from kaggle_cnn.store.workspace import Workspace

DEFAULT_NAMES = {"hard": "majority_vote", "soft": "soft_vote", "weighted": "weighted_vote", "greedy": "greedy_ensemble",
                 "stack": "stacked_vote"}


@dataclass
class VoteOutcome:
    csv_path: Path
    json_path: Path
    sidecar: dict[str, Any]


def vote(
    workspace: Workspace,
    directory: str | Path | None = None,
    *,
    spec: VoteSpec = VoteSpec(),
    name: str | None = None,
    model: str | None = None,
    member_weights: str | Path | None = None,
    tta: bool | None = None,
    across_data: bool = False,
    finish: bool | None = None,
) -> VoteOutcome:
    """Combine the member CSVs in `directory` (default the workspace's submissions/)
    by `spec.method` into submissions/ensemble/<name>.csv and its JSON sidecar.
    A method of None is hard, or soft when the members are probabilities. Members
    whose runs were trained on different data are refused unless `across_data`.
    `tta`: use the members' test-time-augmented predictions (kcnn tta); None: when
    every member has them and they score better on validation (ensemble.tta_choice).
    `finish`: fit the metric's finishing step on the validation rows and apply it
    (ensemble.finishing; None: when the metric has one, False: never)."""
    if directory is None:
        directory = workspace.submissions_dir
        _require_kept_runs(directory)
    directory = Path(directory)
    multi_label = multi_label_runs(workspace, directory)
    numeric = numeric_task_of(workspace, directory)
    if multi_label or numeric:
        given = [option for option, value in (("--tta", tta), ("--member-weights", member_weights is not None),
                                              ("--keep-above", spec.keep_above is not None),
                                              ("--top", spec.top is not None), ("--geometric", spec.geometric))
                 if value]
        if given:
            raise InputError(f"{given[0]}: a {'multi-label' if multi_label else numeric} vote averages every "
                             "member's stored predictions, and takes no selection or weighting options")
    if numeric:
        if name is not None and not is_plain_name(name, NAME_LENGTH):
            raise InputError(f"--name {one_line(name, 60)}: use at most {NAME_LENGTH} letters, digits, '_', '-' or '.'")
        with workspace.hold_if_idle():
            return VoteOutcome(*vote_numeric(workspace, directory, numeric, method=spec.method, metric=spec.metric,
                                             name=name or "mean", model=model, finish=finish))
    requested = spec.method
    check_finish(get_metric(spec.metric or workspace_metric(workspace)), multi_label, finish)
    method = spec.method or ("soft" if multi_label else _default_method(directory))
    spec = VoteSpec(**{**asdict(spec), "method": method, "metric": spec.metric or workspace_metric(workspace)})
    tta_choice = None
    if not multi_label:
        check_spec(spec)
        if tta is None:
            tta_choice = choose_tta(workspace, directory, spec.metric, model=model, across_data=across_data)
            tta = bool(tta_choice and tta_choice["used"])
    name = name or DEFAULT_NAMES[spec.method] + ("_tta" if tta else "")
    if not is_plain_name(name, NAME_LENGTH):
        raise InputError(f"--name {one_line(name, 60)}: use at most {NAME_LENGTH} letters, digits, '_', '-' or '.'")
    if member_weights is not None and spec.method != "weighted":
        raise InputError(f"--member-weights is for --method weighted, not {spec.method}")
    csv_path, json_path = workspace.ensemble_dir / f"{name}.csv", workspace.ensemble_dir / f"{name}.json"
    _check_not_output(workspace, directory)
    if multi_label:
        with workspace.hold_if_idle():
            return VoteOutcome(*vote_multi_label(workspace, directory, method=requested, metric=spec.metric, name=name,
                                                 model=model, finish=finish))
    # Held while reading and writing when free, so the repair never meets another
    # vote's temporary files; a vote during a long train goes on without it.
    with workspace.hold_if_idle():
        outcome = _vote(workspace, directory, spec, name, model, member_weights, tta, across_data, csv_path,
                        json_path, tta_choice, finish)
    return outcome


def _require_kept_runs(submissions: Path) -> None:
    """The default members are the kept runs' CSVs: none yet is a training matter, not a missing folder."""
    from kaggle_cnn.store.submissions import find_members

    try:
        find_members(submissions)
    except InputError:
        if submissions.exists() and not submissions.is_dir():
            raise
        raise InputError(f"no run was kept, so there is nothing to vote on ({submissions} holds no submissions "
                         "yet): train runs (kcnn train), or lower --keep-above so that they are kept") from None


def _vote(workspace, directory, spec, name, model, member_weights, tta, across_data, csv_path,
          json_path, tta_choice=None, finish=None) -> VoteOutcome:
    from kaggle_cnn.store.submissions import write_predictions, write_submission

    pool = gather(workspace, directory, model=model, tta=tta, across_data=across_data)
    _check_not_output(workspace, directory, pool.members, csv_path)
    if member_weights is not None:
        spec = VoteSpec(**{**asdict(spec), "fixed_weights": read_weights(member_weights, pool.members)})
    check_spec(spec, len(pool.members))
    require(spec, pool, tta)

    weights, scores = choose_weights(spec, pool)
    stacked = None
    if spec.method == "stack":  # scikit-learn is loaded for a stack only
        from kaggle_cnn.ensemble.stack import stack

        stacked = stack(pool, weights, spec.metric)
        result = ensemble.top_class_vote(stacked.test_proba)
    else:
        result = ensemble.combine(spec, weights, pool.votes, pool.proba, ensemble.goodness(spec.metric, scores),
                                  len(pool.classes))
    labels = [pool.classes[i] for i in result.predictions]
    first = pool.members[0]
    for notice in pool.notices or []:  # the vote goes ahead: now, and only now, the warnings
        warn(notice)

    sidecar = _sidecar(name, spec, directory, pool, weights, scores, result, tta, stacked)
    if tta_choice is not None:  # both soft votes' validation scores, and which was used
        sidecar["tta_choice"] = tta_choice
    # The vote's probabilities: the stack's, or the members' weighted mean (None: some member has labels only).
    test_proba = stacked.test_proba if stacked else None if any(p is None for p in pool.proba) else \
        ensemble.average_probabilities(pool.proba, weights, spec.geometric)
    finishing = finish_pool(spec, pool, weights, stacked, test_proba, finish)
    if finishing.applied:  # the step's probabilities, and its labels when it decides them
        finished = finishing.apply(test_proba)
        test_proba = finished.proba
        if finished.predicted is not None:
            labels = [pool.classes[i] for i in finished.predicted]
    if finishing.record is not None:
        sidecar["finishing"] = finishing.record
    if first.kind == LABEL:
        write_submission(csv_path, first.header, first.ids, labels)
    else:  # the competition takes probabilities, or the K likeliest labels: from the vote's probabilities
        write_predictions(csv_path, first.kind, first.header, first.ids, pool.classes, test_proba,
                          top_k=None if first.ranked is None else first.ranked.shape[1])
    sidecar["csv_sha256"] = file_sha256(csv_path)  # readers trust the sidecar only for this CSV
    sidecar.update(_write_test_proba(csv_path, pool, test_proba))
    fileio.write_json(json_path, sidecar)
    return VoteOutcome(csv_path, json_path, sidecar)


def _write_test_proba(csv_path: Path, pool: Pool, test_proba: np.ndarray | None) -> dict[str, Any]:
    """<name>.test_proba.npy beside the CSV: the vote's probabilities (rows as the
    CSV's, columns as the sidecar's classes), which pseudo-labels and a distilled
    student learn from; and, for the sidecar, the file's sha256 and the data the
    members' runs were trained on (None when they differ, or no member is a run)."""
    path = csv_path.with_name(csv_path.stem + ".test_proba.npy")
    fingerprints = {run.fingerprint for run in pool.runs if run is not None}
    found = {"data_fingerprint": fingerprints.pop() if len(fingerprints) == 1 else None, "test_proba": None}
    if test_proba is None:
        path.unlink(missing_ok=True)  # an older vote's file of this name no longer belongs to this CSV
        return found
    with fileio.atomic_path(path) as temporary:
        np.save(temporary, np.asarray(test_proba).astype(np.float32))
    return {**found, "test_proba": {"file": path.name, "sha256": file_sha256(path)}}


def _default_method(directory: Path) -> str:
    """hard, or soft for members written as probabilities or as the K likeliest
    labels (a hard vote has one label a row, and no ranking)."""
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
    from kaggle_cnn.evaluation.metric_registry import require_probabilities

    lacking = [why for why in pool.lacking if why]
    first = pool.members[0]
    if first.kind != LABEL and spec.method == "hard":
        what = (f"rows of {first.ranked.shape[1]} labels (likeliest first)" if first.kind == TOP_K else
                f"probability submissions ({','.join(first.header[:4])}{',...' if len(first.header) > 4 else ''})")
        raise InputError(f"--method hard: the members are {what} and a hard vote has labels only; use --method "
                         "soft, weighted, greedy or stack")
    metric = get_metric(spec.metric)
    metric.check_classes(len(pool.classes))
    require_probabilities(metric, [m.path.name for m, why in zip(pool.members, pool.lacking) if why])
    if first.kind == TOP_K and lacking:
        raise InputError(f"the members' rows hold {first.ranked.shape[1]} labels, likeliest first: ranking them "
                         f"needs stored probabilities of every member: {few(lacking)}")
    if tta and lacking:
        raise InputError(f"--tta needs test-time-augmented predictions (kcnn tta) of every member: {few(lacking)}")
    if spec.uses_probabilities and lacking:
        raise InputError(f"--method {spec.method} needs stored probabilities of every member: {few(lacking)}")
    needs_validation = (spec.method in ("greedy", "stack") or spec.keep_above is not None or spec.top is not None
                        or (spec.method == "weighted" and spec.fixed_weights is None))
    if needs_validation and pool.val is None:
        what = {"greedy": "--method greedy", "stack": "--method stack",
                "weighted": "--method weighted (or give --member-weights FILE)"}.get(
            spec.method, "--keep-above/--top")
        raise InputError(f"{what} needs validation predictions of every member; {pool.val_note}")



def choose_weights(spec: VoteSpec, pool: Pool) -> tuple[np.ndarray, list[float | None]]:
    """Weights from every shared validation row, and members' scores there by the metric."""
    if pool.val is None:
        weights = np.asarray(spec.fixed_weights if spec.fixed_weights is not None else np.ones(len(pool.members)))
        return weights.astype(np.float64), [None] * len(pool.members)
    weights = ensemble.fit_weights(spec, pool.val.votes, pool.val.proba, pool.val.truth)
    return weights, [float(s) for s in ensemble.member_scores(spec.metric, pool.val.votes, pool.val.proba,
                                                              pool.val.truth)]


# -- the sidecar: what was chosen, how good it is, why ----------------------------------


def _sidecar(name, spec, directory, pool, weights, scores, result, tta, stacked=None) -> dict[str, Any]:
    from kaggle_cnn.ensemble.stack import TIE_RULE as STACK_RULE

    first = pool.members[0]
    sidecar = {
        "name": name, "method": spec.method, "tta": tta,
        "rule": STACK_RULE if stacked else ensemble.PROBABILITY_TIE_RULE
        if ensemble.combines_probabilities(spec, pool.proba, weights) else ensemble.TIE_RULE,
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
    if stacked:
        sidecar["stack"] = stacked.model.as_json()
    sidecar.update(_validation_figures(spec, pool, weights, scores, stacked))
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


def _validation_figures(spec, pool: Pool, weights, scores, stacked=None) -> dict[str, Any]:
    """In-sample figures (weights chosen on the rows they are scored on), and the
    K-fold estimate (chosen on K-1 folds of those rows, scored on the fold left out)."""
    if pool.val is None:
        return {"val_accuracy": None, "val_note": pool.val_note}
    val, n_classes = pool.val, len(pool.classes)
    ranked = ensemble.goodness(spec.metric, scores)
    if stacked:  # the meta-model on the rows it was fitted on; its estimate refits it fold by fold
        in_sample = ensemble.top_class_vote(stacked.val_proba)
        score = get_metric(spec.metric).value(val.truth, stacked.val_proba, in_sample.predictions, n_classes)
        estimate = stacked.estimate
    else:
        in_sample = ensemble.combine(spec, weights, val.votes, val.proba, ranked, n_classes)
        score = ensemble.ensemble_score(spec, weights, in_sample, val.proba, val.truth, n_classes)
        estimate = ensemble.kfold_estimate(spec, val.votes, val.proba, val.truth, n_classes)
    return {
        "val_accuracy": accuracy(val.truth, in_sample.predictions),
        "val_score": score,
        "val_estimate": estimate,
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
