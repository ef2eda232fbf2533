"""Multi-label competitions: metrics against values worked out by hand, and
miniatures of Planet (space-separated tags) and RANZCR CLiP (one-hot columns
with several 1s) going data -> train -> vote -> check -> score through the CLI."""

import numpy as np
import pytest

from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metric_registry import accuracy, get_metric, log_loss

# 3 images x 3 labels; decisions at 0.5: [1,0,0], [0,1,1], [1,1,1]
TRUTH = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]], dtype=bool)
PROBA = np.array([[0.9, 0.2, 0.4], [0.3, 0.8, 0.6], [0.7, 0.6, 0.9]])


def value(name, proba=PROBA, **options):
    return get_metric(name).value(TRUTH, proba, **options)


def test_multi_label_metrics_match_hand_computation():
    # per row (tp, fp, fn): (1, 0, 1), (1, 1, 0), (2, 1, 0)
    # F1: 2/3, 2/3, 4/5; F2 = 5PR / (4P + R): 5/9, 5/6, 10/11
    assert value("f1_samples") == pytest.approx((2 / 3 + 2 / 3 + 4 / 5) / 3)
    assert value("f2_samples") == pytest.approx((5 / 9 + 5 / 6 + 10 / 11) / 3)
    assert value("f2_samples") == pytest.approx(455 / 594)
    # pooled: tp 4, fp 2, fn 1 -> 2 * 4 / (8 + 2 + 1)
    assert value("f1_micro") == pytest.approx(8 / 11)
    # columns: positives above every negative, above every negative, below both negatives
    assert value("mean_auc") == pytest.approx(2 / 3) and value("roc_auc") == pytest.approx(2 / 3)
    assert value("accuracy") == 0.0 and accuracy(TRUTH, PROBA) == 0.0  # no row has every label right
    cells = [0.9, 0.8, 0.4, 0.7, 0.8, 0.4, 0.7, 0.6, 0.1]  # the probability of each cell's truth
    assert value("logloss") == pytest.approx(-np.mean(np.log(cells))) == log_loss(TRUTH, PROBA)


def test_decisions_and_thresholds():
    # thresholds 0.5, 0.5, 0.95 drop the two wrong third-label decisions: rows (1,0,1), (1,0,0), (2,0,0)
    decided = PROBA >= np.array([0.5, 0.5, 0.95])
    assert value("f1_samples", predicted=decided) == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert value("accuracy", predicted=decided) == pytest.approx(2 / 3)
    with pytest.raises(InputError, match="the mean_auc metric needs probabilities"):
        get_metric("mean_auc").value(TRUTH, None, predicted=decided)
    with pytest.raises(InputError, match="qwk metric is for one ordinal label per row"):
        value("qwk")


def test_single_label_truth_under_the_multi_label_metrics():
    truth, proba = np.array([0, 1, 2, 2]), np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.2, 0.3],
                                                     [0.1, 0.1, 0.8]])
    assert get_metric("f1_micro").value(truth, proba) == pytest.approx(0.75) == accuracy(truth, proba)
    assert get_metric("f1_samples").value(truth, proba) == pytest.approx(0.75)
    # class 2's column: positives 0.3 and 0.8 against negatives 0.1, 0.1: AUC 1; classes 0 and 1 also 1
    assert get_metric("mean_auc").value(truth, proba) == pytest.approx(1.0)
