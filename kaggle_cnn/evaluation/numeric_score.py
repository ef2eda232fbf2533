"""`kcnn check` and `kcnn score` for numeric submissions, graded as the
competitions grade them (mle-bench's graders):

- regression (PetFinder Pawpularity: `Id,Pawpularity`): every value a number,
  scored by the root mean squared error against the answers, rows matched by id
  (petfinder-pawpularity-score/grade.py; mae is also offered);
- ordinal grades (APTOS 2019: `id_code,diagnosis`): every value a whole grade,
  scored by Cohen's kappa with quadratic weights over the grades either side
  holds, rows matched by id (aptos2019-blindness-detection/grade.py).

A value that is not a number (or not a whole grade) is one line naming the file,
line and column. No TensorFlow here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metric_registry import get_metric, quadratic_kappa
from kaggle_cnn.labels import ORDINAL, REGRESSION
from kaggle_cnn.store.submissions import Member, check_submission, read_member


def numbers(member: Member, name: str, task: str) -> np.ndarray:
    """The label column as floats; the first cell that is not a number (or, for
    ORDINAL, not a whole grade) named by file, line and column."""
    values = np.full(len(member.labels), np.nan)
    for row, text in enumerate(member.labels):
        try:
            values[row] = float(text)
        except ValueError:
            pass
        if not np.isfinite(values[row]) or task == ORDINAL and values[row] != round(values[row]):
            what = "a whole grade" if task == ORDINAL and np.isfinite(values[row]) else "a number"
            raise InputError(f"{name} line {row + 2}, column {member.header[1]}: {str(text)!r} is not {what}")
    return values


def answers_are_numbers(answers: str | Path) -> bool:
    """Whether an answers CSV's label column holds numbers only (grades, scores)."""
    try:
        numbers(read_member(answers, "--answers", labels_only=True), str(answers), REGRESSION)
    except InputError:
        return False
    return True


def check_numeric(submission: str | Path, sample: str | Path | None, task: str,
                  grades: list | None = None) -> dict[str, Any]:
    """Header, unique ids, the sample's ids and order, and every value a number
    (or a whole grade, one of `grades` when given: the training data's)."""
    member = read_member(submission, labels_only=True)
    sample_member = read_member(sample, "--sample", labels_only=True) if sample is not None else None
    check_submission(member, sample=sample_member, name=str(submission))
    values = numbers(member, str(submission), task)
    if grades:
        known = {float(g) for g in grades}
        outside = [row for row, value in enumerate(values) if value not in known]
        if outside:
            row = outside[0]
            raise InputError(f"{submission} line {row + 2}, column {member.header[1]}: grade {member.labels[row]} "
                             f"is not one of the training grades ({', '.join(map(str, grades))})")
    checked = (["header", "unique ids"] + (["id set and order", "row count"] if sample is not None else [])
               + ["whole grades" + (" of the training data" if grades else "") if task == ORDINAL else "numbers"])
    return {"submission": str(submission), "rows": len(member.ids), "checked": checked}


def score_numeric(submission: str | Path, answers: str | Path, metric: str) -> dict[str, Any]:
    """A numeric submission against an answers CSV (id, target), rows matched by id:
    rmse or mae of the numbers, or (qwk) the quadratic weighted kappa of whole grades."""
    chosen = get_metric(metric)
    task = ORDINAL if chosen.name == "qwk" else REGRESSION
    predicted = read_member(submission, labels_only=True)
    truth = read_member(answers, "--answers", labels_only=True)
    check_submission(truth, name=f"--answers {answers}")
    check_submission(predicted, sample=truth, name=str(submission), reference=f"the answers {answers}",
                     same_order=False)
    by_id = dict(zip(truth.ids, numbers(truth, f"--answers {answers}", task)))
    y_true = np.array([by_id[i] for i in predicted.ids])
    y_pred = numbers(predicted, str(submission), task)
    if task == ORDINAL:
        score = quadratic_kappa(y_true.astype(np.int64), y_pred.astype(np.int64))
    else:
        score = chosen.value(y_true, y_pred)
    return {"submission": str(submission), "answers": str(answers), "rows": len(y_true),
            "accuracy": float(np.mean(np.round(y_pred) == np.round(y_true))), "metric": chosen.name, "score": score}
