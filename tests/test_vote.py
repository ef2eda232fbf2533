"""`kcnn vote` on members with and without stored runs behind them."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd

from conftest import kcnn
from kaggle_cnn import api
from kaggle_cnn.store.workspace import Workspace


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


# -- methods, filters, TTA, check (issue 5) -------------------------------------------

import json  # noqa: E402

import pytest  # noqa: E402

from test_bad_input import assert_refused  # noqa: E402


@pytest.fixture(scope="module")
def four_runs(trained, competition, tmp_path_factory):
    """The session's two runs plus two more: four members on one split."""
    root = tmp_path_factory.mktemp("four") / "w"
    shutil.copytree(trained, root)
    result = kcnn("-w", root, "train", "--data", competition, "--model", "cnn1", "--repeat", 2, "--epochs", 1,
                  "--batch-size", 32)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def workspace4(four_runs, tmp_path):
    root = tmp_path / "w"
    shutil.copytree(four_runs, root)
    return root


def sidecar_of(outcome_path):
    return json.loads(outcome_path.with_suffix(".json").read_text())


@pytest.mark.parametrize("method, name", [("hard", "majority_vote"), ("soft", "soft_vote"),
                                          ("weighted", "weighted_vote"), ("greedy", "greedy_ensemble")])
def test_each_method_end_to_end(workspace4, method, name):
    result = kcnn("-w", workspace4, "vote", "--method", method)
    assert result.exit_code == 0, result.output
    workspace = Workspace(workspace4)
    out = workspace.ensemble_dir / f"{name}.csv"
    sidecar = sidecar_of(out)
    assert sidecar["method"] == method and len(sidecar["members"]) == 4
    assert 0 <= sidecar["val_accuracy_split_half"] <= 1 and 0 <= sidecar["val_accuracy"] <= 1
    assert "split-half" in result.output
    frame = pd.read_csv(out, dtype=str)
    assert frame["ImageId"].tolist() == pd.read_csv(workspace.member_submission("cnn1-s0-a000"), dtype=str)["ImageId"].tolist()
    if method == "weighted":
        assert [m["weight"] for m in sidecar["members"]] == [m["val_accuracy"] for m in sidecar["members"]]
    if method == "greedy":
        assert sum(sidecar["multiplicities"].values()) >= 1 and "chosen:" in result.output


def test_soft_vote_is_the_mean_of_stored_probabilities(workspace4):
    workspace = Workspace(workspace4)
    outcome = api.vote(workspace, spec=api_spec("soft"))
    mean = np.mean([r.test_proba() for r in workspace.runs()], axis=0)
    assert np.array_equal(pd.read_csv(outcome.csv_path)["Label"].to_numpy(), mean.argmax(1))
    geometric = api.vote(workspace, spec=api_spec("soft", geometric=True), name="geo")
    assert geometric.sidecar["options"]["geometric"] is True


def api_spec(method, **options):
    from kaggle_cnn.ensemble.rules import VoteSpec

    return VoteSpec(method=method, **options)


def test_filters_top_keep_above_model(workspace4):
    workspace = Workspace(workspace4)
    top = api.vote(workspace, spec=api_spec("hard", top=2), name="top2").sidecar
    used = [m for m in top["members"] if m["weight"] > 0]
    best_two = sorted((m["val_accuracy"] for m in top["members"]), reverse=True)[:2]
    assert sorted((m["val_accuracy"] for m in used), reverse=True) == best_two
    assert len(used) == 2
    assert api.vote(workspace, model="cnn1", name="only_cnn1").sidecar["members"][0]["model"] == "cnn1"
    assert_refused(kcnn("-w", workspace4, "vote", "--keep-above", 1.0), "no member passes")
    assert_refused(kcnn("-w", workspace4, "vote", "--model", "cnn9"), "cnn9")
    assert_refused(kcnn("-w", workspace4, "vote", "--top", 0), "--top")


def test_weights_file(workspace4, tmp_path):
    weights = tmp_path / "weights.csv"
    pd.DataFrame({"member": ["cnn1-s0-a000.csv", "cnn1-s0-a001", "cnn1-s0-a002", "cnn1-s0-a003"],
                  "weight": [5, 0, 0, 0]}).to_csv(weights, index=False)
    result = kcnn("-w", workspace4, "vote", "--method", "weighted", "--weights", weights, "--name", "w")
    assert result.exit_code == 0, result.output
    workspace = Workspace(workspace4)
    first = pd.read_csv(workspace.member_submission("cnn1-s0-a000"))
    assert pd.read_csv(workspace.ensemble_dir / "w.csv")["Label"].tolist() == first["Label"].tolist()
    pd.DataFrame({"member": ["cnn1-s0-a000"], "weight": [1]}).to_csv(weights, index=False)
    assert_refused(kcnn("-w", workspace4, "vote", "--method", "weighted", "--weights", weights), "no weight for member")


