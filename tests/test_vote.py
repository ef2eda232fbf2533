"""`kcnn vote` on members with and without stored runs behind them, and `kcnn tta`.

Every figure a vote reports is recomputed here from the members' stored
predictions and the split's labels."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_cnn import api
from kaggle_cnn.config import PROBABILITY_CLIP
from kaggle_cnn.ensemble import rules
from kaggle_cnn.ensemble.rules import VoteSpec
from kaggle_cnn.store.workspace import Workspace


def write(folder, name, ids, labels, header=("id", "animal")):
    folder.mkdir(exist_ok=True)
    pd.DataFrame({header[0]: ids, header[1]: labels}).to_csv(folder / f"{name}.csv", index=False)


def labels_of(csv_path) -> list[str]:
    return pd.read_csv(csv_path, dtype=str).iloc[:, 1].tolist()


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


def test_ids_holding_line_breaks_commas_and_quotes_are_written_quoted(tmp_path):
    """An image file name may hold a CR, a comma or a quote: the vote writes it
    quoted, so that any CSV reader gets the same ids back."""
    ids = ["a\rb.png", "c,d.png", 'e"f.png', "g\nh.png", "plain.png"]
    folder = tmp_path / "m"
    for name, labels in {"a": ["cat", "dog", "cat", "dog", "cat"], "b": ["cat", "dog", "dog", "dog", "cat"]}.items():
        folder.mkdir(exist_ok=True)
        frame = pd.DataFrame({"file": ids, "label": labels})
        frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\r\n")  # quotes every CR and LF
    outcome = api.vote(Workspace(tmp_path / "ws"), folder)
    out = pd.read_csv(outcome.csv_path, dtype=str, keep_default_na=False)
    assert out["file"].tolist() == ids
    assert out["label"].tolist() == ["cat", "dog", "cat", "dog", "cat"]
    assert '"a\rb.png"' in outcome.csv_path.read_bytes().decode()


def test_a_run_on_image_files_with_odd_names_writes_them_quoted(kcnn, tmp_path):
    """Test images named with a CR, a comma and a quote: the run's own submission
    and the vote both give those names back to a CSV reader."""
    from PIL import Image

    from kaggle_cnn.data import demo_path

    digits = pd.read_csv(demo_path() / "train.csv.gz", nrows=20).drop(columns="label").to_numpy(np.uint8)
    root = tmp_path / "photos"
    for c, start in (("cat", 0), ("dog", 6)):
        (root / "train" / c).mkdir(parents=True)
        for k in range(6):
            Image.fromarray(digits[start + k].reshape(28, 28)).save(root / "train" / c / f"{c}{k}.png")
    (root / "test").mkdir()
    names = ["a\rb.png", "c,d.png", 'e"f.png', "plain.png"]
    for i, name in enumerate(names):
        Image.fromarray(digits[12 + i].reshape(28, 28)).save(root / "test" / name)
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", root, "--model", "cnn1", "--epochs", 1, "--batch-size", 8,
                  "--keep-above", 0)
    assert result.exit_code == 0, result.output
    (run,) = Workspace(workspace).runs()
    own = pd.read_csv(run.path / "submission.csv", dtype=str)
    assert sorted(own["file"]) == sorted(names)
    outcome = api.vote(Workspace(workspace))
    assert outcome.sidecar["members"][0]["run_id"] == run.run_id  # read back as the run's own CSV
    assert pd.read_csv(outcome.csv_path, dtype=str)["file"].tolist() == own["file"].tolist()


def test_numeric_labels_order_numerically(tmp_path):
    folder = tmp_path / "m"
    write(folder, "a", [1], ["10"], header=("ImageId", "Label"))
    write(folder, "b", [1], ["9"], header=("ImageId", "Label"))
    outcome = api.vote(Workspace(tmp_path / "ws"), folder)
    assert labels_of(outcome.csv_path) == ["9"]


def test_ties_between_runs_go_to_the_higher_mean_probability(trained_copy):
    workspace = Workspace(trained_copy)
    first, second = workspace.runs()
    outcome = api.vote(workspace)
    # Two members: every disagreement is a tie, settled by the mean probability
    # of the two tied classes.
    votes = np.array([first.test_proba().argmax(1), second.test_proba().argmax(1)])
    disagreements = int((votes[0] != votes[1]).sum())
    assert outcome.sidecar["ties"] == disagreements == outcome.sidecar["ties_by_rule"]["probability"]
    assert disagreements > 0  # (one-epoch runs: there is something to settle)
    mean = (first.test_proba() + second.test_proba()) / 2
    rows = np.arange(len(mean))
    expected = np.where(mean[rows, votes[0]] >= mean[rows, votes[1]], votes[0], votes[1])
    assert labels_of(outcome.csv_path) == [str(c) for c in expected]


def test_a_teammate_csv_joins_run_members(kcnn, trained_copy):
    workspace = Workspace(trained_copy)
    member = pd.read_csv(workspace.member_submission("cnn1-s0-a000"), dtype=str)
    member.to_csv(workspace.submissions_dir / "teammate.csv", index=False)
    result = kcnn("-w", trained_copy, "vote", "--name", "with_teammate")
    assert result.exit_code == 0, result.output
    sidecar = json.loads((workspace.ensemble_dir / "with_teammate.json").read_text())
    assert [m["run_id"] for m in sidecar["members"]] == ["cnn1-s0-a000", "cnn1-s0-a001", None]
    assert sidecar["val_accuracy"] is None and "val_estimate" not in sidecar
    assert "validation accuracy: unknown" in result.output
    # the teammate copied cnn1-s0-a000: two of three votes, on every row
    assert sidecar["ties"] == 0
    assert labels_of(workspace.ensemble_dir / "with_teammate.csv") == member["Label"].tolist()


# -- methods, filters, TTA, check ----------------------------------------------------


@pytest.fixture(scope="module")
def four_runs(kcnn, trained, competition, tmp_path_factory):
    """The session's two runs plus two more: four members on one split. Read-only:
    tests write into their own copy, `workspace4`."""
    root = tmp_path_factory.mktemp("four") / "w"
    shutil.copytree(trained, root)
    result = kcnn("-w", root, "train", "--data", competition, "--model", "cnn1", "--repeat", 2, "--epochs", 1,
                  "--batch-size", 32)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def workspace4(four_runs, tmp_path):
    return shutil.copytree(four_runs, tmp_path / "w")


def stored(workspace: Workspace, suffix: str = ""):
    """Members' stored predictions as the vote sees them: validation votes and
    probabilities, the split's labels, and the test votes and probabilities."""
    runs = workspace.runs()
    split = workspace.find_split(runs[0].fingerprint)
    val_proba = [np.load(r.path / f"val_proba{suffix}.npy").astype(np.float64) for r in runs]
    test_proba = [np.load(r.path / f"test_proba{suffix}.npy").astype(np.float64) for r in runs]
    return (np.array([p.argmax(1) for p in val_proba]), val_proba, split.val_labels,
            np.array([p.argmax(1) for p in test_proba]), test_proba)


