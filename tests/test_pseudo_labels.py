"""A vote's stored test probabilities, and `kcnn train --pseudo-labels`: the test
images the vote is sure of join the training rows only, so every score stays on
the same honest validation rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from kaggle_cnn import api
from kaggle_cnn.store.files import file_sha256
from kaggle_cnn.training.teacher import Teacher


def _soft_vote(kcnn, workspace: Path) -> Path:
    result = kcnn("-w", workspace, "vote", "--method", "soft")
    assert result.exit_code == 0, result.output
    return workspace / "submissions" / "ensemble" / "soft_vote.csv"


def _sidecar(vote: Path) -> dict:
    return json.loads(vote.with_suffix(".json").read_text())


def _pseudo_run(workspace: Path) -> dict:
    records = [json.loads(p.read_text()) for p in (workspace / "models").glob("*/run.json")]
    return next(r for r in records if "pseudo_labels" in r)


def test_a_vote_stores_its_test_probabilities_beside_its_csv(kcnn, trained_copy):
    vote = _soft_vote(kcnn, trained_copy)
    sidecar = _sidecar(vote)
    stored = vote.with_name("soft_vote.test_proba.npy")
    proba = np.load(stored)
    runs = api.Workspace(trained_copy).runs()
    assert [str(c) for c in runs[0].classes] == sidecar["classes"]
    np.testing.assert_allclose(proba, np.mean([r.test_proba() for r in runs], axis=0), atol=1e-6)
    assert proba.shape == (sidecar["rows"], len(sidecar["classes"]))
    assert sidecar["test_proba"] == {"file": stored.name, "sha256": file_sha256(stored)}
    assert sidecar["data_fingerprint"] == runs[0].fingerprint
    # The CSV's labels are the stored probabilities' top classes, row for row.
    labels = pd.read_csv(vote, dtype=str)["Label"].tolist()
    assert labels == [sidecar["classes"][i] for i in proba.argmax(1)]


def test_pseudo_labels_join_the_training_rows_only(kcnn, trained_copy, competition):
    vote = _soft_vote(kcnn, trained_copy)
    proba = np.load(vote.with_name("soft_vote.test_proba.npy"))
    confidence = float(np.round(np.median(proba.max(1)), 3))  # about half the test images clear it
    expected = int((proba.max(1) >= confidence - 1e-6).sum())
    assert 0 < expected < len(proba)
    plain = json.loads(next((trained_copy / "models").glob("cnn1-*/run.json")).read_text())
    splits = {p: p.read_bytes() for p in api.Workspace(trained_copy).splits_dir.glob("*.json")}
    assert splits
    result = kcnn("-w", trained_copy, "train", "--data", competition, "--model", "cnn1", "--epochs", 1,
                  "--batch-size", 32,
                  "--keep-above", 0, "--pseudo-labels", vote, "--pseudo-confidence", confidence)
    assert result.exit_code == 0, result.output
    record = _pseudo_run(trained_copy)
    assert record["pseudo_labels"] == {"vote": "soft_vote.csv", "sha256": file_sha256(vote),
                                       "rows_added": expected, "confidence": confidence}
    # The same validation rows as the plain run: the split is the workspace's, untouched.
    assert record["data"]["n_val"] == plain["data"]["n_val"] and record["data"]["n_train"] == plain["data"]["n_train"]
    assert {p: p.read_bytes() for p in splits} == splits
    val_proba = np.load(trained_copy / "models" / record["run_id"] / "val_proba.npy")
    assert val_proba.shape == (plain["data"]["n_val"], 10)
    plan_path = sorted((trained_copy / "models" / "plans").glob("*.json"))[-1]
    plan = json.loads(plan_path.read_text())
    assert plan["teaching"]["kind"] == "pseudo_labels" and plan["teaching"]["confidence"] == confidence
    # --resume trains a missing attempt of the plan on the same pseudo-labels.
    plan.update(finished=False, run_ids=plan["run_ids"] + ["cnn1-s0-a099"], attempts=plan["attempts"] + [99])
    plan_path.write_text(json.dumps(plan))
    result = kcnn("-w", trained_copy, "train", "--resume")
    assert result.exit_code == 0, result.output
    resumed = json.loads((trained_copy / "models" / "cnn1-s0-a099" / "run.json").read_text())
    assert resumed["pseudo_labels"] == record["pseudo_labels"]


def test_with_folds_pseudo_labels_never_join_the_out_of_fold_rows(kcnn, tmp_path, competition):
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", competition, "--model", "cnn1", "--epochs", 1,
                  "--batch-size", 32, "--keep-above", 0)
    assert result.exit_code == 0, result.output
    vote = _soft_vote(kcnn, workspace)
    result = kcnn("-w", workspace, "train", "--data", competition, "--model", "cnn1", "--epochs", 1,
                  "--batch-size", 32, "--keep-above", 0, "--folds", 2, "--pseudo-labels", vote,
                  "--pseudo-confidence", 0.1)
    assert result.exit_code == 0, result.output
    record = _pseudo_run(workspace)
    assert record["validation"]["kind"] == "folds" and record["pseudo_labels"]["rows_added"] > 0
    # Out of fold: every training row once, and no test image among them.
    oof = np.load(workspace / "models" / record["run_id"] / "oof_proba.npy")
    assert oof.shape == (300, 10) and record["data"]["n_val"] == 300


def test_a_confidence_of_one_adds_only_rows_at_probability_one(kcnn, trained_copy, competition):
    vote = _soft_vote(kcnn, trained_copy)
    stored = vote.with_name("soft_vote.test_proba.npy")
    proba = np.load(stored)
    certain = [3, 17, 40]
    proba[certain] = np.eye(proba.shape[1], dtype=np.float32)[proba[certain].argmax(1)]
    np.save(stored, proba)
    sidecar = _sidecar(vote)
    sidecar["test_proba"]["sha256"] = file_sha256(stored)  # as a vote with three unanimous, certain rows
    vote.with_suffix(".json").write_text(json.dumps(sidecar))
    assert (np.load(stored).max(1) >= 1.0).sum() == 3
    result = kcnn("-w", trained_copy, "train", "--data", competition, "--model", "cnn1", "--epochs", 1,
                  "--batch-size", 32,
                  "--keep-above", 0, "--pseudo-labels", vote, "--pseudo-confidence", 1.0)
    assert result.exit_code == 0, result.output
    assert _pseudo_run(trained_copy)["pseudo_labels"]["rows_added"] == 3


def test_a_teacher_adds_test_images_with_their_probabilities_to_the_training_rows_only():
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.random((5, 4, 4, 1)), "y_train": np.array([0, 2, 1, 2, 0]),
              "x_val": rng.random((2, 4, 4, 1)), "y_val": np.array([1, 0])}
    x_test = rng.random((6, 4, 4, 1))
    targets = np.array([[0.1, 0.8, 0.1], [0.0, 0.0, 1.0]], dtype=np.float32)
    taught = Teacher(np.array([4, 1]), targets, {}).taught(arrays, x_test)
    np.testing.assert_array_equal(taught["x_train"], np.concatenate([arrays["x_train"], x_test[[4, 1]]]))
    np.testing.assert_array_equal(taught["y_train"][:5], np.eye(3)[arrays["y_train"]])
    np.testing.assert_array_equal(taught["y_train"][5:], targets)
    assert taught["x_val"] is arrays["x_val"] and taught["y_val"] is arrays["y_val"]
    # Two classes: one sigmoid unit, whose target is the second class's probability.
    binary = Teacher(np.array([0]), np.array([[0.3, 0.7]], dtype=np.float32), {}).taught(
        {**arrays, "y_train": np.array([0, 1, 1, 0, 1])}, x_test)
    np.testing.assert_allclose(binary["y_train"], [0, 1, 1, 0, 1, 0.7])
    # Nothing added: the arrays a plain run trains on, untouched.
    assert Teacher(np.zeros(0, dtype=np.int64), targets[:0], {}).taught(arrays, x_test) is arrays


def test_pseudo_labels_refusals(kcnn, assert_refused, trained_copy, competition, tmp_path):
    vote = _soft_vote(kcnn, trained_copy)
    plans_before = sorted((trained_copy / "models" / "plans").glob("*.json"))
    train = ("-w", trained_copy, "train", "--data", competition, "--model", "cnn1", "--epochs", 1)
    assert_refused(kcnn(*train, "--pseudo-labels", trained_copy / "submissions" / "cnn1-s0-a001.csv"),
                   "cnn1-s0-a001.csv", "not a vote")
    assert_refused(kcnn(*train, "--pseudo-labels", tmp_path / "nowhere.csv"), "--pseudo-labels", "no such file")
    for confidence in (0, 1.5):
        assert_refused(kcnn(*train, "--pseudo-labels", vote, "--pseudo-confidence", confidence),
                       f"--pseudo-confidence {float(confidence)}", "(0, 1]")
    assert_refused(kcnn(*train, "--pseudo-confidence", 0.9), "--pseudo-confidence", "--pseudo-labels")
    # A vote of other data: the same competition with fewer training images.
    other = tmp_path / "other"
    shutil.copytree(competition, other)
    pd.read_csv(other / "train.csv").head(200).to_csv(other / "train.csv", index=False)
    assert_refused(kcnn("-w", tmp_path / "ws", "train", "--data", other, "--model", "cnn1", "--epochs", 1,
                        "--pseudo-labels", vote), "soft_vote.csv", "a vote of other data")
    assert not (tmp_path / "ws").exists()
    # A vote with a labels-only member (a teammate's CSV) has no probabilities to be sure by.
    workspace = api.Workspace(trained_copy)
    member = pd.read_csv(workspace.member_submission("cnn1-s0-a000"), dtype=str)
    member.to_csv(workspace.submissions_dir / "teammate.csv", index=False)
    assert kcnn("-w", trained_copy, "vote", "--name", "with_teammate").exit_code == 0
    labels_only = workspace.ensemble_dir / "with_teammate.csv"
    assert not labels_only.with_name("with_teammate.test_proba.npy").exists()
    assert _sidecar(labels_only)["test_proba"] is None
    assert_refused(kcnn(*train, "--pseudo-labels", labels_only), "with_teammate.csv", "no test probabilities")
    # A CSV changed since the vote wrote it.
    with open(vote, "a") as handle:
        handle.write("999,1\n")
    assert_refused(kcnn(*train, "--pseudo-labels", vote), "soft_vote.csv", "changed since the vote")
    assert sorted((trained_copy / "models" / "plans").glob("*.json")) == plans_before


def test_reading_a_vote_imports_no_tensorflow(kcnn, trained_copy, competition):
    """The vote is read, checked and turned into targets without TensorFlow (which
    training loads once the model is built)."""
    import subprocess
    import sys

    vote = _soft_vote(kcnn, trained_copy)
    code = (
        "import sys\n"
        "from kaggle_cnn import api\n"
        "from kaggle_cnn.training import teacher\n"
        f"dataset, workspace = api.load_data({str(competition)!r}), api.Workspace({str(trained_copy)!r})\n"
        f"pseudo = teacher.teacher_for(teacher.pseudo_labels({str(vote)!r}, 0.5), dataset, workspace)\n"
        f"student = teacher.teacher_for(teacher.distilling({str(vote)!r}, 2.0), dataset, workspace)\n"
        "assert 0 < len(pseudo.rows) < len(student.rows) == len(dataset.x_test)\n"
        "import numpy as np\n"
        f"proba = np.load({str(vote.with_name('soft_vote.test_proba.npy'))!r})\n"
        "assert np.array_equal(pseudo.rows, np.flatnonzero(proba.max(1) >= 0.5 - 1e-6))\n"
        "assert np.allclose(pseudo.targets, proba[pseudo.rows])\n"
        "tempered = np.sqrt(proba) / np.sqrt(proba).sum(1, keepdims=True)  # T = 2: p^(1/2), renormalised\n"
        "assert np.allclose(student.targets, tempered, atol=1e-6)\n"
        "loaded = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
