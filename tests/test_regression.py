"""Numeric targets: miniatures of PetFinder Pawpularity (train.csv `Id,Pawpularity`
beside metadata columns, a score per image, graded by RMSE) and APTOS 2019
(train.csv `id_code,diagnosis`, grades 0-4, graded by quadratic weighted kappa),
built from real MNIST digits written as image files and taken through `kcnn data`,
`train`, `vote`, `check` and `score`; the graders on hand-made examples; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

TRAIN, TEST = 240, 40


def _digits(mnist, n: int):
    with np.load(mnist) as arrays:
        return arrays["x_train"][:n], arrays["y_train"][:n].astype(int)


@pytest.fixture(scope="module")
def petfinder(tmp_path_factory, mnist) -> Path:
    """train/<Id>.jpg and test/, train.csv Id,<metadata>,Pawpularity with a score
    of digit*10 + noise (1-100), test.csv of the test images' metadata, a sample of
    50s in its own order, the hidden answers beside."""
    root = tmp_path_factory.mktemp("petfinder") / "petfinder-pawpularity-score"
    pixels, digits = _digits(mnist, TRAIN + TEST)
    rng = np.random.default_rng(0)
    scores = np.clip(digits * 10 + rng.integers(1, 10, len(digits)), 1, 100)
    ids = [f"{(i * 2654435761) % 16**12:012x}" for i in range(TRAIN + TEST)]
    for i, name in enumerate(ids):
        folder = root / ("train" if i < TRAIN else "test")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[i]).save(folder / f"{name}.jpg", "JPEG", quality=95)
    pd.DataFrame({"Id": ids[:TRAIN], "Eyes": rng.integers(0, 2, TRAIN), "Blur": rng.integers(0, 2, TRAIN),
                  "Pawpularity": scores[:TRAIN]}).to_csv(root / "train.csv", index=False)
    order = ids[TRAIN:][::-1]
    pd.DataFrame({"Id": order, "Pawpularity": 50}).to_csv(root / "sample_submission.csv", index=False)
    pd.DataFrame({"Id": ids[TRAIN:], "Eyes": rng.integers(0, 2, TEST), "Blur": rng.integers(0, 2, TEST)}).to_csv(
        root / "test.csv", index=False)  # the metadata of the test images, as PetFinder ships it
    pd.DataFrame({"Id": ids[TRAIN:], "Pawpularity": scores[TRAIN:]}).to_csv(root.parent / "answers.csv", index=False)
    return root


@pytest.fixture(scope="module")
def aptos(tmp_path_factory, mnist) -> Path:
    """train_images/<id_code>.png and test_images/, train.csv id_code,diagnosis with
    grade digit // 2 (0-4), a sample of 0s in its own order, the hidden answers beside."""
    root = tmp_path_factory.mktemp("aptos") / "aptos2019-blindness-detection"
    pixels, digits = _digits(mnist, TRAIN + TEST)
    grades = digits // 2
    ids = [f"{(i * 40503) % 16**12:012x}" for i in range(TRAIN + TEST)]
    for i, name in enumerate(ids):
        folder = root / ("train_images" if i < TRAIN else "test_images")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[i]).save(folder / f"{name}.png")
    pd.DataFrame({"id_code": ids[:TRAIN], "diagnosis": grades[:TRAIN]}).to_csv(root / "train.csv", index=False)
    order = ids[TRAIN:][::-1]
    pd.DataFrame({"id_code": order, "diagnosis": 0}).to_csv(root / "sample_submission.csv", index=False)
    pd.DataFrame({"id_code": ids[TRAIN:], "diagnosis": grades[TRAIN:]}).to_csv(root.parent / "answers.csv",
                                                                              index=False)
    return root


def _train_and_vote(kcnn, workspace: Path, data: Path, *options) -> tuple[Path, dict]:
    """Two kept 1-epoch runs, their vote: (the vote's CSV, its sidecar)."""
    trained = kcnn("-w", workspace, "train", "--data", data, "--model", "cnn1", "--epochs", 1, "--batch-size", 32,
                   "--repeat", 2, *options)
    assert trained.exit_code == 0, trained.output
    assert "val_acc" not in trained.output or "--ordinal" in options  # a hit rate means nothing for numbers
    voted = kcnn("-w", workspace, "vote")
    assert voted.exit_code == 0, voted.output
    (csv,) = (workspace / "submissions" / "ensemble").glob("*.csv")
    return csv, json.loads(csv.with_suffix(".json").read_text())


