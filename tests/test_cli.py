"""The spine end to end through the CLI (CliRunner), then checked through the library."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from kaggle_cnn import api
from kaggle_cnn.config import TrainConfig
from kaggle_cnn.data import load_dataset
from kaggle_cnn.evaluation.metrics import classification_table
from kaggle_cnn.store.workspace import Workspace
from kaggle_cnn.training.options import attempt_seed

RUN_FILES = {"run.json", "history.csv", "model.keras", "val_proba.npy", "test_proba.npy", "submission.csv"}


def test_train_keeps_runs_with_everything_a_run_needs(trained, competition):
    workspace = Workspace(trained)
    runs = workspace.runs()
    assert [r.run_id for r in runs] == ["cnn1-s0-a000", "cnn1-s0-a001"]
    sample = pd.read_csv(competition / "sample_submission.csv", dtype=str)
    test_ids = load_dataset(competition).test_ids  # the order of the stored test probabilities
    n_test = len(pd.read_csv(competition / "test.csv"))
    for run in runs:
        assert {p.name for p in run.path.iterdir()} == RUN_FILES
        record = run.record
        assert record["seed"] == attempt_seed(0, record["attempt"])
        assert record["config"]["epochs"] == 1 and record["config"]["model"] == "cnn1"
        assert set(record["versions"]) >= {"tensorflow", "keras", "numpy", "python"}
        assert len(record["timing"]["epoch_train_seconds"]) == 1
        assert record["timing"]["predict_seconds"] > 0
        assert record["data"]["n_val"] == 30 and record["data"]["classes"] == list(range(10))
        assert np.load(run.path / "val_proba.npy").shape == (30, 10)
        test_proba = np.load(run.path / "test_proba.npy")
        assert test_proba.shape == (n_test, 10)
        np.testing.assert_allclose(test_proba.sum(axis=1), 1.0, atol=1e-5)
        history = pd.read_csv(run.path / "history.csv")
        assert {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "train_seconds", "val_seconds"} <= set(history)
        # the recorded score is the stored validation predictions' accuracy on the split
        split = workspace.find_split(run.fingerprint)
        assert run.val_accuracy == pytest.approx(np.mean(run.val_proba().argmax(axis=1) == split.val_labels))
        # The member submission copies the sample's header and id order exactly, and
        # its labels are the stored test probabilities' argmax in that order.
        member = pd.read_csv(workspace.member_submission(run.run_id), dtype=str)
        assert list(member.columns) == ["ImageId", "Label"]
        assert member["ImageId"].tolist() == sample["ImageId"].tolist()
        by_id = dict(zip(test_ids, test_proba.argmax(axis=1).astype(str)))
        assert member["Label"].tolist() == [by_id[i] for i in member["ImageId"]]
    index = workspace.read_index()
    assert index["run_id"].tolist() == ["cnn1-s0-a000", "cnn1-s0-a001"]
    assert index["kept"].tolist() == [True, True]
    assert index["seed"].tolist() == [attempt_seed(0, 0), attempt_seed(0, 1)]
    assert index["val_accuracy"].tolist() == pytest.approx([r.val_accuracy for r in runs], abs=1e-6)


def test_train_prints_attempts_and_summary(kcnn, tmp_path, competition):
    result = kcnn("-w", tmp_path, "train", "--data", competition, "--model", "cnn1", "--repeat", 2,
                  "--keep-above", 0.5, "--epochs", 1)
    assert result.exit_code == 0, result.output
    assert "[1/2] cnn1-s0-a000" in result.output and "[2/2] cnn1-s0-a001" in result.output
    assert "attempted" in result.output and "mean ± std" in result.output


def test_below_threshold_leaves_only_an_index_row(kcnn, tmp_path, competition):
    result = kcnn("-w", tmp_path, "train", "--data", competition, "--model", "cnn1", "--keep-above", 1, "--epochs", 1)
    assert result.exit_code == 0, result.output
    workspace = Workspace(tmp_path)
    assert workspace.run_ids() == []
    assert list(workspace.submissions_dir.glob("*.csv")) == []  # (globbing a missing folder finds nothing too)
    assert not list(workspace.models_dir.glob(".kcnn-tmp-*"))
    assert workspace.discarded_history("cnn1-s0-a000").exists()  # its curves are kept for the plots
    index = workspace.read_index()
    assert index["run_id"].tolist() == ["cnn1-s0-a000"] and index["kept"].tolist() == [False]
    assert index["val_accuracy"][0] < 1


def test_until_kept_and_attempt_numbers_go_on(kcnn, tmp_path, competition):
    args = ["-w", tmp_path, "train", "--data", competition, "--model", "cnn1", "--epochs", 1]
    assert kcnn(*args, "--until-kept", 1).exit_code == 0
    assert kcnn(*args, "--repeat", 1).exit_code == 0
    workspace = Workspace(tmp_path)
    assert workspace.run_ids() == ["cnn1-s0-a000", "cnn1-s0-a001"]
    assert [r.record["seed"] for r in workspace.runs()] == [attempt_seed(0, 0), attempt_seed(0, 1)]
    assert attempt_seed(0, 0) != attempt_seed(0, 1)


def test_until_kept_stops_at_the_cap(kcnn, tmp_path, competition):
    result = kcnn("-w", tmp_path, "train", "--data", competition, "--model", "cnn1", "--epochs", 1,
                  "--until-kept", 1, "--max-attempts", 2, "--keep-above", 1)
    assert result.exit_code == 0, result.output
    assert "stopped after 2 attempts with 0 of 1 runs kept" in result.output
    index = Workspace(tmp_path).read_index()
    assert index["run_id"].tolist() == ["cnn1-s0-a000", "cnn1-s0-a001"] and not index["kept"].any()


def test_split_is_shared_and_recorded(kcnn, trained, competition):
    workspace = Workspace(trained)
    fingerprints = {r.fingerprint for r in workspace.runs()}
    assert fingerprints == {load_dataset(competition).fingerprint()}
    (split_file,) = workspace.splits_dir.iterdir()
    split = workspace.find_split(fingerprints.pop())
    assert split_file == workspace.split_path(split.fingerprint)
    assert split.fraction == 0.1 and len(split.val_indices) == 30
    labels = pd.read_csv(competition / "train.csv")["label"].to_numpy()
    assert np.array_equal(split.val_labels, labels[split.val_indices])  # the labels stored are those rows'
    per_class = np.bincount(split.val_labels, minlength=10)
    all_rows = np.bincount(labels, minlength=10)
    assert np.all(np.abs(per_class - 0.1 * all_rows) <= 1)  # stratified
    result = kcnn("-w", trained, "train", "--data", competition, "--model", "cnn1", "--val-fraction", 0.2)
    assert result.exit_code == 2 and "--val-fraction 0.1" in result.stderr


def two_member_hard_vote(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The hard vote of two members, from their probabilities: where they disagree
    it is a tie, which goes to the tied class with the higher mean probability."""
    votes = np.array([first.argmax(axis=1), second.argmax(axis=1)])
    mean = (first + second) / 2
    rows = np.arange(len(mean))
    return np.where(mean[rows, votes[0]] >= mean[rows, votes[1]], votes[0], votes[1])