@pytest.mark.parametrize("method, name", [("hard", "majority_vote"), ("soft", "soft_vote"),
                                          ("weighted", "weighted_vote"), ("greedy", "greedy_ensemble")])
def test_each_method_end_to_end(kcnn, workspace4, method, name):
    result = kcnn("-w", workspace4, "vote", "--method", method)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # the runs' own CSVs: their stored predictions, no warning
    workspace = Workspace(workspace4)
    out = workspace.ensemble_dir / f"{name}.csv"
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["method"] == method and len(sidecar["members"]) == 4
    assert [m["run_id"] for m in sidecar["members"]] == [f"cnn1-s0-a00{i}" for i in range(4)]
    assert sidecar["csv_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    frame = pd.read_csv(out, dtype=str)
    assert frame["ImageId"].tolist() == pd.read_csv(workspace.member_submission("cnn1-s0-a000"), dtype=str)["ImageId"].tolist()

    # members' scores, the weights chosen, and every figure, from the stored predictions
    val_votes, val_proba, truth, test_votes, test_proba = stored(workspace)
    scores = [float(np.mean(v == truth)) for v in val_votes]
    assert [m["val_accuracy"] for m in sidecar["members"]] == pytest.approx(scores)
    assert [m["val_score"] for m in sidecar["members"]] == pytest.approx(scores)  # the workspace judges by accuracy
    assert scores == pytest.approx([r.val_accuracy for r in workspace.runs()])
    spec = VoteSpec(method=method)
    weights = rules.fit_weights(spec, val_votes, val_proba, truth)
    assert [m["weight"] for m in sidecar["members"]] == pytest.approx(weights.tolist())
    in_sample = rules.combine(spec, weights, val_votes, val_proba, scores, 10).predictions
    assert sidecar["val_predictions"] == [str(c) for c in in_sample]
    assert sidecar["val_accuracy"] == pytest.approx(np.mean(in_sample == truth))
    estimate = rules.kfold_estimate(spec, val_votes, val_proba, truth, 10)
    assert sidecar["val_estimate"] == pytest.approx(estimate) and estimate["folds"] == 5
    assert f"{sidecar['val_accuracy']:.4f} in-sample, {estimate['value']:.4f} 5-fold estimate" in result.output
    predicted = rules.combine(spec, weights, test_votes, test_proba, scores, 10).predictions
    assert frame["Label"].tolist() == [str(c) for c in predicted]

    if method == "hard":
        assert weights.tolist() == [1.0] * 4
    if method == "soft":  # the mean of the stored probabilities, independently of the rules module
        assert sidecar["val_predictions"] == [str(c) for c in np.mean(val_proba, axis=0).argmax(1)]
    if method == "weighted":
        assert [m["weight"] for m in sidecar["members"]] == [m["val_accuracy"] for m in sidecar["members"]]
    if method == "greedy":
        chosen = {f"cnn1-s0-a00{i}": int(w) for i, w in enumerate(weights) if w > 0}
        assert sidecar["multiplicities"] == chosen  # the best ensemble seen while adding members
        assert "chosen: " + ", ".join(f"{n} x{k}" for n, k in chosen.items()) in result.output


def test_soft_vote_is_the_mean_of_stored_probabilities(workspace4):
    workspace = Workspace(workspace4)
    outcome = api.vote(workspace, spec=VoteSpec("soft"))
    mean = np.mean([r.test_proba() for r in workspace.runs()], axis=0)
    assert labels_of(outcome.csv_path) == [str(c) for c in mean.argmax(1)]
    geometric = api.vote(workspace, spec=VoteSpec("soft", geometric=True), name="geo")
    assert geometric.sidecar["options"]["geometric"] is True
    logs = np.sum([np.log(np.clip(r.test_proba(), PROBABILITY_CLIP, 1.0)) for r in workspace.runs()], axis=0)
    assert labels_of(geometric.csv_path) == [str(c) for c in logs.argmax(1)]


def test_filters_top_keep_above_model(kcnn, assert_refused, workspace4):
    workspace = Workspace(workspace4)
    top = api.vote(workspace, spec=VoteSpec("hard", top=2), name="top2").sidecar
    used = [m for m in top["members"] if m["weight"] > 0]
    best_two = sorted((m["val_accuracy"] for m in top["members"]), reverse=True)[:2]
    assert sorted((m["val_accuracy"] for m in used), reverse=True) == best_two
    assert len(used) == 2
    only = api.vote(workspace, model="cnn1", name="only_cnn1").sidecar["members"]
    assert [m["model"] for m in only] == ["cnn1"] * 4
    assert_refused(kcnn("-w", workspace4, "vote", "--keep-above", 1.0), "no member passes")
    assert_refused(kcnn("-w", workspace4, "vote", "--model", "cnn9"), "cnn9")
    assert_refused(kcnn("-w", workspace4, "vote", "--top", 0), "--top")


def test_member_weights_file(kcnn, assert_refused, workspace4, tmp_path):
    weights = tmp_path / "weights.csv"
    pd.DataFrame({"member": ["cnn1-s0-a000.csv", "cnn1-s0-a001", "cnn1-s0-a002", "cnn1-s0-a003"],
                  "weight": [5, 0, 0, 0]}).to_csv(weights, index=False)
    result = kcnn("-w", workspace4, "vote", "--method", "weighted", "--member-weights", weights, "--name", "w")
    assert result.exit_code == 0, result.output
    workspace = Workspace(workspace4)
    sidecar = json.loads((workspace.ensemble_dir / "w.json").read_text())
    assert [m["weight"] for m in sidecar["members"]] == [5, 0, 0, 0]
    assert labels_of(workspace.ensemble_dir / "w.csv") == labels_of(workspace.member_submission("cnn1-s0-a000"))
    pd.DataFrame({"member": ["cnn1-s0-a000"], "weight": [1]}).to_csv(weights, index=False)
    assert_refused(kcnn("-w", workspace4, "vote", "--method", "weighted", "--member-weights", weights),
                   "no weight for member")


def test_vote_weights_is_refused_with_a_hint_to_member_weights(kcnn, assert_refused, workspace4, tmp_path):
    """`kcnn vote --weights` was renamed: refused, naming the new option (train's --weights is a backbone's)."""
    weights = tmp_path / "weights.csv"
    pd.DataFrame({"member": [f"cnn1-s0-a00{i}" for i in range(4)], "weight": [1, 1, 1, 1]}).to_csv(weights,
                                                                                                  index=False)
    assert_refused(kcnn("-w", workspace4, "vote", "--method", "weighted", "--weights", weights), "--member-weights")
    assert not Workspace(workspace4).ensemble_dir.exists()
    assert "--member-weights" in kcnn("vote", "--help").output


def test_labels_only_members_refuse_what_needs_probabilities(kcnn, assert_refused, workspace4):
    workspace = Workspace(workspace4)
    pd.read_csv(workspace.member_submission("cnn1-s0-a000"), dtype=str).to_csv(
        workspace.submissions_dir / "teammate.csv", index=False)
    assert_refused(kcnn("-w", workspace4, "vote", "--method", "soft"), "teammate.csv", "probabilities")
    assert_refused(kcnn("-w", workspace4, "vote", "--method", "greedy"), "teammate.csv", "greedy")
    assert_refused(kcnn("-w", workspace4, "vote", "--method", "weighted"), "teammate.csv")
    result = kcnn("-w", workspace4, "vote", "--method", "hard")
    assert result.exit_code == 0, result.output
    assert len(json.loads((workspace.ensemble_dir / "majority_vote.json").read_text())["members"]) == 5


def test_probabilities_of_the_wrong_shape_are_refused(kcnn, assert_refused, workspace4):
    workspace = Workspace(workspace4)
    np.save(workspace.run_dir("cnn1-s0-a002") / "test_proba.npy", np.zeros((7, 10), dtype=np.float32))
    assert_refused(kcnn("-w", workspace4, "vote", "--method", "soft"), "cnn1-s0-a002/test_proba.npy",
                   "shape 7x10 where 60x10")
    assert not workspace.ensemble_dir.exists()  # nothing written


def test_members_with_different_class_sets_are_refused(kcnn, assert_refused, workspace4):
    run_json = Workspace(workspace4).run_dir("cnn1-s0-a003") / "run.json"
    record = json.loads(run_json.read_text())
    record["data"]["classes"] = list(range(1, 11))
    run_json.write_text(json.dumps(record))
    assert_refused(kcnn("-w", workspace4, "vote"), "cnn1-s0-a003.csv", "same classes")


def test_a_member_with_labels_outside_the_classes_is_refused(kcnn, assert_refused, trained_copy):
    workspace = Workspace(trained_copy)
    banana = pd.read_csv(workspace.member_submission("cnn1-s0-a000"), dtype=str).assign(Label="banana")
    banana.to_csv(workspace.submissions_dir / "banana.csv", index=False)
    assert_refused(kcnn("-w", trained_copy, "vote"), f"{workspace.submissions_dir / 'banana.csv'} line 2",
                   "label 'banana' is not one of the 10 classes")
    assert_refused(kcnn("-w", trained_copy, "vote", "--across-data"), "banana.csv line 2")
    assert not workspace.ensemble_dir.exists()  # nothing written


def test_runs_on_other_data_vote_together_only_across_data(kcnn, assert_refused, trained_copy, competition,
                                                           tmp_path):
    """The same test images and classes, a different training set: the second
    dataset's run is refused by name until --across-data asks for it."""
    other = shutil.copytree(competition, tmp_path / "other")
    pd.read_csv(competition / "train.csv").iloc[50:].to_csv(other / "train.csv", index=False)
    result = kcnn("-w", trained_copy, "train", "--data", other, "--model", "cnn1", "--keep-above", 0, "--epochs", 1,
                  "--batch-size", 32)
    assert result.exit_code == 0, result.output
    workspace = Workspace(trained_copy)
    first = workspace.load_run("cnn1-s0-a000")
    newcomer = next(r for r in workspace.runs() if r.fingerprint != first.fingerprint)
    assert_refused(kcnn("-w", trained_copy, "vote"), f"{workspace.member_submission(newcomer.run_id)}",
                   f"its run {newcomer.run_id} was trained on other data", f"fingerprint {newcomer.fingerprint}",
                   f"fingerprint {first.fingerprint}", "--across-data")
    assert not workspace.ensemble_dir.exists()
    result = kcnn("-w", trained_copy, "vote", "--across-data")
    assert result.exit_code == 0, result.output
    sidecar = json.loads((workspace.ensemble_dir / "majority_vote.json").read_text())
    assert sorted(m["run_id"] for m in sidecar["members"]) == sorted(r.run_id for r in workspace.runs())
    assert "members are runs on different data" in sidecar["val_note"]


def test_explain_prints_diagnostics(kcnn, workspace4):
    result = kcnn("-w", workspace4, "vote", "--explain")
    assert result.exit_code == 0, result.output
    for fragment in ("disagree", "vote margins", "tied rows", "per-class validation F1"):
        assert fragment in result.output
    workspace = Workspace(workspace4)
    sidecar = json.loads((workspace.ensemble_dir / "majority_vote.json").read_text())
    _, _, _, test_votes, _ = stored(workspace)
    expected = (test_votes[:, None, :] != test_votes[None, :, :]).mean(axis=2)
    assert np.allclose(sidecar["diagnostics"]["disagreement"]["matrix"], expected, atol=1e-4)
    assert len(sidecar["diagnostics"]["tied_ids"]) == sidecar["ties"]
    assert set(sidecar["per_class_f1_gain"]["0"]) == {"ensemble", "best_member", "gain"}


# -- kcnn tta ------------------------------------------------------------------------


def test_tta_then_vote_tta(kcnn, assert_refused, workspace4):
    assert_refused(kcnn("-w", workspace4, "vote", "--tta"), "kcnn tta")
    result = kcnn("-w", workspace4, "tta", "--transforms", "shift_px=1,rotate=8")  # data found where it was trained
    assert result.exit_code == 0, result.output
    workspace = Workspace(workspace4)
    for run in workspace.runs():
        split = workspace.find_split(run.fingerprint)
        val_tta = np.load(run.path / "val_proba_tta.npy")
        assert np.load(run.path / "test_proba_tta.npy").shape == run.test_proba().shape
        assert val_tta.shape == run.val_proba().shape
        np.testing.assert_allclose(val_tta.sum(axis=1), 1.0, atol=1e-5)
        assert not np.allclose(val_tta, run.val_proba())  # the augmented copies changed something
        tta = run.record["tta"]
        assert tta["transforms"] == "shift_px=1,rotate=8"
        assert tta["val_accuracy"] == pytest.approx(np.mean(val_tta.argmax(axis=1) == split.val_labels))
        assert tta["val_accuracy_plain"] == pytest.approx(run.val_accuracy)
        assert (f"{run.run_id}  val_acc {tta['val_accuracy_plain']:.4f} -> {tta['val_accuracy']:.4f}"
                in result.output)
    result = kcnn("-w", workspace4, "vote", "--tta", "--method", "soft")
    assert result.exit_code == 0, result.output
    _, _, _, _, test_tta = stored(workspace, "_tta")
    assert labels_of(workspace.ensemble_dir / "soft_vote_tta.csv") == [str(c) for c in np.mean(test_tta, 0).argmax(1)]

    # Neither --tta nor --no-tta: both soft votes scored on the validation rows, the better one used
    result = kcnn("-w", workspace4, "vote", "--method", "soft", "--name", "chosen")
    assert result.exit_code == 0, result.output
    sidecar = json.loads((workspace.ensemble_dir / "chosen.json").read_text())
    runs = list(workspace.runs())
    truth = workspace.find_split(runs[0].fingerprint).val_labels
    plain = np.mean(np.mean([run.val_proba() for run in runs], axis=0).argmax(axis=1) == truth)
    augmented = np.mean(np.mean([np.load(run.path / "val_proba_tta.npy") for run in runs], axis=0).argmax(1) == truth)
    assert sidecar["tta_choice"] == {"plain": pytest.approx(plain), "tta": pytest.approx(augmented),
                                     "used": bool(augmented > plain)}
    assert sidecar["tta"] is bool(augmented > plain)
    assert ("used" if augmented > plain else "not used") in result.output
    result = kcnn("-w", workspace4, "vote", "--method", "soft", "--no-tta", "--name", "plain")
    assert result.exit_code == 0, result.output
    sidecar = json.loads((workspace.ensemble_dir / "plain.json").read_text())
    assert sidecar["tta"] is False and "tta_choice" not in sidecar


def test_tta_of_one_run_and_the_old_predict_spelling(kcnn, workspace4):
    """`kcnn predict RUNS --tta SPEC` still works (hidden), as `kcnn tta RUNS --transforms SPEC`."""
    workspace = Workspace(workspace4)
    result = kcnn("-w", workspace4, "tta", "cnn1-s0-a001", "--transforms", "hflip")
    assert result.exit_code == 0, result.output
    assert [r.run_id for r in workspace.runs() if "tta" in r.record] == ["cnn1-s0-a001"]
    first = np.load(workspace.run_dir("cnn1-s0-a001") / "test_proba_tta.npy")
    result = kcnn("-w", workspace4, "predict", "cnn1-s0-a001", "--tta", "hflip")
    assert result.exit_code == 0, result.output
    assert "kcnn tta --transforms" in result.stderr  # the alias says what it is now
    np.testing.assert_allclose(np.load(workspace.run_dir("cnn1-s0-a001") / "test_proba_tta.npy"), first, atol=1e-6)
    assert [r.run_id for r in workspace.runs() if "tta" in r.record] == ["cnn1-s0-a001"]
    listed = kcnn("--help").output.split("Commands:")[1]
    commands = [line.split()[0] for line in listed.splitlines() if line.startswith("  ")]
    assert "tta" in commands and "vote" in commands and "predict" not in commands


def test_tta_refuses_bad_transforms_and_moved_data(kcnn, assert_refused, workspace4):
    from kaggle_cnn.data import demo_path

    assert_refused(kcnn("-w", workspace4, "tta", "--transforms", "spin=3"), "spin=3")
    # --augment's shift is a fraction of the image; TTA's is in pixels, and says so
    assert_refused(kcnn("-w", workspace4, "tta", "--transforms", "hflip,shift=2"), "shift_px")
    old = kcnn("-w", workspace4, "predict", "--tta", "shift=2")
    assert old.exit_code == 2 and "shift_px" in old.stderr.strip().splitlines()[-1], old.stderr
    assert_refused(kcnn("-w", workspace4, "tta", "--transforms", "shift_px=1.5"), "shift_px")
    assert_refused(kcnn("-w", workspace4, "tta", "--transforms", "hflip", "--data", demo_path()), "fingerprint",
                   "--data")
    assert_refused(kcnn("-w", workspace4, "tta", "cnn1-s9-a000", "--transforms", "hflip"), "cnn1-s9-a000")
    assert not list(Path(workspace4).glob("models/*/*_tta.npy"))  # nothing written


def test_check_a_submission(kcnn, assert_refused, trained, competition, tmp_path):
    member = Workspace(trained).member_submission("cnn1-s0-a000")
    sample = competition / "sample_submission.csv"
    result = kcnn("check", member, "--sample", sample, "--data", competition)
    assert result.exit_code == 0, result.output
    assert f"{member}: ok (60 rows; checked header, unique ids, id set and order, row count, labels)" in result.output
    frame = pd.read_csv(member, dtype=str)
    frame.iloc[::-1].to_csv(tmp_path / "reversed.csv", index=False)
    assert_refused(kcnn("check", tmp_path / "reversed.csv", "--sample", sample), "reversed.csv line 2", "order")
    frame.loc[3, "Label"] = "eleven"
    frame.to_csv(tmp_path / "odd.csv", index=False)
    assert_refused(kcnn("check", tmp_path / "odd.csv", "--data", competition), "odd.csv line 5", "'eleven'")
    frame.loc[4, "ImageId"] = frame.loc[2, "ImageId"]
    frame.to_csv(tmp_path / "dup.csv", index=False)
    assert_refused(kcnn("check", tmp_path / "dup.csv"), "dup.csv line 6", "repeats line 4")


def test_check_and_score_name_a_path_that_is_not_a_csv_file(kcnn, assert_refused, trained, competition, tmp_path):
    member = Workspace(trained).member_submission("cnn1-s0-a000")
    missing, folder = tmp_path / "missing.csv", tmp_path / "folder"
    folder.mkdir()
    for args, fragments in [
        (["check", missing], [f"{missing}: no such file"]),
        (["check", folder], [f"{folder}: a folder, not a CSV file"]),
        (["check", member, "--sample", missing], [f"--sample {missing}: no such file"]),
        (["check", member, "--sample", folder], [f"--sample {folder}: a folder"]),
        (["score", missing, "--answers", member], [f"{missing}: no such file"]),
        (["score", folder, "--answers", member], [f"{folder}: a folder, not a CSV file"]),
        (["score", member, "--answers", missing], [f"--answers {missing}: no such file or folder"]),
    ]:
        assert_refused(kcnn(*args), *fragments)
    # a repeated id is named, not a crash, and ids print as plain text
    frame = pd.read_csv(member, dtype=str)
    pd.concat([frame, frame.iloc[[0]]]).to_csv(tmp_path / "dup.csv", index=False)
    result = kcnn("score", tmp_path / "dup.csv", "--answers", member)
    assert_refused(result, f"dup.csv line 62: id '{frame['ImageId'][0]}' repeats line 2")
    frame.iloc[:-1].to_csv(tmp_path / "short.csv", index=False)
    assert_refused(kcnn("score", tmp_path / "short.csv", "--answers", member),
                   f"short.csv: id '{frame['ImageId'].iloc[-1]}' of the answers {member} is missing")


def test_member_ids_print_as_plain_text(kcnn, assert_refused, tmp_path):
    write(tmp_path / "m", "a", ["1", "987"], ["cat", "dog"])
    write(tmp_path / "m", "b", ["1", "988"], ["cat", "dog"])
    result = kcnn("-w", tmp_path / "ws", "vote", tmp_path / "m")
    assert_refused(result, "b.csv line 3: id '988' differs from '987' in a.csv")
    assert "np.str_" not in result.stderr


# -- members that are not what their names say -----------------------------------------


def tamper_labels(csv_path, rows) -> list[str]:
    """Shift the labels of some rows (digits 0-9) by one; returns the new labels."""
    frame = pd.read_csv(csv_path, dtype=str)
    frame.loc[rows, "Label"] = ((frame.loc[rows, "Label"].astype(int) + 1) % 10).astype(str)
    frame.to_csv(csv_path, index=False)
    return frame["Label"].tolist()


def test_another_workspaces_csvs_bring_probabilities_only_when_they_are_the_runs_own(kcnn, assert_refused,
                                                                                    trained, trained_copy, tmp_path):
    """Workspace B is a copy of A whose cnn1-s0-a000.csv was edited, and whose
    cnn1-s0-a001.csv was saved again with Windows line ends. Voted from A, the
    first is a labels-only member (with a warning); the second is still A's run."""
    other = Path(shutil.copytree(trained, tmp_path / "B")) / "submissions"
    edited = tamper_labels(other / "cnn1-s0-a000.csv", range(0, 60, 3))
    same = pd.read_csv(other / "cnn1-s0-a001.csv", dtype=str)
    same.to_csv(other / "cnn1-s0-a001.csv", index=False, lineterminator="\r\n")
    assert_refused(kcnn("-w", trained_copy, "vote", other, "--method", "soft"),
                   f"{other / 'cnn1-s0-a000.csv'} is not run cnn1-s0-a000 of this workspace (its labels differ)")
    result = kcnn("-w", trained_copy, "vote", other, "--name", "cross")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [f"Warning: {other / 'cnn1-s0-a000.csv'} is not run cnn1-s0-a000 of this "
                                          "workspace (its labels differ): voted as labels only"]
    sidecar = json.loads((Workspace(trained_copy).ensemble_dir / "cross.json").read_text())
    assert [m["run_id"] for m in sidecar["members"]] == [None, "cnn1-s0-a001"]
    assert sidecar["val_accuracy"] is None  # a labels-only member has no validation predictions
    # B's edited labels are what voted: the members disagree where they differ
    differ = int(np.sum(np.array(edited) != same["Label"].to_numpy()))
    assert sidecar["ties"] == differ and sidecar["diagnostics"]["disagreement"]["matrix"][0][1] == round(differ / 60, 4)
    # every tie goes to the only stored probabilities, cnn1-s0-a001's, whose top class is its own vote
    assert labels_of(Workspace(trained_copy).ensemble_dir / "cross.csv") == same["Label"].tolist()


def test_soft_refusal_says_why_each_member_lacks_probabilities(kcnn, assert_refused, trained_copy):
    workspace = Workspace(trained_copy)
    (workspace.run_dir("cnn1-s0-a000") / "test_proba.npy").unlink()
    tamper_labels(workspace.member_submission("cnn1-s0-a001"), [0])
    shutil.copyfile(workspace.run_dir("cnn1-s0-a001") / "submission.csv", workspace.submissions_dir / "teammate.csv")
    assert_refused(
        kcnn("-w", trained_copy, "vote", "--method", "soft"),
        "--method soft needs stored probabilities of every member: run cnn1-s0-a000 has no stored test probabilities: "
        f"{workspace.run_dir('cnn1-s0-a000') / 'test_proba.npy'} is missing; "
        f"{workspace.member_submission('cnn1-s0-a001')} is not run cnn1-s0-a001 of this workspace (its labels differ); "
        "teammate.csv is not a run of this workspace")
    assert not workspace.ensemble_dir.exists()


@pytest.mark.parametrize("damage, fragment", [
    ("truncated", "damaged, not a stored array"),
    ("nan", "damaged, probabilities outside [0, 1] or not finite"),
    ("objects", "damaged, not a stored array"),
])
def test_damaged_test_probabilities(kcnn, assert_refused, trained_copy, damage, fragment):
    """Refused where probabilities are needed; a warning where the run's CSV can vote."""
    workspace = Workspace(trained_copy)
    path = workspace.run_dir("cnn1-s0-a001") / "test_proba.npy"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "nan":
        proba = np.load(path)
        proba[5, 3] = np.nan
        np.save(path, proba)
    else:
        np.save(path, np.array([{"a": 1}] * 60, dtype=object), allow_pickle=True)
    assert_refused(kcnn("-w", trained_copy, "vote", "--method", "soft"), f"{path}: {fragment}")
    result = kcnn("-w", trained_copy, "vote")
    assert result.exit_code == 0, result.output
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"Warning: {path}: {fragment}") and "cnn1-s0-a001.csv voted as labels only" in result.stderr
    # the other run's probabilities alone settle the ties
    sidecar = json.loads((workspace.ensemble_dir / "majority_vote.json").read_text())
    first = workspace.load_run("cnn1-s0-a000").test_proba()
    second = labels_of(workspace.member_submission("cnn1-s0-a001"))
    assert labels_of(workspace.ensemble_dir / "majority_vote.csv") == [str(c) for c in first.argmax(1)]
    assert sidecar["ties"] == sum(str(a) != b for a, b in zip(first.argmax(1), second))