def _same_layout_as_sample(csv: Path, data: Path) -> pd.DataFrame:
    submission = pd.read_csv(csv, dtype=str)
    sample = pd.read_csv(data / "sample_submission.csv", dtype=str)
    assert list(submission.columns) == list(sample.columns)
    assert submission.iloc[:, 0].tolist() == sample.iloc[:, 0].tolist()  # the sample's ids, in its order
    return submission


def test_petfinder_goes_data_train_vote_check_score(petfinder, kcnn, tmp_path):
    shown = kcnn("data", petfinder, "--regression")
    assert shown.exit_code == 0, shown.output
    assert "task:        regression" in shown.output and "--metric rmse" in shown.output
    assert "label Pawpularity" in shown.output  # the sample's column, not the metadata columns
    assert "target:      Pawpularity:" in shown.output and "classes:" not in shown.output  # a range, not classes
    workspace = tmp_path / "ws"
    csv, sidecar = _train_and_vote(kcnn, workspace, petfinder, "--metric", "rmse")  # rmse implies --regression
    assert sidecar["task"] == "regression" and sidecar["metric"] == "rmse" and len(sidecar["members"]) == 2
    submission = _same_layout_as_sample(csv, petfinder)
    values = submission["Pawpularity"].astype(float).to_numpy()
    assert np.ptp(values) > 0 and not np.all(values == np.round(values))  # numbers, not grades

    from kaggle_cnn.store.workspace import Workspace

    runs = Workspace(workspace).runs()
    record = runs[0].record
    train = pd.read_csv(petfinder / "train.csv")
    n_val = record["data"]["n_val"]
    assert record["data"]["task"] == "regression" and record["data"]["classes"] == ["Pawpularity"]
    assert 0 < n_val < len(train)
    # standardised by the training rows only: not the mean of every labelled row
    split = Workspace(workspace).find_split(runs[0].fingerprint)
    rows = np.setdiff1d(np.arange(len(train)), split.val_indices)
    assert record["data"]["target"]["mean"] == pytest.approx(train["Pawpularity"].to_numpy()[rows].mean())
    assert record["data"]["target"]["std"] == pytest.approx(train["Pawpularity"].to_numpy()[rows].std())
    # the stored predictions are in the target's units, one column; the vote is their mean
    val = np.load(runs[0].path / "val_proba.npy")
    assert val.shape == (n_val, 1)
    rmse = float(np.sqrt(np.mean((val[:, 0] - split.val_labels) ** 2)))
    assert record["scores"]["score"] == pytest.approx(rmse, rel=1e-5)
    mean = np.mean([np.load(r.path / "test_proba.npy")[:, 0] for r in runs], axis=0)
    assert values == pytest.approx(mean, abs=1e-4)

    checked = kcnn("check", csv, "--data", petfinder, "--regression")
    assert checked.exit_code == 0, checked.output
    assert "numbers" in checked.output and "id set and order" in checked.output
    answers = pd.read_csv(petfinder.parent / "answers.csv")
    scored = kcnn("score", csv, "--answers", petfinder.parent / "answers.csv", "--metric", "rmse")
    assert scored.exit_code == 0, scored.output
    by_id = dict(zip(answers["Id"], answers["Pawpularity"]))
    expected = np.sqrt(np.mean([(v - by_id[i]) ** 2 for i, v in zip(submission["Id"], values)]))
    assert f"rmse {expected:.4f}" in scored.output