def test_labels_only_members_refuse_what_needs_probabilities(workspace4):
    workspace = Workspace(workspace4)
    pd.read_csv(workspace.member_submission("cnn1-s0-a000"), dtype=str).to_csv(
        workspace.submissions_dir / "teammate.csv", index=False)
    assert_refused(kcnn("-w", workspace4, "vote", "--method", "soft"), "teammate.csv", "probabilities")
    assert_refused(kcnn("-w", workspace4, "vote", "--method", "greedy"), "teammate.csv", "greedy")
    assert_refused(kcnn("-w", workspace4, "vote", "--method", "weighted"), "teammate.csv")
    assert kcnn("-w", workspace4, "vote", "--method", "hard").exit_code == 0


def test_probabilities_of_the_wrong_shape_are_refused(workspace4):
    path = Workspace(workspace4).run_dir("cnn1-s0-a002") / "test_proba.npy"
    np.save(path, np.zeros((7, 10), dtype=np.float32))
    before = set((Workspace(workspace4).ensemble_dir).glob("*")) if Workspace(workspace4).ensemble_dir.exists() else set()
    assert_refused(kcnn("-w", workspace4, "vote", "--method", "soft"), "test_proba.npy", "(7, 10)")
    after = set(Workspace(workspace4).ensemble_dir.glob("*")) if Workspace(workspace4).ensemble_dir.exists() else set()
    assert before == after


def test_members_with_different_class_sets_are_refused(workspace4):
    run_json = Workspace(workspace4).run_dir("cnn1-s0-a003") / "run.json"
    record = json.loads(run_json.read_text())
    record["data"]["classes"] = list(range(1, 11))
    run_json.write_text(json.dumps(record))
    assert_refused(kcnn("-w", workspace4, "vote"), "cnn1-s0-a003.csv", "same classes")


def test_explain_prints_diagnostics(workspace4):
    result = kcnn("-w", workspace4, "vote", "--explain")
    assert result.exit_code == 0
    for fragment in ("disagree", "vote margins", "tied rows", "per-class validation F1"):
        assert fragment in result.output
    sidecar = json.loads((Workspace(workspace4).ensemble_dir / "majority_vote.json").read_text())
    assert len(sidecar["diagnostics"]["disagreement"]["matrix"]) == 4
    assert len(sidecar["diagnostics"]["tied_ids"]) == sidecar["ties"]
    assert set(sidecar["per_class_f1_gain"]["0"]) == {"ensemble", "best_member", "gain"}


def test_predict_tta_then_vote_tta(workspace4, competition):
    assert_refused(kcnn("-w", workspace4, "vote", "--tta"), "kcnn predict --tta")
    result = kcnn("-w", workspace4, "predict", "--tta", "shift=1,rotate=8")  # data found where it was trained
    assert result.exit_code == 0, result.output
    assert result.output.count("->") == 4
    workspace = Workspace(workspace4)
    for run in workspace.runs():
        assert np.load(run.path / "test_proba_tta.npy").shape == np.load(run.path / "test_proba.npy").shape
        assert run.record["tta"]["transforms"] == "shift=1,rotate=8"
    result = kcnn("-w", workspace4, "vote", "--tta", "--method", "soft")
    assert result.exit_code == 0, result.output
    assert (workspace.ensemble_dir / "soft_vote_tta.csv").exists()


def test_predict_refuses_bad_transforms_and_moved_data(workspace4, tmp_path):
    assert_refused(kcnn("-w", workspace4, "predict", "--tta", "spin=3"), "spin=3")
    from kaggle_cnn.data import demo_path

    assert_refused(kcnn("-w", workspace4, "predict", "--tta", "hflip", "--data", demo_path()), "fingerprint", "--data")
    assert_refused(kcnn("-w", workspace4, "predict", "cnn1-s9-a000", "--tta", "hflip"), "cnn1-s9-a000")


def test_check_a_submission(trained, competition, tmp_path):
    member = Workspace(trained).member_submission("cnn1-s0-a000")
    sample = competition / "sample_submission.csv"
    result = kcnn("check", member, "--sample", sample, "--data", competition)
    assert result.exit_code == 0 and "ok (60 rows" in result.output
    frame = pd.read_csv(member, dtype=str)
    frame.iloc[::-1].to_csv(tmp_path / "reversed.csv", index=False)
    assert_refused(kcnn("check", tmp_path / "reversed.csv", "--sample", sample), "reversed.csv line 2", "order")
    frame.loc[3, "Label"] = "eleven"
    frame.to_csv(tmp_path / "odd.csv", index=False)
    assert_refused(kcnn("check", tmp_path / "odd.csv", "--data", competition), "odd.csv line 5", "'eleven'")
    frame.loc[4, "ImageId"] = frame.loc[2, "ImageId"]
    frame.to_csv(tmp_path / "dup.csv", index=False)
    assert_refused(kcnn("check", tmp_path / "dup.csv"), "dup.csv line 6", "repeats line 4")