# -- the workspace as a vote finds it -----------------------------------------------------


def test_vote_first_completes_a_run_a_killed_train_left(kcnn, trained_copy):
    workspace = Workspace(trained_copy)
    index = workspace.read_index()
    index[index["run_id"] != "cnn1-s0-a001"].to_csv(workspace.index_path, index=False)  # row never appended
    workspace.member_submission("cnn1-s0-a001").unlink()  # copy never made
    result = kcnn("-w", trained_copy, "vote")
    assert result.exit_code == 0, result.output
    assert workspace.read_index()["run_id"].tolist() == ["cnn1-s0-a000", "cnn1-s0-a001"]
    assert workspace.member_submission("cnn1-s0-a001").read_bytes() == (
        workspace.run_dir("cnn1-s0-a001") / "submission.csv").read_bytes()
    sidecar = json.loads((workspace.ensemble_dir / "majority_vote.json").read_text())
    assert [m["run_id"] for m in sidecar["members"]] == ["cnn1-s0-a000", "cnn1-s0-a001"]


def test_vote_never_reads_its_own_output(kcnn, assert_refused, trained_copy, tmp_path):
    workspace = Workspace(trained_copy)
    assert kcnn("-w", trained_copy, "vote").exit_code == 0
    output = workspace.ensemble_dir / "majority_vote.csv"
    before = output.read_bytes()
    for folder in (workspace.ensemble_dir, trained_copy / "submissions" / ".." / "submissions" / "ensemble"):
        assert_refused(kcnn("-w", trained_copy, "vote", folder), f"{folder}: this is where votes are written")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "mine.csv").symlink_to(output)
    assert_refused(kcnn("-w", trained_copy, "vote", linked), f"{linked / 'mine.csv'}: this member is the vote's own "
                   f"output {output}")
    assert output.read_bytes() == before
    assert kcnn("-w", trained_copy, "vote", linked, "--name", "elsewhere").exit_code == 0


