"""k-fold runs, the competition's metric, probability submissions, and the vote's
K-fold estimate: through the CLI on a 300-image slice of the demo, then checked
through the library and scikit-learn."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    f1_score,
    log_loss,
    roc_auc_score,
)

from kaggle_cnn import api
from kaggle_cnn.ensemble import rules
from kaggle_cnn.evaluation.metric_registry import REGISTRY, get_metric
from kaggle_cnn.store.submissions import (
    CLASS_COLUMNS,
    PROBABILITY,
    read_member,
    write_predictions,
)
from kaggle_cnn.store.validation import find_folds, honest_predictions, recorded_metric
from kaggle_cnn.training.kfold import plan_folds

FOLDS = 3


def _json(path):
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def judged(tmp_path_factory, competition):
    """A workspace judged by log-loss: one k-fold run (3 folds and a refit), one hold-out run."""
    from click.testing import CliRunner

    from kaggle_cnn.cli import cli

    root = tmp_path_factory.mktemp("kfold") / "ws"
    for args in (["--folds", FOLDS, "--refit", "--metric", "logloss"], ["--keep-above", 100]):
        result = CliRunner().invoke(cli, [str(a) for a in ["-w", root, "train", "--data", competition, "--epochs", 1,
                                                           *args]], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return root


def _rows_of_one(proba):
    """float32 probabilities as float64 rows summing to 1, as scikit-learn's log-loss expects."""
    proba = np.asarray(proba, dtype=np.float64)
    return proba / proba.sum(axis=1, keepdims=True)


def _runs(root):
    workspace = api.Workspace(root)
    runs = workspace.runs()
    kfold = next(run for run in runs if run.kfold)
    holdout = next(run for run in runs if not run.kfold)
    return workspace, kfold, holdout


def test_out_of_fold_predictions_cover_every_training_row_exactly_once(judged, competition):
    workspace, kfold, _ = _runs(judged)
    dataset = api.load_data(competition)
    folds = find_folds(workspace, dataset.fingerprint())
    assert folds.k == FOLDS and len(folds.fold_of_row) == len(dataset.y_train) == 300
    rows = np.concatenate([folds.val_rows(f) for f in range(FOLDS)])
    assert sorted(rows.tolist()) == list(range(300))  # each row in exactly one fold
    for fold in range(FOLDS):  # stratified: every class in every fold
        assert set(folds.labels[folds.val_rows(fold)]) == set(range(10))
    oof = np.load(kfold.path / "oof_proba.npy")
    assert oof.shape == (300, 10)
    assert np.allclose(oof.sum(axis=1), 1, atol=1e-4)  # every row filled by its fold's model
    record = kfold.record
    assert record["validation"] == {"kind": "folds", "folds": FOLDS, "seed": 0, "rows": 300}
    assert record["scores"]["metric"] == "logloss"
    assert record["scores"]["score"] == pytest.approx(log_loss(folds.labels, _rows_of_one(oof), labels=range(10)),
                                                      rel=1e-5)
    fold_scores = [log_loss(folds.labels[folds.val_rows(f)], _rows_of_one(oof[folds.val_rows(f)]),
                            labels=range(10)) for f in range(FOLDS)]
    assert record["scores"]["fold_scores"] == pytest.approx(fold_scores, rel=1e-5)


def test_refit_trains_one_more_model_whose_predictions_are_the_submission(judged):
    _, kfold, _ = _runs(judged)
    names = sorted(p.name for p in kfold.path.iterdir())
    assert names == ["fold1.keras", "fold2.keras", "fold3.keras", "history.csv", "model.keras", "oof_proba.npy",
                     "run.json", "submission.csv", "test_proba.npy", "test_proba_folds.npy"]
    assert kfold.record["epochs_chosen"] == {"folds": [1, 1, 1], "refit": 1}
    refit, folds_mean = np.load(kfold.path / "test_proba.npy"), np.load(kfold.path / "test_proba_folds.npy")
    assert not np.allclose(refit, folds_mean)
    submission = pd.read_csv(kfold.path / "submission.csv", dtype=str)
    assert submission.iloc[:, 1].tolist() == [str(kfold.classes[i]) for i in refit.argmax(axis=1)]
    history = pd.read_csv(kfold.path / "history.csv")
    assert history["part"].tolist() == ["fold1", "fold2", "fold3", "refit"]