def test_vote_writes_ensemble_and_sidecar(kcnn, trained_copy):
    result = kcnn("-w", trained_copy, "vote", trained_copy / "submissions")
    assert result.exit_code == 0, result.output
    workspace = Workspace(trained_copy)
    out = pd.read_csv(workspace.ensemble_dir / "majority_vote.csv", dtype=str)
    members = [pd.read_csv(workspace.member_submission(r), dtype=str) for r in ("cnn1-s0-a000", "cnn1-s0-a001")]
    assert list(out.columns) == list(members[0].columns) and out["ImageId"].tolist() == members[0]["ImageId"].tolist()
    sidecar = json.loads((workspace.ensemble_dir / "majority_vote.json").read_text())
    assert [m["run_id"] for m in sidecar["members"]] == ["cnn1-s0-a000", "cnn1-s0-a001"]
    assert sidecar["rule"].startswith("majority vote")
    # two members: every test row they disagree on is a tie, settled by probability
    disagreements = int((members[0]["Label"] != members[1]["Label"]).sum())
    assert sidecar["ties"] == sidecar["ties_by_rule"]["probability"] == disagreements
    # the in-sample validation figure, recomputed from the stored predictions
    first, second = workspace.runs()
    split = workspace.find_split(first.fingerprint)
    expected = two_member_hard_vote(first.val_proba(), second.val_proba())
    assert sidecar["val_predictions"] == [str(c) for c in expected]
    assert sidecar["val_accuracy"] == pytest.approx(np.mean(expected == split.val_labels))
    assert [m["val_accuracy"] for m in sidecar["members"]] == pytest.approx([first.val_accuracy, second.val_accuracy])
    assert f"validation accuracy: {sidecar['val_accuracy']:.4f} in-sample, " in result.output
    assert f"{sidecar['val_estimate']['value']:.4f} 5-fold estimate" in result.output
    assert "split-half" not in result.output and "val_accuracy_split_half" not in sidecar
    # Outputs are never read back: voting again still sees two members.
    again = api.vote(workspace)
    assert len(again.sidecar["members"]) == 2


