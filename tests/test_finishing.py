"""Finishing a vote for its metric (kaggle_cnn.ensemble.finishing): temperature
scaling for log-loss, per-label thresholds for multi-label F scores, fitted on
the vote's validation rows and recorded in its sidecar.

Every figure a vote records is recomputed here from the runs' stored predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kaggle_cnn.ensemble import finishing
from kaggle_cnn.ensemble.finishing import (
    THRESHOLDS,
    fit_temperature,
    fit_thresholds,
    scale_temperature,
)
from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metric_registry import get_metric, log_loss
from kaggle_cnn.store.workspace import Workspace


def over_confident(rows=400, classes=3, right=0.7, sure=0.97, seed=0):
    """Rows whose likeliest class holds `sure` of the probability and is right only `right` of the time."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, rows)
    wrong = (truth + rng.integers(1, classes, rows)) % classes
    top = np.where(np.arange(rows) < round(right * rows), truth, wrong)  # right exactly that share of the rows
    proba = np.full((rows, classes), (1 - sure) / (classes - 1))
    proba[np.arange(rows), top] = sure
    return truth, proba, top


def test_temperature_flattens_over_confident_probabilities_and_lowers_log_loss():
    truth, proba, top = over_confident()
    temperature = fit_temperature(truth, proba)
    assert temperature > 1  # over-confident: the fitted T flattens the rows
    scaled = scale_temperature(proba, temperature)
    assert log_loss(truth, scaled) < log_loss(truth, proba) - 0.2
    assert (scaled.argmax(axis=1) == top).all()  # the order of classes in a row is kept
    # the optimum: the scaled top class holds about the share of rows it gets right
    assert scaled[0, top[0]] == pytest.approx(np.mean(top == truth), abs=0.01)
    grid = np.exp(np.linspace(-3, 3, 601))
    best = grid[np.argmin([log_loss(truth, scale_temperature(proba, t)) for t in grid])]
    assert temperature == pytest.approx(best, rel=0.02)


def test_temperature_is_recorded_with_its_cross_fitted_score_and_skipped_when_it_does_not_help():
    metric = get_metric("logloss")
    truth, proba, _ = over_confident()
    done = finishing.finish_step(metric, False, truth, proba, finish=None, rows="400 hold-out rows")
    record = done.record
    assert record["step"] == "temperature" and record["applied"] is True and record["skipped"] is None
    assert record["parameters"]["temperature"] == pytest.approx(fit_temperature(truth, proba))
    assert record["val_score_before"] == pytest.approx(log_loss(truth, proba))
    assert record["val_score_after"] == pytest.approx(log_loss(truth, scale_temperature(proba, done.parameters["temperature"])))
    assert record["val_score_before"] > record["val_score_after_cross_fitted"] >= record["val_score_after"] - 1e-9
    assert np.allclose(done.apply(proba).proba, scale_temperature(proba, record["parameters"]["temperature"]))
    # calibrated already (the likeliest class right as often as its probability says): nothing to gain
    truth, proba, _ = over_confident(right=0.7, sure=0.7)
    kept = finishing.finish_step(metric, False, truth, proba, finish=None, rows="400 hold-out rows")
    assert kept.applied is False and "did not improve the validation logloss" in kept.record["skipped"]
    assert np.array_equal(kept.apply(proba).proba, proba)
    off = finishing.finish_step(metric, False, truth, proba, finish=False, rows="400 hold-out rows")
    assert off.record == {"step": "temperature", "fitted": off.step.fitted, "metric": "logloss", "applied": False,
                          "skipped": "turned off (--no-finish)"}
    assert finishing.finish_step(get_metric("accuracy"), False, truth, proba, finish=None, rows="").record is None
    why = "a stack's meta-model is itself fitted on the validation rows"
    skipped = finishing.finish_step(metric, False, None, None, finish=None, rows="", unavailable=why)
    assert skipped.applied is False and skipped.record["skipped"] == why
    with pytest.raises(InputError, match=r"--finish: the vote's finishing step \(temperature\) is fitted on its "
                                         "validation rows, and a stack's meta-model"):
        finishing.finish_step(metric, False, None, None, finish=True, rows="", unavailable=why)


