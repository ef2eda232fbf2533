"""Per-class metrics against values computed by hand, and which votes' figures
`kcnn metrics` trusts."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from kaggle_cnn import api
from kaggle_cnn.evaluation.metrics import classification_table, confusion_table
from kaggle_cnn.store.workspace import Workspace


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


def test_the_tables_are_scikit_learns_classification_report_and_confusion_matrix():
    from sklearn.metrics import classification_report, confusion_matrix

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 3, 200), rng.integers(0, 4, 200)  # class 3: predicted, never true
    y_pred[y_pred == 2] = 1  # class 2: true, never predicted
    table = classification_table(y_true, y_pred, ["a", "b", "c", "d"]).set_index("class")
    report = classification_report(y_true, y_pred, labels=np.arange(4), target_names=["a", "b", "c", "d"],
                                   output_dict=True, zero_division=0)
    for name in ["a", "b", "c", "d", "macro avg", "weighted avg"]:
        expected = report[name]
        assert table.loc[name, ["precision", "recall", "f1"]].tolist() == pytest.approx(
            [expected["precision"], expected["recall"], expected["f1-score"]], abs=1e-12), name
        assert table.loc[name, "support"] == expected["support"]
    assert table.loc["accuracy", "f1"] == pytest.approx(report["accuracy"])
    matrix = confusion_table(y_true, y_pred, ["a", "b", "c", "d"]).to_numpy()
    assert (matrix == confusion_matrix(y_true, y_pred, labels=np.arange(4))).all()


def test_a_metric_undefined_on_rows_of_one_class_raises_no_raw_warning(tmp_path):
    import warnings

    from kaggle_cnn import api

    answers = tmp_path / "one-class.csv"
    answers.write_text("id,label\n1,2\n2,2\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = api.score(answers, answers, metric="qwk")
    assert result["accuracy"] == 1.0
    assert [str(w.message) for w in caught if w.category.__module__.startswith("sklearn") or
            w.category is UserWarning] == []


def test_confusion_rows_are_true_columns_predicted():
    matrix = confusion_table(np.array([0, 0, 1]), np.array([1, 0, 1]), ["a", "b"])
    assert matrix.loc["a", "b"] == 1 and matrix.loc["a", "a"] == 1 and matrix.loc["b", "b"] == 1
    assert matrix.values.sum() == 3


# -- votes' sidecars: read only for the CSV they describe ---------------------------------


def test_a_sidecar_left_beside_another_csv_is_skipped_with_a_warning(kcnn, assert_refused, trained_copy, tmp_path):
    """A vote killed between writing its CSV and its sidecar leaves a new CSV beside
    the old sidecar: its figures are not reported for the new CSV."""
    workspace = Workspace(trained_copy)
    assert kcnn("-w", trained_copy, "vote").exit_code == 0
    member = pd.read_csv(workspace.member_submission("cnn1-s0-a000"), dtype=str)
    member.assign(Label="0").to_csv(tmp_path / "zeros.csv", index=False)
    assert kcnn("-w", trained_copy, "vote", tmp_path, "--name", "zeros").exit_code == 0
    assert set(api.metrics(workspace).summary["source"]) == {"cnn1-s0-a000", "cnn1-s0-a001", "ensemble/majority_vote"}

    sidecar = workspace.ensemble_dir / "majority_vote.json"
    shutil.copyfile(workspace.ensemble_dir / "zeros.csv", workspace.ensemble_dir / "majority_vote.csv")
    result = kcnn("-w", trained_copy, "metrics")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"Warning: skipping vote majority_vote: {sidecar}: describes an earlier majority_vote.csv (the vote was cut "
        "short, or the CSV was replaced); vote again with --name majority_vote"]
    assert set(pd.read_csv(workspace.reports_dir / "metrics.csv")["source"]) == {"cnn1-s0-a000", "cnn1-s0-a001"}
    assert_refused(kcnn("-w", trained_copy, "metrics", "ensemble/majority_vote"), f"{sidecar}: describes an earlier")
    report = kcnn("-w", trained_copy, "report")  # the HTML report reads sidecars the same way, once
    assert report.exit_code == 0, report.output
    assert report.stderr.splitlines() == result.stderr.splitlines()
    page = (workspace.reports_dir / "report.html").read_text()
    assert "Vote: zeros" in page and "Vote: majority_vote" not in page and "ensemble/majority_vote" not in page


def test_sidecars_without_checksum_are_read_with_a_warning_and_damaged_ones_skipped(kcnn, trained_copy):
    workspace = Workspace(trained_copy)
    assert kcnn("-w", trained_copy, "vote").exit_code == 0
    assert kcnn("-w", trained_copy, "vote", "--method", "soft").exit_code == 0
    older = workspace.ensemble_dir / "majority_vote.json"
    record = json.loads(older.read_text())
    del record["csv_sha256"]  # as an older kcnn wrote it
    older.write_text(json.dumps(record))
    damaged = workspace.ensemble_dir / "soft_vote.json"
    damaged.write_text(damaged.read_text()[:100])
    (workspace.ensemble_dir / "gone.json").write_text(older.read_text())  # its CSV was deleted
    result = kcnn("-w", trained_copy, "metrics")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 3
    assert lines[0] == f"Warning: skipping vote gone: {workspace.ensemble_dir / 'gone.json'}: describes gone.csv, " \
                       "which is missing; run `kcnn doctor` to see what is broken"
    assert lines[1] == f"Warning: {older} records no checksum of majority_vote.csv (an older kcnn wrote it): read " \
                       "as it is; vote again to record one"
    assert lines[2].startswith(f"Warning: skipping vote soft_vote: {damaged}: damaged, not valid JSON")
    summary = pd.read_csv(workspace.reports_dir / "metrics.csv")
    assert set(summary["source"]) == {"cnn1-s0-a000", "cnn1-s0-a001", "ensemble/majority_vote"}


# -- one home for every score -------------------------------------------------------------------


def test_val_loss_and_the_logloss_metric_are_one_log_loss_with_one_clip():
    """A run's val_loss and --metric logloss are one function: a confident wrong 0
    costs -log(1e-15) in both (val_loss once clipped at Keras's 1e-7 instead)."""
    from kaggle_cnn.config import PROBABILITY_CLIP
    from kaggle_cnn.evaluation.metric_registry import REGISTRY, log_loss

    truth = np.array([0, 0, 1])
    proba = np.array([[0.0, 1.0], [0.5, 0.5], [0.2, 0.8]])
    expected = -(np.log(PROBABILITY_CLIP) + np.log(0.5) + np.log(0.8)) / 3
    assert PROBABILITY_CLIP == 1e-15
    assert log_loss(truth, proba) == pytest.approx(expected, rel=1e-12)
    assert REGISTRY["logloss"].value(truth, proba) == pytest.approx(expected, rel=1e-12)


def test_a_run_s_val_loss_and_val_accuracy_are_the_metric_module_s(trained):
    from kaggle_cnn.evaluation.metric_registry import REGISTRY

    workspace = Workspace(trained)
    for run in workspace.runs():
        truth = workspace.find_split(run.fingerprint).val_labels
        scores = run.record["scores"]
        assert scores["val_loss"] == pytest.approx(REGISTRY["logloss"].value(truth, run.val_proba()), rel=1e-6)
        assert scores["val_accuracy"] == pytest.approx(REGISTRY["accuracy"].value(truth, run.val_proba()))


@pytest.mark.parametrize("name", ["accuracy", "logloss", "f1_macro", "roc_auc", "qwk"])
def test_each_metric_says_which_way_is_better_in_one_place(name):
    from kaggle_cnn.evaluation.metric_registry import REGISTRY, accuracy

    metric = REGISTRY[name]
    lower_wins = name == "logloss"
    assert metric.best([0.2, 0.7, 0.4]) == (0.2 if lower_wins else 0.7)
    assert metric.sign == ("<=" if lower_wins else ">=")
    assert metric.passes(0.3, 0.5) is lower_wins
    assert accuracy(np.array([2, 0, 1]), np.array([[0, 0, 1], [1, 0, 0], [1, 0, 0]])) == pytest.approx(2 / 3)
    assert accuracy(np.array(["b", "a"]), np.array(["b", "b"])) == 0.5