def test_aptos_goes_data_train_vote_check_score(aptos, kcnn, tmp_path):
    shown = kcnn("data", aptos, "--ordinal")
    assert shown.exit_code == 0, shown.output
    assert "task:        ordinal" in shown.output and "--metric qwk" in shown.output
    assert "diagnosis: 0 to 4" in shown.output
    workspace = tmp_path / "ws"
    csv, sidecar = _train_and_vote(kcnn, workspace, aptos, "--ordinal", "--metric", "qwk")
    grading = sidecar["grading"]
    assert sidecar["task"] == "ordinal" and (grading["low"], grading["high"]) == (0, 4)
    assert len(grading["cut_points"]) == 4 and grading["cut_points"] == sorted(grading["cut_points"])
    assert grading["used"] in ("cut_points", "rounding")
    if grading["used"] == "cut_points":
        assert grading["val_score_cut_points"] > grading["val_score_rounding"]
    else:
        assert grading["val_score_cut_points"] <= grading["val_score_rounding"]
    submission = _same_layout_as_sample(csv, aptos)
    written = submission["diagnosis"].astype(int).to_numpy()
    assert set(written) <= {0, 1, 2, 3, 4}

    from kaggle_cnn.store.submissions import grades
    from kaggle_cnn.store.workspace import Workspace

    runs = Workspace(workspace).runs()
    mean = np.mean([np.load(r.path / "test_proba.npy")[:, 0] for r in runs], axis=0)
    cuts = grading["cut_points"] if grading["used"] == "cut_points" else None
    assert written.tolist() == grades(mean, 0, 4, cuts).tolist()

    checked = kcnn("check", csv, "--data", aptos, "--ordinal")
    assert checked.exit_code == 0, checked.output
    assert "whole grades of the training data" in checked.output
    scored = kcnn("score", csv, "--answers", aptos.parent / "answers.csv", "--metric", "qwk")
    assert scored.exit_code == 0, scored.output
    answers = pd.read_csv(aptos.parent / "answers.csv")
    by_id = dict(zip(answers["id_code"], answers["diagnosis"]))
    from sklearn.metrics import cohen_kappa_score

    expected = cohen_kappa_score(written, [by_id[i] for i in submission["id_code"]], weights="quadratic")
    assert f"qwk {expected:.4f}" in scored.output
    rounded = kcnn("-w", workspace, "vote", "--no-finish", "--name", "rounded")  # no cut-points: rounding
    assert rounded.exit_code == 0, rounded.output
    plain = json.loads((workspace / "submissions" / "ensemble" / "rounded.json").read_text())["grading"]
    assert plain["used"] == "rounding" and plain["cut_points"] is None
    written = pd.read_csv(workspace / "submissions" / "ensemble" / "rounded.csv")["diagnosis"]
    assert written.tolist() == grades(mean, 0, 4).tolist()
    from kaggle_cnn.errors import InputError
    from kaggle_cnn.training.teacher import read_vote

    with pytest.raises(InputError, match="an ordinal vote; pseudo-labels and distillation learn from single-label"):
        read_vote(csv, None)


# -- the graders, on hand-made examples ----------------------------------------------


def test_rmse_grader_on_a_hand_made_example(tmp_path, kcnn):
    """Errors 3, -4, 0, 0 (sorted by id, as the grader matches rows): RMSE sqrt(25/4) = 2.5, MAE 7/4."""
    pd.DataFrame({"Id": ["b", "a", "d", "c"], "Pawpularity": [13, 6, 100, 1]}).to_csv(tmp_path / "sub.csv",
                                                                                      index=False)
    pd.DataFrame({"Id": ["a", "b", "c", "d"], "Pawpularity": [10, 10, 1, 100]}).to_csv(tmp_path / "ans.csv",
                                                                                      index=False)
    rmse = kcnn("score", tmp_path / "sub.csv", "--answers", tmp_path / "ans.csv", "--metric", "rmse")
    assert rmse.exit_code == 0, rmse.output
    assert "rmse 2.5000 on 4 rows" in rmse.output
    mae = kcnn("score", tmp_path / "sub.csv", "--answers", tmp_path / "ans.csv", "--metric", "mae")
    assert "mae 1.7500" in mae.output

    from kaggle_cnn.evaluation.score import score

    assert score(tmp_path / "sub.csv", tmp_path / "ans.csv", "rmse")["score"] == pytest.approx(2.5)