def test_the_metric_and_the_fold_assignment_are_recorded_once_and_kept(judged, competition):
    workspace, kfold, holdout = _runs(judged)
    assert recorded_metric(workspace) == "logloss"
    assert holdout.record["scores"]["metric"] == "logloss"  # the second command judged by the recorded metric
    index = workspace.read_index()
    assert index["metric"].tolist() == ["logloss", "logloss"]
    assert index["kept"].astype(str).tolist() == ["True", "True"]  # logloss at or below 100
    dataset = api.load_data(competition)
    again, new = plan_folds(workspace, dataset, FOLDS)  # a later command finds the same assignment
    assert not new and np.array_equal(again.fold_of_row, find_folds(workspace, dataset.fingerprint()).fold_of_row)


def test_a_kfold_run_and_a_hold_out_run_vote_on_the_hold_out_rows(judged, tmp_path, kcnn):
    root = tmp_path / "ws"
    shutil.copytree(judged, root)
    result = kcnn("-w", root, "vote", "--method", "soft")
    assert result.exit_code == 0, result.output
    assert "30 hold-out rows (k-fold members out of fold there)" in result.output
    sidecar = _json(root / "submissions" / "ensemble" / "soft_vote.json")
    workspace, kfold, holdout = _runs(root)
    split = workspace.find_split(kfold.fingerprint)
    assert sidecar["val_row_numbers"] == split.val_indices.tolist()
    oof = np.load(kfold.path / "oof_proba.npy")[split.val_indices]
    mean = (oof + np.load(holdout.path / "val_proba.npy")) / 2
    assert sidecar["metric"] == "logloss"
    assert sidecar["val_score"] == pytest.approx(log_loss(split.val_labels, _rows_of_one(mean), labels=range(10)),
                                                 rel=1e-4)
    estimate = sidecar["val_estimate"]
    assert estimate["folds"] == 5 and estimate["rows"] == 30 and estimate["metric"] == "logloss"
    assert f"{estimate['value']:.4f} 5-fold estimate" in result.output
    report = api.metrics(workspace)
    summary = report.summary.set_index("source")
    assert summary.loc[kfold.run_id, "rows"] == 300 and summary.loc[holdout.run_id, "rows"] == 30
    assert summary.loc["ensemble/soft_vote", "estimate"] == pytest.approx(estimate["value"])
    assert summary.loc[kfold.run_id, "score"] == pytest.approx(kfold.record["scores"]["score"], rel=1e-5)


def test_kfold_runs_alone_vote_on_every_training_row(judged, tmp_path, kcnn):
    root = tmp_path / "ws"
    shutil.copytree(judged, root)
    workspace, kfold, holdout = _runs(root)
    (root / "submissions" / f"{holdout.run_id}.csv").unlink()
    result = kcnn("-w", root, "vote", "--method", "greedy", "--rounds", 2)
    assert result.exit_code == 0, result.output
    sidecar = _json(root / "submissions" / "ensemble" / "greedy_ensemble.json")
    assert sidecar["val_rows"] == 300 and sidecar["val_row_numbers"] == list(range(300))
    assert "300 out-of-fold rows (every training row)" in result.output


@pytest.mark.parametrize("name", list(REGISTRY))
def test_each_metric_agrees_with_scikit_learn(name):
    if name in ("rmse", "mae"):  # numbers: a float target and one column of predictions
        from sklearn.metrics import mean_absolute_error, mean_squared_error

        numbers, guesses = np.array([1.0, 2.5, 4.0, 7.0]), np.array([[1.5], [2.0], [4.0], [9.0]])
        expected = (np.sqrt(mean_squared_error(numbers, guesses[:, 0])) if name == "rmse"
                    else mean_absolute_error(numbers, guesses[:, 0]))
        assert get_metric(name).value(numbers, guesses) == pytest.approx(expected, rel=1e-9)
        return
    truth = np.array([0, 1, 2, 2, 1, 0, 2, 1])
    proba = np.array([[.7, .2, .1], [.1, .6, .3], [.2, .2, .6], [.5, .1, .4], [.3, .3, .4], [.4, .5, .1],
                      [.1, .1, .8], [.2, .7, .1]])
    predicted = proba.argmax(axis=1)
    expected = {
        "accuracy": accuracy_score(truth, predicted),
        "logloss": log_loss(truth, proba),
        "f1_macro": f1_score(truth, predicted, average="macro"),
        "roc_auc": roc_auc_score(truth, proba, multi_class="ovr", average="macro"),
        "qwk": cohen_kappa_score(truth, predicted, weights="quadratic"),
        # one label a row: the multi-label metrics score one-hot rows
        "f1_micro": accuracy_score(truth, predicted),
        "f1_samples": accuracy_score(truth, predicted),
        "f2_samples": accuracy_score(truth, predicted),
        "mean_auc": roc_auc_score(np.eye(3)[truth], proba, average="macro"),
    }[name]
    assert get_metric(name).value(truth, proba) == pytest.approx(expected, rel=1e-9)


