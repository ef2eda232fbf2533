"""Judging a submission as a grader would: `check` (header, ids, order, rows,
labels; a top-k submission's K labels a row) and `score` (accuracy against known
answers: the demo competition's hidden labels, an image folder's labelled test
images, or any hold-out you keep; MAP@K as kaggle_cnn.evaluation.top_k grades it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn.config import DECISION_METRICS
from kaggle_cnn.errors import InputError
from kaggle_cnn.labels import (
    MULTI_LABEL,
    looks_like_tags,
    normalise_labels,
    sorted_labels,
)
from kaggle_cnn.store.submissions import (
    CLASS_COLUMNS,
    LABEL,
    PROBABILITY,
    TOP_K,
    Member,
    check_submission,
    probabilities,
    read_member,
)


def check(submission: str | Path, sample: str | Path | None = None, data: str | Path | None = None,
          multi_label: bool = False, numeric: str | None = None) -> dict[str, Any]:
    """Check a submission CSV (against the sample submission, and the labels of the
    competition at `data`, when given); returns its row count and what was checked.
    A problem raises a one-line InputError. With `data` and no `sample`, the
    competition folder's own sample_submission.csv is the sample. `multi_label`:
    the label column holds space-separated tags, each a label of `data`. `numeric`
    (regression, ordinal): every value a number, or a whole grade of `data`'s."""
    if sample is None and data is not None:
        sample = _sample_beside(Path(data))
    if numeric:
        from kaggle_cnn.evaluation.numeric_score import check_numeric

        grades = None
        if numeric == "ordinal" and data is not None:
            from kaggle_cnn.data import load_classes

            grades = load_classes(data)  # the training grades, read as classes
        return check_numeric(submission, sample, numeric, grades)
    if data is not None and not multi_label:
        from kaggle_cnn.data import load_task

        multi_label = load_task(data) == MULTI_LABEL  # tags or one-hot rows of several 1s, as training read them
    member = read_member(submission, tags=multi_label)
    sample_member = read_member(sample, "--sample", tags=multi_label) if sample is not None else None
    classes = None
    if data is not None:
        from kaggle_cnn.data import load_classes

        classes = [str(c) for c in load_classes(data, multi_label=multi_label)]  # no image decoded
    if multi_label:
        from kaggle_cnn.evaluation.multi_label_score import check_tag_submission

        check_submission(member, sample=sample_member, name=str(submission))
        if classes is not None:
            check_tag_submission(member, classes, str(submission))
        what = {LABEL: "tags", CLASS_COLUMNS: "a probability column per label"}
        checked = (["header", "unique ids"] + (["id set and order", "row count"] if sample is not None else [])
                   + ([what.get(member.kind, "labels")] if classes else []))
        return {"submission": str(submission), "rows": len(member.ids), "checked": checked}
    try:
        check_submission(member, sample=sample_member, classes=classes, name=str(submission))
    except InputError as error:
        spaced = member.kind == TOP_K or (member.kind == LABEL and any(" " in label for label in member.labels))
        if classes and spaced:  # as the sample's rows may be read as ranked answers when they hold as many tags
            raise InputError(f"{error}; for tags joined by spaces pass --multi-label") from None
        if classes and member.kind == LABEL and "is not one of the" in str(error) and _numbers(member.labels):
            raise InputError(f"{error}; for a number per id pass --regression (a whole grade: --ordinal)") from None
        raise
    what = {LABEL: "labels", CLASS_COLUMNS: "a probability column per class", PROBABILITY: "probabilities",
            TOP_K: f"{0 if member.ranked is None else member.ranked.shape[1]} distinct labels a row"}
    kind = PROBABILITY if sample_member is not None and sample_member.kind == PROBABILITY else member.kind
    checked = (["header", "unique ids"] + (["id set and order", "row count"] if sample is not None else [])
               + ([what[kind]] if classes or kind != LABEL else []))
    return {"submission": str(submission), "rows": len(member.ids), "checked": checked}


def _numbers(labels) -> bool:
    try:
        return bool(np.isfinite(np.asarray(labels, dtype=np.float64)).all())
    except ValueError:
        return False


