"""`kcnn check` and `kcnn score` for multi-label submissions, graded as the
competitions grade them:

- tags joined by spaces in one column (Planet: `image_name,tags`), scored by the
  F2 of each image's tags averaged over images ("mean F2 score"), every tag of the
  answers and the submission a label, rows matched by id; with `--metric f1_micro`
  (iMet, Plant Pathology 2021) by F1 over every (image, tag) decision, the tags
  being the answers' alone, as mle-bench's graders binarise them;
- one probability column per label (RANZCR CLiP), scored by each label column's
  ROC AUC against the answers' 0/1 column of that name, averaged (mle-bench's
  ranzcr-clip-catheter-line-classification grader). Other answers columns
  (RANZCR's PatientID) are not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kaggle_cnn.data.loaders.sample import check_tags
from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metric_registry import get_metric
from kaggle_cnn.labels import normalise_labels
from kaggle_cnn.store.submissions import (
    CLASS_COLUMNS,
    LABEL,
    Member,
    check_submission,
    read_member,
)

# What each layout is graded by when no --metric is given.
DEFAULT_METRICS = {LABEL: "f2_samples", CLASS_COLUMNS: "mean_auc"}


def check_tag_submission(member: Member, classes: list, name: str) -> None:
    """Every tag of a tags submission is a label of the training data (file, line, column)."""
    if member.kind != LABEL:
        return
    check_tags(Path(name), member.labels.tolist(), member.header[1], classes, "is not a label of the training data")


def score_multi_label(submission: str | Path, answers: str | Path, metric: str | None) -> dict[str, Any]:
    """A multi-label submission against the answers CSV, as the grader scores it."""
    predicted = read_member(submission, tags=True)
    if predicted.kind not in DEFAULT_METRICS:
        raise InputError(f"{submission}: a multi-label submission holds tags (id,tags) or one probability column "
                         "per label")
    chosen = get_metric(metric or DEFAULT_METRICS[predicted.kind])
    frame = _answers_frame(answers, predicted.header[0])
    reference = Member(Path(answers), tuple(frame.columns), frame.iloc[:, 0].to_numpy(dtype=str),
                       frame.iloc[:, 0].to_numpy(dtype=str))
    check_submission(predicted, sample=reference, name=str(submission), reference=f"the answers {answers}",
                     same_order=False)
    order = pd.Index(reference.ids).get_indexer(predicted.ids)  # the answers' row of each submission row
    if predicted.kind == CLASS_COLUMNS:
        labels = list(predicted.header[1:])
        truth = _indicator_columns(Path(answers), frame, labels)[order]
        proba, decided = predicted.proba, None
    else:
        # iMet's and Plant Pathology 2021's graders (F1 micro) binarise over the answers' tags alone
        truth, decided = _tag_matrices(frame.iloc[order, 1].tolist(), predicted.labels.tolist(),
                                       answers_only=chosen.name == "f1_micro")
        proba = None
    score = chosen.value(truth, proba, decided)
    return {"submission": str(submission), "answers": str(answers), "rows": len(truth),
            "accuracy": get_metric("accuracy").value(truth, proba, decided), "metric": chosen.name, "score": score}


def _answers_frame(answers: str | Path, id_column: str) -> pd.DataFrame:
    """The answers, read as text, with the submission's id column first."""
    path = Path(answers)
    if not path.is_file():
        raise InputError(f"--answers {answers}: no such file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        raise InputError(f"--answers {answers}: not a readable CSV") from None
    if id_column not in frame.columns:
        raise InputError(f"--answers {answers}: no id column {id_column!r} as in the submission")
    return frame[[id_column, *[c for c in frame.columns if c != id_column]]]


def _indicator_columns(path: Path, frame: pd.DataFrame, labels: list[str]) -> np.ndarray:
    """The answers' 0/1 columns named by the submission, as a bool matrix (file, line, column on a bad cell)."""
    missing = [label for label in labels if label not in frame.columns]
    if missing:
        raise InputError(f"--answers {path}: no column {missing[0]!r} for the submission's label column")
    values = frame[labels].apply(lambda column: column.map(lambda v: str(v).strip()))
    bad = np.argwhere(~values.isin(["0", "1", "0.0", "1.0"]).to_numpy())
    if len(bad):
        row, column = bad[0]
        raise InputError(f"{path.name} line {row + 2}, column {labels[column]}: {values.iat[row, column]!r} "
                         "is not 0 or 1")
    return values.isin(["1", "1.0"]).to_numpy()


def _tag_matrices(truth: list[str], predicted: list[str], answers_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' tags as bool matrices over every tag either names: a tag the
    answers never hold is a wrong guess, not ignored; with `answers_only`, over the
    answers' tags alone, a tag they never hold left out as those graders do."""
    import warnings

    from sklearn.preprocessing import MultiLabelBinarizer

    split = lambda cells: [normalise_labels(str(cell).split()) for cell in cells]  # noqa: E731
    truth_tags, predicted_tags = split(truth), split(predicted)
    named = truth_tags if answers_only else truth_tags + predicted_tags
    binarizer = MultiLabelBinarizer(classes=sorted({t for row in named for t in row}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "unknown class(es) will be ignored": meant here
        return binarizer.fit_transform(truth_tags).astype(bool), binarizer.transform(predicted_tags).astype(bool)
