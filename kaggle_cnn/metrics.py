"""Per-class precision, recall, F1 and the confusion matrix, from scikit-learn.

Tables are indexed by the original class labels so they read as the user's
classes, not as 0..K-1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg")


def classification_table(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence) -> pd.DataFrame:
    """One row per class plus accuracy, macro and weighted averages.

    Columns precision, recall, f1, support; as in scikit-learn's own report, the
    accuracy row carries its value in the f1 column and the row count as support.
    """
    from sklearn.metrics import classification_report

    names = [str(c) for c in classes]
    report = classification_report(
        y_true, y_pred, labels=np.arange(len(classes)), target_names=names, output_dict=True, zero_division=0
    )
    rows = []
    for name in names + ["macro avg", "weighted avg"]:
        entry = report[name]
        rows.append({"class": name, "precision": entry["precision"], "recall": entry["recall"],
                     "f1": entry["f1-score"], "support": int(entry["support"])})
    rows.insert(len(names), {"class": "accuracy", "precision": np.nan, "recall": np.nan,
                             "f1": report["accuracy"], "support": int(len(y_true))})
    return pd.DataFrame(rows)


def confusion_table(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence) -> pd.DataFrame:
    """Rows: true class; columns: predicted class."""
    from sklearn.metrics import confusion_matrix

    names = [str(c) for c in classes]
    matrix = confusion_matrix(y_true, y_pred, labels=np.arange(len(classes)))
    return pd.DataFrame(matrix, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted"))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y_true, y_pred))
