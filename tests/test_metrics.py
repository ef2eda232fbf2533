"""Per-class metrics against values computed by hand."""

import numpy as np
import pytest

from kaggle_cnn.evaluation.metrics import classification_table, confusion_table


def test_per_class_values_match_hand_computation():
    # classes: cat(0), dog(1), fox(2)
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    table = classification_table(y_true, y_pred, ["cat", "dog", "fox"]).set_index("class")
    # cat: TP 2, FP 0, FN 1 -> P 1, R 2/3, F1 0.8
    assert table.loc["cat", "precision"] == pytest.approx(1.0)
    assert table.loc["cat", "recall"] == pytest.approx(2 / 3)
    assert table.loc["cat", "f1"] == pytest.approx(0.8)
    # dog: TP 1, FP 1, FN 1 -> P 0.5, R 0.5, F1 0.5
    assert table.loc["dog", ["precision", "recall", "f1"]].tolist() == pytest.approx([0.5, 0.5, 0.5])
    # fox: TP 1, FP 1, FN 0 -> P 0.5, R 1, F1 2/3
    assert table.loc["fox", ["precision", "recall", "f1"]].tolist() == pytest.approx([0.5, 1.0, 2 / 3])
    assert table.loc["cat", "support"] == 3 and table.loc["fox", "support"] == 1
    assert table.loc["accuracy", "f1"] == pytest.approx(4 / 6)
    assert table.loc["macro avg", "f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert table.loc["weighted avg", "f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)


def test_class_never_predicted_scores_zero_without_warning():
    table = classification_table(np.array([0, 1]), np.array([0, 0]), [0, 1]).set_index("class")
    assert table.loc["1", ["precision", "recall", "f1"]].tolist() == [0.0, 0.0, 0.0]


def test_confusion_rows_are_true_columns_predicted():
    matrix = confusion_table(np.array([0, 0, 1]), np.array([1, 0, 1]), ["a", "b"])
    assert matrix.loc["a", "b"] == 1 and matrix.loc["a", "a"] == 1 and matrix.loc["b", "b"] == 1
    assert matrix.values.sum() == 3
