"""Training on numeric targets (--regression, --ordinal): the target is
standardised with the mean and standard deviation of the training rows, so every
architecture's one linear unit (architectures.heads.regressor) learns numbers of
about unit size whatever their scale (a score of 1-100, a grade of 0-4); its
predictions are turned back into the target's units before anything is scored or
stored. The mean and deviation are recorded in run.json (`target_scale`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kaggle_cnn.labels import (
    MULTI_LABEL,
    REGRESSION,
    SINGLE_LABEL,
    is_multi_label,
    is_numeric_target,
)


def target_task(y) -> str:
    """What the targets ask the network to learn: classes, labels, or a number
    (REGRESSION stands for ordinal grades too: both train the same way)."""
    return REGRESSION if is_numeric_target(y) else MULTI_LABEL if is_multi_label(y) else SINGLE_LABEL


@dataclass(frozen=True)
class TargetScale:
    mean: float
    std: float

    @classmethod
    def fit(cls, y: np.ndarray) -> "TargetScale":
        """The training rows' mean and standard deviation (1 when they are all equal)."""
        y = np.asarray(y, dtype=np.float64)
        std = float(y.std())
        return cls(float(y.mean()), std if std > 0 else 1.0)

    def standardise(self, y) -> np.ndarray:
        return ((np.asarray(y, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def restore(self, predicted) -> np.ndarray:
        """Standardised predictions back in the target's units: one column."""
        return (np.asarray(predicted, dtype=np.float64).reshape(-1, 1) * self.std + self.mean).astype(np.float32)

    def record(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std}


def numeric_scores(truth, predicted) -> tuple[float, float]:
    """(accuracy: the share of rows whose rounded prediction is the rounded truth,
    loss: the mean squared error) in the target's units, as run.json records them."""
    from kaggle_cnn.evaluation.metric_registry import get_metric

    truth = np.asarray(truth, dtype=np.float64)
    if not len(truth):
        return float("nan"), float("nan")
    predicted = np.asarray(predicted, dtype=np.float64)[:, 0]
    return get_metric("accuracy").value(truth, predicted), float(np.mean((predicted - truth) ** 2))


def check_metric_fits(task: str, metric: str) -> None:
    """Refuse, before anything is written, a metric that cannot judge these targets:
    rmse and mae on classes, a class metric (logloss, roc_auc, ...) on numbers."""
    from kaggle_cnn.config import NUMERIC_METRICS
    from kaggle_cnn.errors import InputError
    from kaggle_cnn.labels import NUMERIC_TASKS

    if task in NUMERIC_TASKS and metric not in (*NUMERIC_METRICS, "qwk", "accuracy"):
        raise InputError(f"--metric {metric}: scores classes; {task} runs are judged by rmse, mae or qwk (grades)")
    if task not in NUMERIC_TASKS and metric in NUMERIC_METRICS:
        raise InputError(f"--metric {metric}: scores numbers, and this data's labels are classes; pass --regression "
                         "(or --ordinal) for a numeric target")