def test_metrics_match_sklearn_on_the_stored_predictions(kcnn, trained_copy):
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    assert kcnn("-w", trained_copy, "vote").exit_code == 0
    result = kcnn("-w", trained_copy, "metrics")
    assert result.exit_code == 0, result.output
    workspace = Workspace(trained_copy)
    report = pd.read_csv(workspace.reports_dir / "metrics.csv")
    assert set(report["source"]) == {"cnn1-s0-a000", "cnn1-s0-a001", "ensemble/majority_vote"}
    run = workspace.load_run("cnn1-s0-a000")
    split = workspace.find_split(run.fingerprint)
    predicted = run.val_proba().argmax(axis=1)
    expected = classification_table(split.val_labels, predicted, run.classes)
    got = report[report["source"] == run.run_id].drop(columns="source").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    precision, recall, f1, support = precision_recall_fscore_support(split.val_labels, predicted, labels=range(10),
                                                                     zero_division=0)
    per_class = got.iloc[:10]
    assert per_class["class"].astype(str).tolist() == [str(c) for c in range(10)]
    np.testing.assert_allclose(per_class[["precision", "recall", "f1"]].to_numpy(float),
                               np.column_stack([precision, recall, f1]), atol=1e-4)
    assert per_class["support"].tolist() == support.tolist()
    # the vote's confusion matrix: its validation predictions against the split's labels
    sidecar = json.loads((workspace.ensemble_dir / "majority_vote.json").read_text())
    confusion = pd.read_csv(workspace.reports_dir / "confusion" / "ensemble-majority_vote.csv", index_col=0)
    vote_predicted = np.array(sidecar["val_predictions"], dtype=int)
    assert confusion.to_numpy().tolist() == confusion_matrix(split.val_labels, vote_predicted, labels=range(10)).tolist()
    assert "precision" in result.output and "confusion matrix" in result.output
    # the summary sets the vote's 5-fold estimate beside its in-sample accuracy; runs have none
    summary = api.metrics(workspace).summary.set_index("source")
    assert summary.loc["ensemble/majority_vote", "accuracy"] == pytest.approx(sidecar["val_accuracy"])
    assert summary.loc["ensemble/majority_vote", "estimate"] == pytest.approx(sidecar["val_estimate"]["value"])
    assert summary.loc[run.run_id, "accuracy"] == pytest.approx(run.val_accuracy)
    assert pd.isna(summary.loc[run.run_id, "estimate"])