def test_multi_label_thresholds_are_the_registered_step_for_f_scores():
    for name in ("f1_micro", "f1_samples", "f2_samples"):
        assert finishing.step_for(get_metric(name), True) is THRESHOLDS
        assert finishing.step_for(get_metric(name), False) is None
    assert finishing.step_for(get_metric("mean_auc"), True) is None
    rng = np.random.default_rng(2)
    truth = rng.random((120, 3)) < 0.3
    proba = np.clip(truth * 0.35 + rng.random((120, 3)) * 0.5, 0, 1)  # the true labels sit mostly below 0.5
    metric = get_metric("f2_samples")
    done = finishing.finish_step(metric, True, truth, proba, finish=None, rows="120 hold-out rows")
    fitted = fit_thresholds(metric, truth, proba)
    assert done.record["parameters"]["thresholds"] == fitted.tolist() and (fitted < 0.5).any()
    assert np.array_equal(done.apply(proba).thresholds, fitted)
    assert done.record["val_score_after"] > done.record["val_score_before"]
    assert done.record["val_score_after_cross_fitted"] is not None


def stored_mean(workspace: Workspace, name: str):
    """(the runs' mean validation and test probabilities, the validation labels)."""
    runs = workspace.runs()
    split = workspace.find_split(runs[0].fingerprint)
    val = np.mean([np.load(r.path / "val_proba.npy").astype(np.float64) for r in runs], axis=0)
    test = np.mean([np.load(r.path / "test_proba.npy").astype(np.float64) for r in runs], axis=0)
    return val / val.sum(1, keepdims=True), test / test.sum(1, keepdims=True), split.val_labels


def test_vote_finish_and_no_finish_through_the_command_line(kcnn, assert_refused, trained_copy):
    workspace = Workspace(trained_copy)
    plain = kcnn("-w", trained_copy, "vote", "--method", "soft", "--metric", "logloss", "--no-finish",
                 "--name", "plain")
    assert plain.exit_code == 0, plain.output
    assert "finishing: temperature not fitted (turned off (--no-finish))" in plain.output
    val, test, truth = stored_mean(workspace, "plain")
    written = np.load(workspace.ensemble_dir / "plain.test_proba.npy")
    assert np.allclose(written, test, atol=1e-6)  # the plain mean, untouched
    assert json.loads((workspace.ensemble_dir / "plain.json").read_text())["finishing"]["applied"] is False

    result = kcnn("-w", trained_copy, "vote", "--method", "soft", "--metric", "logloss", "--finish",
                  "--name", "finished")
    assert result.exit_code == 0, result.output
    record = json.loads((workspace.ensemble_dir / "finished.json").read_text())["finishing"]
    temperature = record["parameters"]["temperature"]
    assert record["step"] == "temperature" and record["fitted_on"] == "30 hold-out rows" and record["val_rows"] == 30
    assert temperature == pytest.approx(fit_temperature(truth, val), rel=1e-3)
    assert record["val_score_before"] == pytest.approx(log_loss(truth, val), rel=1e-5)
    assert record["val_score_after"] == pytest.approx(log_loss(truth, scale_temperature(val, temperature)), rel=1e-4)
    crossed = record["val_score_after_cross_fitted"]
    assert record["applied"] is (record["val_score_after"] < record["val_score_before"] - 1e-4)
    assert (f"finishing: temperature T {temperature:.4g}, validation logloss {record['val_score_before']:.4f} -> "
            f"{crossed:.4f} cross-fitted") in result.output
    written = np.load(workspace.ensemble_dir / "finished.test_proba.npy")
    expected = scale_temperature(test, temperature) if record["applied"] else test
    assert np.allclose(written, expected, atol=1e-5)

    default = kcnn("-w", trained_copy, "vote", "--method", "soft", "--name", "by_accuracy")
    assert default.exit_code == 0 and "finishing" not in default.output, default.output
    assert json.loads((workspace.ensemble_dir / "by_accuracy.json").read_text()).get("finishing") is None
    assert_refused(kcnn("-w", trained_copy, "vote", "--finish", "--name", "nothing"),
                   "--finish: a single-label vote by accuracy has no finishing step", "logloss (single-label")
    assert not (workspace.ensemble_dir / "nothing.csv").exists()
