"""`kcnn vote` on members with and without stored runs behind them."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd

from conftest import kcnn
from kaggle_cnn import api
from kaggle_cnn.store import Workspace


def write(folder, name, ids, labels, header=("id", "animal")):
    folder.mkdir(exist_ok=True)
    pd.DataFrame({header[0]: ids, header[1]: labels}).to_csv(folder / f"{name}.csv", index=False)


def test_labels_only_members_keep_text_and_break_ties_by_smallest_label(tmp_path):
    teammates = tmp_path / "teammates"
    ids = ["007", "010", "012"]
    write(teammates, "alice", ids, ["cat", "dog", "emu"])
    write(teammates, "bob", ids, ["cat", "emu", "dog"])
    write(teammates, "carol", ids, ["dog", "fox", "emu"])
    outcome = api.vote(Workspace(tmp_path / "ws"), teammates, name="team")
    out = pd.read_csv(outcome.csv_path, dtype=str)
    assert list(out.columns) == ["id", "animal"]
    assert out["id"].tolist() == ids  # "007" stays "007"
    # row 1: cat 2-1; row 2: dog/emu/fox all tied -> smallest "dog"; row 3: emu 2-1
    assert out["animal"].tolist() == ["cat", "dog", "emu"]
    assert outcome.sidecar["ties"] == 1 and outcome.sidecar["ties_by_rule"]["smallest_label"] == 1
    assert outcome.sidecar["val_accuracy"] is None and "not kept runs" in outcome.sidecar["val_note"]


def test_numeric_labels_order_numerically(tmp_path):
    folder = tmp_path / "m"
    write(folder, "a", [1], ["10"], header=("ImageId", "Label"))
    write(folder, "b", [1], ["9"], header=("ImageId", "Label"))
    outcome = api.vote(Workspace(tmp_path / "ws"), folder)
    assert pd.read_csv(outcome.csv_path, dtype=str)["Label"].tolist() == ["9"]


def test_ties_between_runs_go_to_the_higher_mean_probability(trained, tmp_path):
    root = tmp_path / "w"
    shutil.copytree(trained, root)
    workspace = Workspace(root)
    first, second = workspace.runs()
    outcome = api.vote(workspace)
    # Two members: every disagreement is a tie, settled by the mean probability.
    votes = np.array([first.test_proba().argmax(1), second.test_proba().argmax(1)])
    disagreements = int((votes[0] != votes[1]).sum())
    assert outcome.sidecar["ties"] == disagreements == outcome.sidecar["ties_by_rule"]["probability"]
    mean = (first.test_proba() + second.test_proba()) / 2
    predicted = pd.read_csv(outcome.csv_path)["Label"].to_numpy()
    assert np.array_equal(predicted, mean.argmax(1))  # with two members the rule is a soft vote


def test_a_teammate_csv_joins_run_members(trained, tmp_path):
    root = tmp_path / "w"
    shutil.copytree(trained, root)
    workspace = Workspace(root)
    member = pd.read_csv(workspace.member_submission("cnn1-s0-a000"), dtype=str)
    member.to_csv(workspace.submissions_dir / "teammate.csv", index=False)
    result = kcnn("-w", root, "vote", "--name", "with_teammate")
    assert result.exit_code == 0, result.output
    sidecar = api.vote(workspace, name="with_teammate").sidecar
    assert [m["run_id"] for m in sidecar["members"]] == ["cnn1-s0-a000", "cnn1-s0-a001", None]
    assert sidecar["val_accuracy"] is None
    assert "unknown" in result.output