def test_metrics_of_one_named_run(kcnn, trained_copy):
    result = kcnn("-w", trained_copy, "metrics", "cnn1-s0-a001")
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(Workspace(trained_copy).reports_dir / "metrics.csv")["source"]) == {"cnn1-s0-a001"}


def test_score_against_answers(kcnn, trained, tmp_path):
    """Answers that differ from the submission on 7 of its 60 rows: accuracy 53/60."""
    submission = Workspace(trained).member_submission("cnn1-s0-a000")
    answers = pd.read_csv(submission, dtype=str)
    wrong = answers.index[::9][:7]
    answers.loc[wrong, "Label"] = ((answers.loc[wrong, "Label"].astype(int) + 1) % 10).astype(str)
    answers = answers.sample(frac=1, random_state=0)  # answers may list the ids in any order
    answers.to_csv(tmp_path / "answers.csv", index=False)
    result = kcnn("score", submission, "--answers", tmp_path / "answers.csv")
    assert result.exit_code == 0, result.output
    assert f"accuracy {53 / 60:.4f} on 60 rows" in result.output
    assert api.score(submission, tmp_path / "answers.csv")["accuracy"] == pytest.approx(53 / 60)


# -- a killed process never loses kept runs --------------------------------------------


def test_repair_finishes_a_run_killed_after_its_rename(trained_copy):
    workspace = Workspace(trained_copy)
    index = workspace.read_index()
    index[index["run_id"] != "cnn1-s0-a001"].to_csv(workspace.index_path, index=False)  # row never appended
    workspace.member_submission("cnn1-s0-a001").unlink()  # copy never made
    (workspace.models_dir / ".kcnn-tmp-cnn1-s0-a002").mkdir()  # a half-written next run
    partial = workspace.submissions_dir / ".kcnn-tmp-cnn1-s0-a000.x8k2d.csv"  # an atomic copy cut short
    partial.write_text("ImageId,La")
    teammates = [workspace.submissions_dir / ".team.final.csv", workspace.models_dir / ".tmp-notes.txt"]
    for path in teammates:  # hidden files the toolkit did not write
        path.write_text("x")
    assert workspace.repair() == ["cnn1-s0-a001"]
    run = workspace.load_run("cnn1-s0-a001")
    assert workspace.member_submission("cnn1-s0-a001").read_bytes() == (run.path / "submission.csv").read_bytes()
    assert sorted(workspace.read_index()["run_id"]) == ["cnn1-s0-a000", "cnn1-s0-a001"]
    assert not (workspace.models_dir / ".kcnn-tmp-cnn1-s0-a002").exists() and not partial.exists()
    assert [path.read_text() for path in teammates] == ["x", "x"]