def _sample_beside(data: Path) -> Path | None:
    from kaggle_cnn.data.loaders.sample import find_sample

    return find_sample(data) if data.is_dir() else None


def score(submission: str | Path, answers: str | Path | None = None, metric: str | None = None,
          multi_label: bool = False) -> dict[str, Any]:
    """A submission CSV against an answers CSV (id, label) or an image folder with
    labelled test images (default the demo competition's answers): its accuracy
    and, when `metric` names another, that metric. A probability submission's
    label is its most likely class (the second class above 0.5 for one column).
    Multi-label (`multi_label`, or answers with a 0/1 column per label beside the
    id): graded as the competition does (kaggle_cnn.evaluation.multi_label_score),
    by default F2 over images for tags and mean column-wise ROC AUC for columns."""
    from kaggle_cnn.evaluation.metric_registry import accuracy, get_metric

    if answers is not None and metric in ("rmse", "mae", "qwk"):
        from kaggle_cnn.evaluation.numeric_score import (
            answers_are_numbers,
            score_numeric,
        )

        if metric != "qwk" or answers_are_numbers(answers):  # grades: graded as numbers, as APTOS's grader does
            return score_numeric(submission, answers, metric)
    if answers is not None and (multi_label or _one_hot_answers(submission, answers)
                                or _tag_answers(answers, metric)):
        from kaggle_cnn.evaluation.multi_label_score import score_multi_label

        return score_multi_label(submission, answers, metric)
    predicted = read_member(submission)
    if metric is None and predicted.kind == TOP_K:  # ranked answers are graded by MAP@K (Hotel-ID, whales)
        metric = f"map@{predicted.ranked.shape[1]}"
    chosen = get_metric(metric)
    if answers is None:
        from kaggle_cnn.data import demo_answers_path

        answers = demo_answers_path()
    answer = _answers(answers, predicted.header[:2] if len(predicted.header) == 2 else None)
    check_submission(predicted, sample=answer, name=str(submission), reference=f"the answers {answers}",
                     same_order=False)
    by_id = dict(zip(answer.ids, answer.labels))
    classes = sorted_labels(answer.labels)
    truth = np.array([classes.index(by_id[i]) for i in predicted.ids])
    if chosen.needs_probabilities and predicted.kind == LABEL and len(classes) == 2:
        # graders of ROC AUC and log-loss read one column of numbers in [0, 1], 0s and 1s included
        predicted = _as_probability(predicted, str(submission), chosen.name)
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


def _as_probability(member: Member, name: str, metric: str) -> Member:
    values = probabilities(member, name, f"{metric} scores the second class's probability")
    return Member(member.path, member.header, member.ids, member.labels, PROBABILITY, values[:, None])
def _tag_answers(answers: str | Path, metric: str | None) -> bool:
    """The answers' label column (the one after the id) holds space-separated tags:
    they look like tags (labels.looks_like_tags), or some row holds several words
    and the metric is one that scores tag decisions (F1 or F2)."""
    import pandas as pd

    from kaggle_cnn.evaluation.metric_registry import get_metric

    try:
        frame = pd.read_csv(answers, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        return False  # _answers says what is wrong with the file
    if frame.shape[1] < 2:
        return False
    column = frame.iloc[:, 1]
    spaced = column.str.strip().str.contains(" ").any()
    return looks_like_tags(column) or (spaced and metric is not None and get_metric(metric).name in DECISION_METRICS)


def _one_hot_answers(submission: str | Path, answers: str | Path) -> bool:
    """A probability column per label in the submission, and the answers a 0/1
    column of each name (RANZCR's, beside an id and a PatientID): graded column by column."""
    import pandas as pd

    try:
        header = pd.read_csv(submission, nrows=0).columns
        known = set(pd.read_csv(answers, nrows=0).columns)
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        return False  # read_member says what is wrong with either
    return len(header) > 2 and set(header) <= known


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


def _answers(answers: str | Path, columns: tuple[str, str] | None = None) -> Member:
    """The answers (ids, labels) from an answers CSV (its `columns`, the submission's,
    when it holds more), or from an image folder's labelled test images."""
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
    truth = read_member(answers, "--answers", labels_only=True, columns=columns)
    check_submission(truth, name=f"--answers {answers}")  # unique ids
    return truth
