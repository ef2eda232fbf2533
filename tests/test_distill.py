"""`kcnn distill`: one student taught by a vote's probabilities for every test
image, stored as an ordinary run with where it came from and how fast it predicts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from kaggle_cnn.store.files import file_sha256
from kaggle_cnn.store.workspace import Workspace


def _soft_vote(kcnn, workspace: Path) -> Path:
    result = kcnn("-w", workspace, "vote", "--method", "soft")
    assert result.exit_code == 0, result.output
    return workspace / "submissions" / "ensemble" / "soft_vote.csv"


def _students(workspace: Path) -> list[dict]:
    records = [json.loads(p.read_text()) for p in (workspace / "models").glob("*/run.json")]
    return [r for r in records if "distilled_from" in r]


def test_a_distilled_student_is_an_ordinary_run_with_its_teacher_and_timing(kcnn, trained_copy):
    vote = _soft_vote(kcnn, trained_copy)
    members = [json.loads(p.read_text()) for p in sorted((trained_copy / "models").glob("cnn1-*/run.json"))]
    # No --data: the student trains on the data the vote's runs were trained on.
    result = kcnn("-w", trained_copy, "distill", vote, "--model", "cnn1", "--epochs", 1, "--batch-size", 32,
                  "--temperature", 2, "--keep-above", 0, "--seed", 5)
    assert result.exit_code == 0, result.output
    [student] = _students(trained_copy)
    taught = student["distilled_from"]
    n_test = members[0]["data"]["n_test"]
    assert (taught["vote"], taught["sha256"], taught["members"]) == ("soft_vote.csv", file_sha256(vote), 2)
    assert taught["temperature"] == 2.0 and taught["rows_added"] == n_test
    timing = taught["predict_seconds_per_image"]
    assert timing["ensemble"] == sum(m["timing"]["predict_seconds"] / n_test for m in members)
    assert timing["student"] == student["timing"]["predict_seconds"] / n_test > 0
    assert set(timing["members"]) == {m["run_id"] for m in members}
    # Judged like every run: on the workspace's validation rows, kept, with its own submission and index row.
    assert student["kept"] and student["data"]["n_val"] == members[0]["data"]["n_val"]
    assert student["data"]["fingerprint"] == members[0]["data"]["fingerprint"]
    folder = trained_copy / "models" / student["run_id"]
    assert np.load(folder / "val_proba.npy").shape == (members[0]["data"]["n_val"], 10)
    assert (trained_copy / "submissions" / f"{student['run_id']}.csv").is_file()
    index = pd.read_csv(trained_copy / "models" / "index.csv")
    assert index.loc[index["run_id"] == student["run_id"], "kept"].astype(str).tolist() == ["True"]


def test_a_student_below_keep_above_is_discarded(kcnn, trained_copy, competition):
    vote = _soft_vote(kcnn, trained_copy)
    result = kcnn("-w", trained_copy, "distill", vote, "--data", competition, "--model", "cnn1", "--epochs", 1,
                  "--batch-size", 32, "--keep-above", 1.0)
    assert result.exit_code == 0, result.output
    index = pd.read_csv(trained_copy / "models" / "index.csv")
    [row] = index[~index["run_id"].isin([p.name for p in (trained_copy / "models").glob("cnn1-*")])].itertuples()
    assert str(row.kept) == "False" and not _students(trained_copy)
    assert Workspace(trained_copy).discarded_history(row.run_id).is_file()  # its learning curve only


def test_distill_refusals(kcnn, assert_refused, trained_copy, competition):
    vote = _soft_vote(kcnn, trained_copy)
    assert_refused(kcnn("-w", trained_copy, "distill", trained_copy / "submissions" / "cnn1-s0-a001.csv",
                        "--model", "cnn1"), "cnn1-s0-a001.csv", "not a vote")
    assert_refused(kcnn("-w", trained_copy, "distill", vote, "--model", "cnn1", "--temperature", 0),
                   "--temperature 0.0")
    index_before = (trained_copy / "models" / "index.csv").read_bytes()
    shutil.rmtree(trained_copy / "models" / "cnn1-s0-a001")  # a member's run, gone
    for data in ((), ("--data", competition)):
        assert_refused(kcnn("-w", trained_copy, "distill", vote, *data, "--model", "cnn1", "--epochs", 1),
                       "soft_vote.csv", "cnn1-s0-a001.csv", "not a kept run")
    assert (trained_copy / "models" / "index.csv").read_bytes() == index_before