@pytest.mark.slow
def test_kill_minus_nine_loses_no_kept_run(tmp_path, competition):
    """Kill a real `kcnn train` mid-job; every run folder left is whole, and the
    next command completes the index."""
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "kaggle_cnn", "-w", str(tmp_path), "train", "--data", str(competition),
         "--model", "cnn1", "--repeat", "50", "--epochs", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    workspace = Workspace(tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and len(workspace.run_ids()) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(workspace.run_ids()) >= 3
    for run in workspace.runs():
        assert {p.name for p in run.path.iterdir()} == RUN_FILES
    workspace.repair()
    kept = set(workspace.read_index().query("kept == True")["run_id"])
    assert kept == set(workspace.run_ids())
    assert {p.stem for p in workspace.submissions_dir.glob("*.csv")} == kept  # no half-written copies either


# -- describing models and data ------------------------------------------------------


def test_models_lists_every_architecture_with_params(kcnn):
    from kaggle_cnn.architectures import names

    result = kcnn("models", "--classes", "5")
    assert result.exit_code == 0, result.output
    for name in names():
        assert name in result.output
    assert "693,317" in result.output  # cnn1 with the 28x28 Kaggle write-up's 5 classes
    assert "28x28x1" in result.output


def test_data_describes_the_demo(kcnn):
    result = kcnn("data")
    assert result.exit_code == 0, result.output
    assert "demo (kaggle_csv)" in result.output and "28x28x1" in result.output
    assert "train rows:  6000   test rows: 2000" in result.output
    assert "ImageId,Label" in result.output
    assert "task:        single-label" in result.output and "metric:      accuracy unless --metric" in result.output


# -- labels and formats end to end ---------------------------------------------------

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def test_text_labels_come_back_unchanged(kcnn, competition, tmp_path):
    words = tmp_path / "words"
    shutil.copytree(competition, words)
    train = pd.read_csv(words / "train.csv")
    train["label"] = [WORDS[i] for i in train["label"]]
    train.to_csv(words / "train.csv", index=False)
    args = ["-w", tmp_path / "ws", "train", "--data", words, "--model", "cnn1", "--epochs", 1, "--repeat", 2]
    assert kcnn(*args).exit_code == 0
    assert kcnn("-w", tmp_path / "ws", "vote").exit_code == 0
    workspace = Workspace(tmp_path / "ws")
    for run in workspace.runs():
        assert run.classes == sorted(WORDS)  # text labels sort as text
        member = pd.read_csv(workspace.member_submission(run.run_id), dtype=str)
        by_id = dict(zip(load_dataset(words).test_ids, np.array(run.classes)[run.test_proba().argmax(axis=1)]))
        assert member["Label"].tolist() == [by_id[i] for i in member["ImageId"]]
    vote = pd.read_csv(workspace.ensemble_dir / "majority_vote.csv", dtype=str)
    assert len(vote) == 60 and set(vote["Label"]) <= set(WORDS)
    assert kcnn("-w", tmp_path / "ws", "metrics").exit_code == 0
    classes = pd.read_csv(workspace.reports_dir / "metrics.csv")["class"]
    assert set(WORDS) <= set(classes)


def test_npz_competition(kcnn, tmp_path):
    demo = load_dataset()
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=(demo.x_train[:200, ..., 0] * 255).astype(np.uint8), y_train=demo.y_train[:200],
             x_test=(demo.x_test[:40, ..., 0] * 255).astype(np.uint8))
    result = kcnn("-w", tmp_path / "ws", "train", "--data", path, "--model", "cnn1", "--epochs", 1, "--val-fraction", 0.25)
    assert result.exit_code == 0, result.output
    member = pd.read_csv(Workspace(tmp_path / "ws").member_submission("cnn1-s0-a000"), dtype=str)
    assert list(member.columns) == ["id", "label"] and member["id"].tolist() == [str(i) for i in range(1, 41)]


def test_a_failed_attempt_is_recorded_then_raised(competition, tmp_path, monkeypatch):
    from kaggle_cnn.training import fit as training

    def out_of_memory(*args, **kwargs):
        raise MemoryError("no room for this width")

    monkeypatch.setattr(training, "fit_one", out_of_memory)
    workspace = Workspace(tmp_path)
    with pytest.raises(MemoryError):
        api.train(load_dataset(competition), workspace, TrainConfig(model="cnn1", epochs=1), repeat=3)
    index = workspace.read_index()
    assert index["status"].tolist() == ["failed"] and "no room" in index["message"][0]
    assert workspace.run_ids() == []


def test_written_files_get_ordinary_permissions(trained):
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    member = Workspace(trained).member_submission("cnn1-s0-a000")
    assert stat.S_IMODE(member.stat().st_mode) == 0o666 & ~mask


# -- optimizers, schedules, regularisation -------------------------------------------


