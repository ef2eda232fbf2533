"""`kcnn vote` on runs trained on a numeric target (--regression, --ordinal): the
members' predicted numbers are averaged (each member counts once), and the
submission is one column of numbers in the sample's layout.

Ordinal grades judged by quadratic weighted kappa (--metric qwk) get cut-points:
one threshold between each two grades, fitted on the validation (or out-of-fold)
rows every member has honest predictions for, by a coordinate search that starts
at the midpoints (0.5, 1.5, ...: plain rounding) and moves one threshold at a time
to wherever between its neighbours QWK is highest, as APTOS 2019's winners did.
Rounding is kept unless the cut-points score strictly better on those rows;
which was used, and both scores, are recorded in the sidecar. Other ordinal
votes, and `--no-finish`, round to the nearest grade. No TensorFlow here.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn import fileio
from kaggle_cnn.ensemble.multi_label import member_runs, shared_validation
from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metric_registry import Metric, get_metric
from kaggle_cnn.labels import NUMERIC_TASKS, ORDINAL
from kaggle_cnn.store.files import file_sha256
from kaggle_cnn.store.submissions import find_members, grades, write_predictions
from kaggle_cnn.store.validation import honest_predictions, workspace_metric
from kaggle_cnn.store.workspace import Workspace

CUT_POINT_STEPS = 50  # candidates tried for each threshold between its neighbours
CUT_POINT_PASSES = 3  # coordinate search: every threshold, then again with the others moved


def numeric_task_of(workspace: Workspace, directory: Path) -> str | None:
    """REGRESSION or ORDINAL when the members in `directory` are runs trained on a
    numeric target (the first that is a kept run says), else None."""
    kept = set(workspace.run_ids())
    for path in find_members(directory):
        if path.stem in kept:
            try:
                task = workspace.load_run(path.stem).record["data"].get("task")
            except InputError:
                return None
            return task if task in NUMERIC_TASKS else None
    return None


def vote_numeric(workspace: Workspace, directory: Path, task: str, *, method: str | None, metric: str | None,
                 name: str, model: str | None = None, finish: bool | None = None) -> tuple[Path, Path, dict[str, Any]]:
    """Average the member runs' predictions into submissions/ensemble/<name>.csv
    (numbers, or whole grades) and its sidecar <name>.json; returns (csv, json, sidecar).
    `finish` False (--no-finish): ordinal grades are rounded, no cut-points fitted."""
    if method not in (None, "mean"):
        raise InputError(f"--method {method}: a vote of numeric predictions averages them (--method mean)")
    chosen = get_metric(metric or workspace_metric(workspace))
    members, runs = member_runs(workspace, directory, model, task)
    first, rows = runs[0], len(members[0].ids)
    test = np.mean([run.required_proba("test_proba.npy", rows) for run in runs], axis=0)
    truth, val, val_rows, _ = shared_validation(workspace, runs)
    target = first.record["data"]["target"]
    grading = None
    if task == ORDINAL:
        grading = choose_grading(chosen, truth, val[:, 0], int(target["low"]), int(target["high"]),
                                 fit=finish is not False)
    csv_path, json_path = workspace.ensemble_dir / f"{name}.csv", workspace.ensemble_dir / f"{name}.json"
    cuts = grading and {"low": grading["low"], "high": grading["high"], "cut_points": grading["cut_points"]
                        if grading["used"] == "cut_points" else None}
    write_predictions(csv_path, "value", members[0].header, members[0].ids, first.classes, test, grading=cuts)
    sidecar = {
        "name": name, "method": "mean", "task": task, "metric": chosen.name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "source_dir": str(directory), "rows": rows, "classes": list(first.classes), "submission_kind": "value",
        "members": [{"file": m.path.name, "run_id": r.run_id, "model": r.record["model"],
                     "val_score": _score(chosen, h.truth, h.proba[:, 0], cuts)}
                    for m, r, h in zip(members, runs, (honest_predictions(workspace, r) for r in runs))],
        "val_rows": int(len(val_rows)),
        "val_score": _score(chosen, truth, val[:, 0], cuts),
        "val_note": "a vote of numbers: its validation score is val_score, per-class tables do not apply",
        **({"grading": grading} if grading else {}),
        "csv_sha256": file_sha256(csv_path),
    }
    fileio.write_json(json_path, sidecar)
    return csv_path, json_path, sidecar


def _score(metric: Metric, truth: np.ndarray, predicted: np.ndarray, grading: dict | None) -> float | None:
    """The metric of predictions (as grades when `grading` says how) against the truth."""
    try:
        return metric.value(truth, grades(predicted, **grading) if grading else predicted)
    except InputError:
        return None


def choose_grading(metric: Metric, truth: np.ndarray, predicted: np.ndarray, low: int, high: int,
                   fit: bool = True) -> dict[str, Any]:
    """How ordinal predictions become grades: cut-points fitted for QWK (unless not
    `fit`) when they beat rounding on these rows, else rounding; both scores recorded."""
    rounding = metric.value(truth, grades(predicted, low, high))
    record = {"low": low, "high": high, "used": "rounding", "val_score_rounding": rounding}
    if metric.name != "qwk" or high - low < 1 or not fit:
        return {**record, "cut_points": None}
    cut_points, fitted = fit_cut_points(truth, predicted, low, high)
    used = "cut_points" if fitted > rounding + 1e-12 else "rounding"
    return {**record, "used": used, "cut_points": cut_points.tolist(), "val_score_cut_points": fitted,
            "fitted_on": f"{len(truth)} validation rows"}


def fit_cut_points(truth: np.ndarray, predicted: np.ndarray, low: int, high: int) -> tuple[np.ndarray, float]:
    """The thresholds between grades low..high that maximise QWK on these rows,
    by coordinate search from the midpoints; (cut-points, their QWK)."""
    from kaggle_cnn.evaluation.metric_registry import quadratic_kappa

    truth = np.round(np.asarray(truth, dtype=np.float64)).astype(np.int64)
    qwk = lambda cuts: quadratic_kappa(truth, grades(predicted, low, high, cuts))  # noqa: E731
    cuts = np.arange(low, high, dtype=np.float64) + 0.5
    best = qwk(cuts)
    for _ in range(CUT_POINT_PASSES):
        for i in range(len(cuts)):
            below = cuts[i - 1] if i else min(predicted.min(), cuts[0]) - 0.5
            above = cuts[i + 1] if i + 1 < len(cuts) else max(predicted.max(), cuts[-1]) + 0.5
            for candidate in np.linspace(below, above, CUT_POINT_STEPS + 2)[1:-1]:
                trial = cuts.copy()
                trial[i] = candidate
                value = qwk(trial)
                if value > best + 1e-12:
                    cuts, best = trial, value
    return cuts, float(best)
