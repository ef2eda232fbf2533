"""Judging a submission as a grader would: `check` (header, ids, order, rows,
labels; a top-k submission's K labels a row) and `score` (accuracy against known
answers: the demo competition's hidden labels, an image folder's labelled test
images, or any hold-out you keep; MAP@K as kaggle_cnn.evaluation.top_k grades it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn.errors import InputError
from kaggle_cnn.labels import normalise_labels, sorted_labels
from kaggle_cnn.store.submissions import (
    CLASS_COLUMNS,
    LABEL,
    PROBABILITY,
    TOP_K,
    Member,
    check_submission,
    read_member,
)


def check(submission: str | Path, sample: str | Path | None = None, data: str | Path | None = None) -> dict[str, Any]:
    """Check a submission CSV (against the sample submission, and the labels of the
    competition at `data`, when given); returns its row count and what was checked.
    A problem raises a one-line InputError. With `data` and no `sample`, the
    competition folder's own sample_submission.csv is the sample."""
    if sample is None and data is not None:
        sample = _sample_beside(Path(data))
    member = read_member(submission)
    sample_member = read_member(sample, "--sample") if sample is not None else None
    classes = None
    if data is not None:
        from kaggle_cnn.data import load_classes

        classes = [str(c) for c in load_classes(data)]  # no image decoded: any image size will do
    check_submission(member, sample=sample_member, classes=classes, name=str(submission))
    what = {LABEL: "labels", CLASS_COLUMNS: "a probability column per class", PROBABILITY: "probabilities",
            TOP_K: f"{0 if member.ranked is None else member.ranked.shape[1]} distinct labels a row"}
    checked = (["header", "unique ids"] + (["id set and order", "row count"] if sample is not None else [])
               + ([what[member.kind]] if classes or member.kind != LABEL else []))
    return {"submission": str(submission), "rows": len(member.ids), "checked": checked}


def _sample_beside(data: Path) -> Path | None:
    from kaggle_cnn.data.loaders.csv_files import find_file
    from kaggle_cnn.data.loaders.sample import SAMPLE_NAME

    return find_file(data, SAMPLE_NAME) if data.is_dir() else None


def score(submission: str | Path, answers: str | Path | None = None, metric: str | None = None) -> dict[str, Any]:
    """A submission CSV against an answers CSV (id, label) or an image folder with
    labelled test images (default the demo competition's answers): its accuracy
    and, when `metric` names another, that metric. A probability submission's
    label is its most likely class (the second class above 0.5 for one column)."""
    from kaggle_cnn.evaluation.metric_registry import accuracy, get_metric

    chosen = get_metric(metric)
    if answers is None:
        from kaggle_cnn.data import demo_answers_path

        answers = demo_answers_path()
    predicted = read_member(submission)
    answer = _answers(answers)
    check_submission(predicted, sample=answer, name=str(submission), reference=f"the answers {answers}",
                     same_order=False)
    by_id = dict(zip(answer.ids, answer.labels))
    classes = sorted_labels(answer.labels)
    truth = np.array([classes.index(by_id[i]) for i in predicted.ids])
    proba = _class_probabilities(predicted, classes, submission)
    index = {c: i for i, c in enumerate(classes)}
    labels = proba.argmax(axis=1) if proba is not None else np.array([index.get(label, -1) for label in predicted.labels])
    result = {"submission": str(submission), "answers": str(answers), "rows": len(truth),
              "accuracy": accuracy(truth, labels)}
    if chosen.k is not None:  # the ranked labels against the answers, as the grader reads them
        from kaggle_cnn.evaluation.top_k import grade_top_k

        ranked = predicted.ranked if predicted.ranked is not None else predicted.labels[:, None]
        return {**result, "metric": chosen.name, "score": grade_top_k(predicted.ids, ranked, by_id, chosen.k)}
    if chosen.name != "accuracy":
        if labels.min() < 0:
            label = str(predicted.labels[labels.argmin()])
            raise InputError(f"{submission}: label {label!r} is not among the answers' "
                             f"classes ({', '.join(classes[:10])}); {chosen.name} needs known classes")
        result["metric"] = chosen.name
        result["score"] = chosen.value(truth, proba, labels, n_classes=len(classes))
    return result


def _class_probabilities(member, classes: list[str], submission) -> np.ndarray | None:
    """rows x classes probabilities of a probability submission, columns in `classes`' order; None for labels."""
    if member.kind == PROBABILITY:
        if len(classes) != 2:
            raise InputError(f"{submission}: one probability column is for two classes; the answers have {len(classes)}")
        return np.column_stack([1 - member.proba[:, 0], member.proba[:, 0]])
    if member.kind == CLASS_COLUMNS:
        columns = list(member.header[1:])
        missing = [c for c in classes if c not in columns]
        if missing:
            raise InputError(f"{submission}: no column for class {missing[0]!r} of the answers")
        return member.proba[:, [columns.index(c) for c in classes]]
    return None


def _answers(answers: str | Path) -> Member:
    """The answers (ids, labels) from an answers CSV, or from an image folder's labelled test images."""
    if not Path(answers).exists():
        raise InputError(f"--answers {answers}: no such file or folder")
    if Path(answers).is_dir():
        from kaggle_cnn.data.loaders.folders import folder_answers

        found = folder_answers(answers)
        if found is None:
            raise InputError(f"{answers}: its test images are not labelled (no test/<class>/ folders)")
        ids, labels = found
        return Member(Path(answers), ("id", "label"), np.asarray(ids, dtype=str),
                      np.array(normalise_labels(labels), dtype=str))
    truth = read_member(answers, "--answers", labels_only=True)
    check_submission(truth, name=f"--answers {answers}")  # unique ids
    return truth