def test_binary_roc_auc_scores_the_second_class_and_losses_keep_at_or_below():
    truth = np.array([0, 1, 1, 0, 1])
    proba = np.array([[.9, .1], [.3, .7], [.6, .4], [.2, .8], [.1, .9]])
    assert get_metric("roc_auc").value(truth, proba) == pytest.approx(roc_auc_score(truth, proba[:, 1]))
    logloss = get_metric("logloss")
    assert logloss.passes(0.3, 0.3) and logloss.passes(0.2, 0.3) and not logloss.passes(0.31, 0.3)
    assert get_metric("accuracy").passes(0.9, 0.9) and not get_metric("accuracy").passes(0.89, 0.9)


def test_vote_filters_and_weights_by_the_metric():
    truth = np.array([0, 1, 0, 1])
    good = np.array([[.9, .1], [.2, .8], [.8, .2], [.3, .7]])
    bad = np.array([[.6, .4], [.45, .55], [.55, .45], [.6, .4]])
    votes = np.array([p.argmax(axis=1) for p in (good, bad)])
    spec = rules.VoteSpec(method="weighted", metric="logloss", keep_above=0.5)
    weights = rules.fit_weights(spec, votes, [good, bad], truth)
    assert weights[1] == 0  # its log-loss is above 0.5: left out
    assert weights[0] == pytest.approx(1 / log_loss(truth, good))  # a loss weighs by its reciprocal


def _probability_competition(competition, tmp_path):
    folder = tmp_path / "probabilities"
    shutil.copytree(competition, folder)
    sample = pd.read_csv(folder / "sample_submission.csv", dtype=str)
    frame = pd.DataFrame({sample.columns[0]: sample.iloc[:, 0], **{str(c): "0.1" for c in [3, 0, 1, 2, 4, 5, 6, 7, 8, 9]}})
    frame.to_csv(folder / "sample_submission.csv", index=False)
    return folder


def test_a_probability_sample_gives_probability_submissions_that_check_accepts(competition, tmp_path, kcnn):
    folder = _probability_competition(competition, tmp_path)
    result = kcnn("-w", tmp_path / "ws", "train", "--data", folder, "--epochs", 1, "--metric", "logloss")
    assert result.exit_code == 0, result.output
    vote = kcnn("-w", tmp_path / "ws", "vote")  # soft by default: the members are probabilities
    assert vote.exit_code == 0, vote.output
    assert vote.output.startswith("method: soft")
    output = tmp_path / "ws" / "submissions" / "ensemble" / "soft_vote.csv"
    sample = pd.read_csv(folder / "sample_submission.csv", dtype=str)
    written = pd.read_csv(output, dtype={sample.columns[0]: str})
    assert list(written.columns) == list(sample.columns)  # the sample's column order, 3 first
    assert written.iloc[:, 0].tolist() == sample.iloc[:, 0].tolist()
    values = written.iloc[:, 1:].to_numpy()
    assert np.allclose(values.sum(axis=1), 1, atol=1e-4) and values.min() >= 1e-15
    check = kcnn("check", output, "--sample", folder / "sample_submission.csv", "--data", folder)
    assert check.exit_code == 0, check.output
    assert "a probability column per class" in check.output
    hard = kcnn("-w", tmp_path / "ws", "vote", "--method", "hard")
    assert hard.exit_code == 2 and "a hard vote has labels only" in hard.stderr


def test_a_binary_probability_column_is_written_clipped_and_read_back(tmp_path):
    path = tmp_path / "member.csv"
    proba = np.array([[1.0, 0.0], [0.25, 0.75]])
    write_predictions(path, PROBABILITY, ("id", "has_cactus"), ["a.jpg", "b.jpg"], [0, 1], proba)
    assert path.read_text().splitlines() == ["id,has_cactus", "a.jpg,1e-15", "b.jpg,0.75"]
    member = read_member(path)
    assert member.kind == PROBABILITY and member.proba[:, 0].tolist() == [1e-15, 0.75]
    write_predictions(path, CLASS_COLUMNS, ("id", "dog", "cat"), ["a"], ["cat", "dog"], np.array([[0.2, 0.8]]))
    assert path.read_text().splitlines() == ["id,dog,cat", "a,0.8,0.2"]


# -- bad input: one line, exit 2, nothing written ------------------------------------------


