"""Pictures and the HTML report on a small trained workspace (Agg backend)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from kaggle_cnn.store.workspace import Workspace

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def pictured_once(kcnn, trained, competition, tmp_path_factory):
    """The session's two kept runs, one discarded attempt, and two votes: made once
    per module, read-only (each test draws in its own copy, `pictured`)."""
    root = tmp_path_factory.mktemp("pictured") / "w"
    shutil.copytree(trained, root)
    assert kcnn("-w", root, "train", "--data", competition, "--model", "cnn1", "--epochs", 1,
                "--keep-above", 1).exit_code == 0
    assert kcnn("-w", root, "vote").exit_code == 0
    assert kcnn("-w", root, "vote", "--method", "greedy").exit_code == 0
    return root


@pytest.fixture
def pictured(pictured_once, tmp_path):
    return shutil.copytree(pictured_once, tmp_path / "w")


def is_png(path) -> bool:
    return path.read_bytes()[:8] == PNG


def test_curves_show_kept_and_discarded(kcnn, pictured):
    result = kcnn("-w", pictured, "plot", "curves")
    assert result.exit_code == 0, result.output
    path = Workspace(pictured).reports_dir / "plots" / "curves.png"
    assert is_png(path) and f"curves: {path}" in result.output
    assert (Workspace(pictured).models_dir / "discarded" / "cnn1-s0-a002.csv").exists()
    result = kcnn("-w", pictured, "plot", "curves", "cnn1-s0-a000")
    assert result.exit_code == 0, result.output
    assert is_png(Path(result.output.split("curves: ", 1)[1].strip()))


def test_confusion_of_the_best_vote_and_of_a_run(kcnn, pictured):
    result = kcnn("-w", pictured, "plot", "confusion")
    assert result.exit_code == 0, result.output
    workspace = Workspace(pictured)
    plots = workspace.reports_dir / "plots"
    # the best vote by validation accuracy (ties: the first by name), against the best run
    accuracy = {name: json.loads((workspace.ensemble_dir / f"{name}.json").read_text())["val_accuracy"]
                for name in ("greedy_ensemble", "majority_vote")}
    best = min(accuracy, key=lambda name: (-accuracy[name], name))
    assert sorted(p.name for p in plots.glob("*.png")) == [f"class-metrics-ensemble-{best}.png",
                                                           f"confusion-ensemble-{best}.png"]
    assert all(is_png(p) for p in plots.glob("*.png"))
    assert kcnn("-w", pictured, "plot", "confusion", "cnn1-s0-a001").exit_code == 0
    assert is_png(plots / "confusion-cnn1-s0-a001.png")


def test_timing_table(kcnn, pictured):
    from kaggle_cnn.evaluation.timing import timing_table

    result = kcnn("-w", pictured, "metrics", "--timing")
    assert result.exit_code == 0, result.output
    assert "timing per model" in result.output and "train s/epoch" in result.output and "cnn1" in result.output
    runs = Workspace(pictured).runs()  # the two kept runs; the discarded attempt has no timings to show
    (row,) = timing_table(Workspace(pictured)).to_dict("records")
    assert (row["model"], row["runs"], row["params"]) == ("cnn1", 2, runs[0].record["params"])
    assert row["train s/epoch"] == pytest.approx(np.mean([r.record["timing"]["epoch_train_seconds"] for r in runs]))
    assert row["predict s"] == pytest.approx(np.mean([r.record["timing"]["predict_seconds"] for r in runs]))


def test_report_is_one_self_contained_page(kcnn, pictured):
    result = kcnn("-w", pictured, "report")
    assert result.exit_code == 0, result.output
    page = (Workspace(pictured).reports_dir / "report.html").read_text()
    for heading in ("Leaderboard", "Experiment summary", "Learning curves", "Validation metrics of every run and vote",
                    "Per-class metrics", "Confusion matrix", "Vote: majority_vote", "Vote: greedy_ensemble",
                    "Timing per model"):
        assert f"<h2>{heading}" in page, heading
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 5
    assert "http://" not in page and "https://" not in page  # opens with no network
    assert page.count("cnn1-s0-a002") >= 1  # the discarded attempt is on the leaderboard


def test_activations_and_filters(kcnn, pictured):
    result = kcnn("-w", pictured, "plot", "activations", "cnn1-s0-a000", "--image", 3)
    assert result.exit_code == 0, result.output
    assert is_png(Workspace(pictured).reports_dir / "plots" / "activations-cnn1-s0-a000-3.png")
    from kaggle_cnn.backend import load_keras
    from kaggle_cnn.report.model_views import conv_layer_names

    model = load_keras().saving.load_model(Workspace(pictured).run_dir("cnn1-s0-a000") / "model.keras")
    layer = conv_layer_names(model)[0]
    result = kcnn("-w", pictured, "plot", "filters", "cnn1-s0-a000", "--layer", layer, "--n", 4, "--steps", 5)
    assert result.exit_code == 0, result.output
    assert is_png(Workspace(pictured).reports_dir / "plots" / f"filters-cnn1-s0-a000-{layer}.png")


def test_bad_picture_requests(kcnn, assert_refused, pictured, tmp_path):
    assert_refused(kcnn("-w", pictured, "plot", "curves", "cnn7-s0-a000"), "cnn7-s0-a000")
    assert_refused(kcnn("-w", pictured, "plot", "confusion", "cnn7-s0-a000"), "cnn7-s0-a000")
    assert_refused(kcnn("-w", pictured, "plot", "activations", "cnn1-s0-a000", "--image", 999), "--image 999", "0..29")
    assert_refused(kcnn("-w", pictured, "plot", "filters", "cnn1-s0-a000", "--layer", "predictions"), "predictions")
    assert not (pictured / "reports").exists()
    empty = tmp_path / "empty"
    assert_refused(kcnn("-w", empty, "report"), "no runs")
    assert_refused(kcnn("-w", empty, "plot", "curves"), "no runs")
    assert not (empty / "reports").exists()


def test_curves_mark_a_fine_tuning_phase():
    import pandas as pd

    from kaggle_cnn.report import charts

    history = pd.DataFrame({"epoch": [1, 2, 3, 4], "accuracy": [0.5, 0.6, 0.7, 0.8], "val_accuracy": [0.5, 0.55, 0.7, 0.75],
                            "loss": [1.0, 0.8, 0.6, 0.5], "val_loss": [1.1, 0.9, 0.7, 0.6],
                            "phase": ["frozen", "frozen", "fine-tune", "fine-tune"]})
    figure = charts.curves({"r1": history}, {"r1"})
    accuracy_panel = figure.axes[0]
    assert [t.get_text() for t in accuracy_panel.texts] == ["fine-tune"]
    assert any(line.get_xdata()[0] == 2.5 for line in accuracy_panel.lines)  # the boundary