def test_qwk_grader_on_a_hand_made_example(tmp_path, kcnn):
    """Truth 0,1,2 and predictions 0,2,2 (rows by id_code). Observed matrix O: (0,0),
    (1,2), (2,2); weights (i-j)^2/4; expected E = outer(truth counts, prediction
    counts)/3 = outer((1,1,1), (1,0,2))/3. sum w*O = 1/4; sum w*E = (0+0+4/4*2
    + 1/4*1 + 0 + 1/4*2 + 4/4*1 + 0 + 0)/3 = (2 + 0.25 + 0.5 + 1)/3 = 1.25.
    kappa = 1 - 0.25/1.25 = 0.8."""
    pd.DataFrame({"id_code": ["z", "x", "y"], "diagnosis": [2, 0, 2]}).to_csv(tmp_path / "sub.csv", index=False)
    pd.DataFrame({"id_code": ["x", "y", "z"], "diagnosis": [0, 1, 2]}).to_csv(tmp_path / "ans.csv", index=False)
    scored = kcnn("score", tmp_path / "sub.csv", "--answers", tmp_path / "ans.csv", "--metric", "qwk")
    assert scored.exit_code == 0, scored.output
    assert "qwk 0.8000 on 3 rows" in scored.output

    from kaggle_cnn.evaluation.score import score

    assert score(tmp_path / "sub.csv", tmp_path / "ans.csv", "qwk")["score"] == pytest.approx(0.8)


def test_cut_points_beat_rounding_where_predictions_are_shrunk():
    """Predictions pulled towards the mean (grade g predicted as 1 + 0.3 (g - 1)):
    rounding gives grades 0 and 2 grade 1 and grade 3 grade 2 (QWK 0.5); cut-points
    between the groups recover every grade (QWK 1)."""
    from kaggle_cnn.ensemble.numeric import choose_grading
    from kaggle_cnn.evaluation.metric_registry import get_metric

    truth = np.repeat([0.0, 1.0, 2.0, 3.0], 5)
    predicted = 1 + 0.3 * (truth - 1) + np.tile(np.linspace(-0.05, 0.05, 5), 4)
    grading = choose_grading(get_metric("qwk"), truth, predicted, 0, 3)
    assert grading["val_score_rounding"] == pytest.approx(0.5)
    assert grading["used"] == "cut_points" and grading["val_score_cut_points"] == pytest.approx(1.0)
    exact = choose_grading(get_metric("qwk"), truth, truth + 0.1, 0, 3)  # rounding is already perfect: kept
    assert exact["used"] == "rounding" and exact["val_score_rounding"] == pytest.approx(1.0)


# -- bad input --------------------------------------------------------------------------


def _copy_with_train(root: Path, tmp_path: Path, column: str, row: int, value: str) -> Path:
    import shutil

    copy = tmp_path / root.name
    shutil.copytree(root, copy)
    train = pd.read_csv(copy / "train.csv", dtype=str)
    train.loc[row, column] = value
    train.to_csv(copy / "train.csv", index=False)
    return copy


def test_a_target_that_is_not_a_number_is_refused(petfinder, tmp_path, kcnn, assert_refused):
    data = _copy_with_train(petfinder, tmp_path, "Pawpularity", 2, "cute")
    workspace = tmp_path / "ws"
    refused = kcnn("-w", workspace, "train", "--data", data, "--regression", "--model", "cnn1", "--epochs", 1)
    assert_refused(refused, "train.csv line 4, column Pawpularity", "'cute' is not a number")
    assert not workspace.exists() or not any(workspace.rglob("*.json"))


def test_ordinal_refuses_a_grade_that_is_not_whole(aptos, tmp_path, kcnn, assert_refused):
    data = _copy_with_train(aptos, tmp_path, "diagnosis", 0, "2.5")
    assert_refused(kcnn("data", data, "--ordinal"), "train.csv line 2, column diagnosis", "'2.5' is not a whole grade")


def test_regression_with_multi_label_is_refused(petfinder, kcnn, assert_refused):
    assert_refused(kcnn("data", petfinder, "--regression", "--multi-label"), "--regression and --multi-label")


def test_check_refuses_a_value_that_is_not_a_number(tmp_path, kcnn, assert_refused):
    pd.DataFrame({"Id": ["a", "b"], "Pawpularity": ["5", "n/a"]}).to_csv(tmp_path / "sub.csv", index=False)
    assert_refused(kcnn("check", tmp_path / "sub.csv", "--regression"), "sub.csv line 3, column Pawpularity",
                   "is not a number")