def test_vote_options_out_of_range_are_refused(kcnn, assert_refused, trained_copy, tmp_path):
    weights = tmp_path / "weights.csv"
    weights.write_text("member,weight\ncnn1-s0-a000,1\ncnn1-s0-a001,2\ncnn1-s0-a000.csv,3\n")
    infinite = tmp_path / "infinite.csv"
    infinite.write_text("member,weight\ncnn1-s0-a000,1\ncnn1-s0-a001,inf\n")
    for args, fragments in [
        (["--name", "v" * 300], ["--name vvv", "at most 100"]),
        (["--name", "../out"], ["--name ../out"]),
        (["--method", "greedy", "--rounds", 100_000_000], ["--rounds must be between 0 and 10000, got 100000000"]),
        (["--method", "greedy", "--rounds", -1], ["--rounds", "got -1"]),
        (["--method", "greedy", "--init", 3], ["--init 3: greedy starts from the best 3 members, but this vote has 2"]),
        (["--method", "greedy", "--init", 0], ["--init must be at least 1, got 0"]),
        (["--top", 0], ["--top must be at least 1, got 0"]),
        (["--keep-above", "nan"], ["--keep-above nan: must be between 0 and 1 for accuracy"]),
        (["--keep-above", 1.5], ["--keep-above 1.5: must be between 0 and 1 for accuracy"]),
        (["--method", "weighted", "--member-weights", weights],
         [f"{weights} line 4: member cnn1-s0-a000 is listed twice (lines 2 and 4)"]),
        (["--method", "weighted", "--member-weights", infinite],
         [f"{infinite} line 3: weight inf of cnn1-s0-a001 is not a finite number >= 0"]),
        (["--method", "hard", "--member-weights", infinite], ["--member-weights is for --method weighted, not hard"]),
    ]:
        assert_refused(kcnn("-w", trained_copy, "vote", *args), *fragments)
    assert not Workspace(trained_copy).ensemble_dir.exists()  # nothing written
    result = kcnn("-w", trained_copy, "vote", "--name", "v" * 100)
    assert result.exit_code == 0, result.output
    help_text = " ".join(kcnn("vote", "--help").output.split())
    assert "(0 to 10000)" in help_text and "up to 100 letters" in help_text


def test_the_help_quotes_the_limits_and_choices_the_vote_enforces(kcnn):
    from kaggle_cnn.ensemble import vote as vote_module

    help_text = " ".join(kcnn("vote", "--help").output.split())
    assert f"(0 to {rules.MAX_ROUNDS})" in help_text and f"up to {vote_module.NAME_LENGTH} letters" in help_text
    assert f"[{'|'.join(rules.METHODS)}]" in help_text
