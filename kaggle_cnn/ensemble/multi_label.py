"""`kcnn vote` on multi-label runs: the members' probabilities averaged per label,
and, for the metrics that score yes/no decisions (F1, F2), the finishing step
(kaggle_cnn.ensemble.finishing): a decision threshold per label fitted on the
validation rows every member has honest predictions for, recorded in the sidecar
and applied to the test rows.

A multi-label vote needs each member's stored probabilities, so its members are
kept runs of this workspace (their own CSVs in submissions/). No TensorFlow here.
"""

from __future__ import annotations

import datetime as _dt
import functools
from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn import fileio
from kaggle_cnn.ensemble.finishing import finish_step
from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metric_registry import Metric, get_metric
from kaggle_cnn.labels import MULTI_LABEL
from kaggle_cnn.store.files import file_sha256
from kaggle_cnn.store.run import Run
from kaggle_cnn.store.submissions import (
    decisions,
    find_members,
    read_member,
    write_predictions,
)
from kaggle_cnn.store.validation import (
    describe_rows,
    honest_predictions,
    workspace_metric,
)
from kaggle_cnn.store.workspace import Workspace


def multi_label_runs(workspace: Workspace, directory: Path) -> bool:
    """Whether the members in `directory` are multi-label runs (the first that is a kept run says)."""
    kept = set(workspace.run_ids())
    for path in find_members(directory):
        if path.stem in kept:
            try:
                return workspace.load_run(path.stem).record["data"].get("task") == MULTI_LABEL
            except InputError:
                return False
    return False


def vote_multi_label(workspace: Workspace, directory: Path, *, method: str | None, metric: str | None,
                     name: str, model: str | None = None, finish: bool | None = None
                     ) -> tuple[Path, Path, dict[str, Any]]:
    """Average the member runs' probabilities into submissions/ensemble/<name>.csv
    (tags joined by spaces, or one probability column per label, as the runs'
    submissions are) and its sidecar <name>.json; returns (csv, json, sidecar).
    `finish`: fit the metric's finishing step (None: when it has one; False: never)."""
    if method not in (None, "soft"):
        raise InputError(f"--method {method}: a multi-label vote averages the members' probabilities per label "
                         "(--method soft)")
    chosen = get_metric(metric or workspace_metric(workspace))
    members, runs = member_runs(workspace, directory, model)
    first = runs[0]
    rows = len(members[0].ids)
    test_proba = np.mean([run.required_proba("test_proba.npy", rows) for run in runs], axis=0)
    truth, val_proba, val_rows, described = shared_validation(workspace, runs)
    finishing = finish_step(chosen, True, truth, val_proba, finish=finish, rows=described)
    finished = finishing.apply(test_proba)
    thresholds = finished.thresholds if finishing.applied and finishing.step.name == "thresholds" else None
    kind = first.record["data"]["submission_kind"]
    csv_path, json_path = workspace.ensemble_dir / f"{name}.csv", workspace.ensemble_dir / f"{name}.json"
    cut = 0.5 if thresholds is None else thresholds
    write_predictions(csv_path, kind, members[0].header, members[0].ids, first.classes, finished.proba,
                      finished.thresholds)
    sidecar = {
        "name": name, "method": "soft", "task": MULTI_LABEL, "metric": chosen.name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "source_dir": str(directory), "rows": rows, "classes": list(first.classes), "submission_kind": kind,
        "members": [{"file": m.path.name, "run_id": r.run_id, "model": r.record["model"],
                     "val_score": _score(chosen, r_truth, r_proba)}
                    for m, r, (r_truth, r_proba) in zip(members, runs, _member_validation(workspace, runs))],
        "thresholds": None if thresholds is None else dict(zip(map(str, first.classes), thresholds.tolist())),
        "thresholds_fitted_on": None if thresholds is None else described,
        "val_rows": int(len(val_rows)),
        "val_score_at_0.5": _score(chosen, truth, val_proba),
        # In-sample: the thresholds were chosen on these rows, so this is optimistic.
        "val_score": _score(chosen, truth, val_proba, cut),
        "finishing": finishing.record,
        "csv_sha256": file_sha256(csv_path),
    }
    fileio.write_json(json_path, sidecar)
    return csv_path, json_path, sidecar


def member_runs(workspace: Workspace, directory: Path, model: str | None, task: str = MULTI_LABEL):
    """The member CSVs and their runs: every member must be a kept run on the same
    data, of `task` (a multi-label or numeric vote averages their stored predictions)."""
    members = [read_member(path, tags=task == MULTI_LABEL, labels_only=task != MULTI_LABEL)
               for path in find_members(directory)]
    kept = set(workspace.run_ids())
    outside = [m.path.name for m in members if m.name not in kept]
    if outside:
        raise InputError(f"{directory / outside[0]}: not a kept run of this workspace; a {task.replace('_', '-')} "
                         "vote averages the runs' stored predictions")
    runs = [workspace.load_run(m.name) for m in members]
    if model is not None:
        pairs = [(m, r) for m, r in zip(members, runs) if r.record["model"] == model]
        if not pairs:
            raise InputError(f"{directory}: no member is a kept run of model {model}")
        members, runs = [m for m, _ in pairs], [r for _, r in pairs]
    for member, run in zip(members, runs):
        if run.fingerprint != runs[0].fingerprint or list(run.classes) != list(runs[0].classes):
            raise InputError(f"{member.path}: its run {run.run_id} was trained on other data than "
                             f"{members[0].path.name}'s; a {task.replace('_', '-')} vote averages runs on the same "
                             "data")
        if run.record["data"].get("task") != task:
            raise InputError(f"{member.path}: its run {run.run_id} is "
                             f"{run.record['data'].get('task', 'single_label').replace('_', '-')}, and "
                             f"{members[0].path.name}'s is {task.replace('_', '-')}")
    return members, runs


def _member_validation(workspace: Workspace, runs: list[Run]):
    for run in runs:
        honest = honest_predictions(workspace, run)
        yield honest.truth, honest.proba


def shared_validation(workspace: Workspace, runs: list[Run]) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(truth, the members' mean predictions, row numbers, which rows those are) on
    the rows every member holds out (or predicts out of fold)."""
    honest = [honest_predictions(workspace, run) for run in runs]
    rows = functools.reduce(np.intersect1d, [h.rows for h in honest])
    if not len(rows):
        raise InputError("the members share no validation rows to fit decision thresholds or cut-points on")
    proba = np.mean([h.proba[np.searchsorted(h.rows, rows)] for h in honest], axis=0)
    first = honest[0]
    return first.truth[np.searchsorted(first.rows, rows)], proba, rows, describe_rows({h.kind for h in honest},
                                                                                      len(rows))


def _score(metric: Metric, truth: np.ndarray, proba: np.ndarray, thresholds=0.5) -> float | None:
    try:
        return metric.value(truth, proba, decisions(proba, thresholds))
    except InputError:  # e.g. ROC AUC of a label absent from these rows
        return None