@pytest.mark.parametrize("name", ["adam", "sgd", "rmsprop", "nadam", "adamax", "adagrad", "adadelta"])
def test_every_optimizer_of_seed_002(name):
    from kaggle_cnn.training.fit import make_optimizer

    optimizer = make_optimizer(name, 0.01, weight_decay=1e-4)
    assert float(optimizer.learning_rate) == pytest.approx(0.01) and optimizer.weight_decay == pytest.approx(1e-4)


def test_schedule_and_regularisation_options_reach_the_run(kcnn, competition, tmp_path):
    result = kcnn("-w", tmp_path, "train", "--data", competition, "--model", "cnn1", "--epochs", 4,
                  "--optimizer", "nadam", "--weight-decay", 1e-4, "--patience", 1, "--reduce-lr-patience", 2,
                  "--reduce-lr-factor", 0.5, "--min-lr", 1e-6, "--set", "dropout=0.3", "--set", "dense_units=64")
    assert result.exit_code == 0, result.output
    run = Workspace(tmp_path).runs()[0]
    config = run.record["config"]
    assert (config["optimizer"], config["weight_decay"], config["patience"]) == ("nadam", 1e-4, 1)
    assert (config["reduce_lr_patience"], config["reduce_lr_factor"], config["min_lr"]) == (2, 0.5, 1e-6)
    assert config["model_options"] == {"dropout": 0.3, "dense_units": 64}
    # early stopping with patience 1: training ends at the first epoch whose
    # validation loss is no better than the best before it, or after all 4
    val_loss = pd.read_csv(run.path / "history.csv")["val_loss"].tolist()
    improving = [val_loss[i] < min(val_loss[:i]) for i in range(1, len(val_loss))]
    assert len(val_loss) >= 2 and all(improving[:-1]), val_loss
    assert len(val_loss) == 4 or not improving[-1], val_loss
    assert run.record["params"] == 784 * 0 + 13 * 13 * 32 * 64 + 64 + 320 + 64 * 10 + 10  # dense_units=64 built


@pytest.mark.parametrize("option, fragment", [("width=3", "unknown option 'width'"), ("dropout", "NAME=VALUE")])
def test_bad_set_options(kcnn, assert_refused, competition, tmp_path, option, fragment):
    assert_refused(kcnn("-w", tmp_path / "ws", "train", "--data", competition, "--model", "cnn1", "--set", option),
                   fragment)
    assert not (tmp_path / "ws").exists()


def test_a_binary_task_end_to_end(kcnn, competition, tmp_path):
    """Two classes (digits 0 and 1, labelled cat and dog): one sigmoid unit, and
    probabilities, votes and metrics as for any task."""
    folder = tmp_path / "binary"
    folder.mkdir()
    train = pd.read_csv(competition / "train.csv")
    train = train[train["label"].isin([0, 1])].assign(label=lambda f: f["label"].map({0: "cat", 1: "dog"}))
    train.to_csv(folder / "train.csv", index=False)
    shutil.copy(competition / "test.csv", folder / "test.csv")
    result = kcnn("-w", tmp_path / "ws", "train", "--data", folder, "--model", "cnn1", "--epochs", 2, "--repeat", 2,
                  "--val-fraction", 0.2)
    assert result.exit_code == 0, result.output
    workspace = Workspace(tmp_path / "ws")
    run = workspace.runs()[0]
    assert run.classes == ["cat", "dog"]
    assert np.load(run.path / "val_proba.npy").shape[1] == 2
    assert np.allclose(np.load(run.path / "test_proba.npy").sum(axis=1), 1.0, atol=1e-5)
    assert run.val_accuracy > 0.9
    assert set(pd.read_csv(workspace.member_submission(run.run_id)).iloc[:, 1]) <= {"cat", "dog"}
    for method in ("hard", "soft", "greedy"):
        assert kcnn("-w", tmp_path / "ws", "vote", "--method", method).exit_code == 0
    assert kcnn("-w", tmp_path / "ws", "metrics").exit_code == 0
    assert set(pd.read_csv(workspace.reports_dir / "metrics.csv")["class"]) >= {"cat", "dog"}