@pytest.mark.parametrize("args, fragments", [
    (["--folds", 1], ["--folds 1", "at least 2"]),
    (["--folds", 31], ["--folds 31", "every fold needs one of each class"]),
    (["--refit"], ["--refit", "needs --folds K"]),
    (["--metric", "auc"], ["--metric auc", "one of accuracy, logloss, f1_macro, roc_auc, qwk"]),
    (["--metric", "logloss", "--keep-above", -1], ["--keep-above -1", "must be at least 0 for logloss"]),
    (["--folds", 3, "--val-fraction", 0.2], ["--val-fraction does not go with --folds"]),
], ids=["folds-1", "folds-above-smallest-class", "refit-without-folds", "unknown-metric", "negative-loss",
        "folds-and-val-fraction"])
def test_bad_kfold_options_are_refused(competition, tmp_path, kcnn, assert_refused, args, fragments):
    root = tmp_path / "ws"
    result = kcnn("-w", root, "train", "--data", competition, "--epochs", 1, *args)
    assert_refused(result, *fragments)
    assert not root.exists()


def test_another_fold_count_or_metric_in_a_judged_workspace_is_refused(judged, competition, kcnn, assert_refused,
                                                                       tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(judged, root)
    before = sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*"))
    assert_refused(kcnn("-w", root, "train", "--data", competition, "--folds", 5, "--epochs", 1),
                   "--folds 5", "already assigns this dataset's rows to 3 folds")
    assert_refused(kcnn("-w", root, "train", "--data", competition, "--metric", "accuracy", "--epochs", 1),
                   "--metric accuracy", "judges its runs by logloss")
    assert sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*")) == before


def test_a_probability_metric_on_label_only_members_is_refused(judged, tmp_path, kcnn, assert_refused):
    root = tmp_path / "ws"
    shutil.copytree(judged, root)
    members = root / "submissions"
    shutil.copy(next(members.glob("*.csv")), members / "teammate.csv")  # not a run of this workspace: labels only
    assert_refused(kcnn("-w", root, "vote"), "--metric logloss needs probabilities", "teammate.csv")
    assert not (members / "ensemble").exists()


def test_honest_predictions_of_a_hold_out_run_are_its_split(judged):
    workspace, _, holdout = _runs(judged)
    honest = honest_predictions(workspace, holdout)
    split = workspace.find_split(holdout.fingerprint)
    assert honest.kind == "hold-out" and honest.rows.tolist() == split.val_indices.tolist()
    assert np.array_equal(honest.proba, np.load(holdout.path / "val_proba.npy"))


def test_folds_spread_over_worker_processes_give_the_same_run(judged, competition, tmp_path, kcnn):
    """--jobs 2 trains a candidate's folds at once in two workers; the seeds are the
    folds' own, so the run is the one a single process trains (up to the rounding
    of a worker's fewer threads)."""
    root = tmp_path / "ws"
    result = kcnn("-w", root, "train", "--data", competition, "--epochs", 1, "--folds", FOLDS, "--refit",
                  "--metric", "logloss", "--jobs", 2)
    assert result.exit_code == 0, result.output
    _, alone, _ = _runs(judged)
    spread = api.Workspace(root).runs()[0]
    assert spread.run_id == alone.run_id and spread.record["device"]["engine"] == "local workers"
    for name in ("oof_proba.npy", "test_proba.npy", "test_proba_folds.npy"):
        # a worker's fewer threads round differently, and over the small set's batches of 32 that drifts by a
        # few thousandths; another seed would move the probabilities by tenths
        np.testing.assert_allclose(np.load(spread.path / name), np.load(alone.path / name), atol=1e-2)


def test_fold_and_refit_seeds_derive_from_the_candidate_as_attempt_seeds_do():
    """One seed formula: a fold's seed is attempt_seed(candidate's seed, fold), the refit's uses K."""
    from kaggle_cnn.config import TrainConfig
    from kaggle_cnn.store.validation import Folds
    from kaggle_cnn.training.kfold import fold_tasks, refit_task
    from kaggle_cnn.training.options import attempt_seed
    from kaggle_cnn.training.workers import AttemptTask, HeldData

    candidate = AttemptTask(TrainConfig(), attempt_seed(0, 4), "small_resnet-s0-a004", 3, HeldData())
    folds = Folds("fingerprint", FOLDS, 0, np.arange(9) % FOLDS, np.arange(9) % 3, ["a", "b", "c"])
    seeds = [task.seed for task in fold_tasks(candidate, folds)]
    assert seeds == [attempt_seed(candidate.seed, fold) for fold in range(FOLDS)]
    assert len(set(seeds)) == FOLDS and candidate.seed not in seeds
    assert refit_task(candidate, folds, epochs=2).seed == attempt_seed(candidate.seed, FOLDS)