def test_rmse_refused_on_classes():
    from kaggle_cnn.errors import InputError
    from kaggle_cnn.evaluation.metric_registry import get_metric

    with pytest.raises(InputError, match="numeric targets"):
        get_metric("rmse").value(np.array([0, 1]), np.array([[0.2, 0.8], [0.6, 0.4]]))
    assert get_metric("rmse").keeps == "at or below" and get_metric("mae").passes(1.0, 1.5)


def test_folds_are_refused_on_numeric_targets(petfinder, tmp_path, kcnn, assert_refused):
    workspace = tmp_path / "ws"
    refused = kcnn("-w", workspace, "train", "--data", petfinder, "--regression", "--folds", 3, "--model", "cnn1",
                   "--epochs", 1)
    assert_refused(refused, "--folds 3", "a number per row")
    assert not (workspace / "models").exists() or not any((workspace / "models").rglob("run.json"))


def test_tta_and_metrics_are_refused_on_runs_of_a_numeric_target(petfinder, tmp_path, kcnn, assert_refused):
    workspace = tmp_path / "ws"
    trained = kcnn("-w", workspace, "train", "--data", petfinder, "--metric", "mae", "--model", "cnn1", "--epochs", 1,
                   "--keep-above", 1000)
    assert trained.exit_code == 0, trained.output
    from kaggle_cnn.store.workspace import Workspace

    (run,) = Workspace(workspace).runs()  # kept: its mae is at or below 1000
    assert run.record["scores"]["metric"] == "mae" and run.record["scores"]["score"] <= 1000
    assert run.record["data"]["task"] == "regression"  # --metric mae implied --regression
    before = sorted(p.name for p in run.path.iterdir())
    assert_refused(kcnn("-w", workspace, "tta", "--transforms", "hflip"), run.run_id, "predicts a number per image")
    assert sorted(p.name for p in run.path.iterdir()) == before
    assert_refused(kcnn("-w", workspace, "metrics"), run.run_id, "per-class tables do not apply")
    assert not (workspace / "reports").exists() or not any((workspace / "reports").iterdir())


def test_check_of_numbers_without_the_option_says_which_to_pass(aptos, tmp_path, kcnn, assert_refused):
    sample = pd.read_csv(aptos / "sample_submission.csv", dtype=str)
    sample.assign(diagnosis="1.5").to_csv(tmp_path / "sub.csv", index=False)
    assert_refused(kcnn("check", tmp_path / "sub.csv", "--data", aptos), "sub.csv line 2", "'1.5' is not one of",
                   "pass --regression")
    refused = kcnn("check", tmp_path / "sub.csv", "--data", aptos, "--ordinal")
    assert_refused(refused, "sub.csv line 2, column diagnosis", "'1.5' is not a whole grade")
    assert kcnn("check", tmp_path / "sub.csv", "--data", aptos, "--regression").exit_code == 0


def test_petfinder_metadata_joins_a_regression(petfinder, tmp_path, kcnn):
    """--tabular-columns with a numeric target: the table joins the images and one linear unit reads both."""
    workspace = tmp_path / "ws"
    trained = kcnn("-w", workspace, "train", "--data", petfinder, "--metric", "rmse", "--tabular-columns", "auto",
                   "--model", "cnn1", "--epochs", 1)
    assert trained.exit_code == 0, trained.output
    from kaggle_cnn.store.workspace import Workspace

    (run,) = Workspace(workspace).runs()
    data = run.record["data"]
    assert data["task"] == "regression" and [c["name"] for c in data["tabular"]["columns"]] == ["Eyes", "Blur"]
    test = np.load(run.path / "test_proba.npy")
    assert test.shape == (TEST, 1) and not ((test >= 0) & (test <= 1)).all()  # numbers in the target's units


def test_a_class_metric_on_numbers_is_refused_before_training(petfinder, tmp_path, kcnn, assert_refused):
    workspace = tmp_path / "ws"
    refused = kcnn("-w", workspace, "train", "--data", petfinder, "--regression", "--metric", "logloss",
                   "--model", "cnn1", "--epochs", 1)
    assert_refused(refused, "--metric logloss: scores classes", "rmse, mae or qwk")
    assert not (workspace / "models").exists() or not any((workspace / "models").iterdir())
