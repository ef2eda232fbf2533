"""A workspace that others touched: damaged files are named in one line (or skipped
with a warning), run ids never reach outside the workspace, repair touches only
the toolkit's own temporary files, and `kcnn doctor` lists and repairs."""

from __future__ import annotations

import errno
import json
import shutil

import numpy as np
import pytest

from kaggle_cnn import api
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.workspace import Workspace

RUNS = ["cnn1-s0-a000", "cnn1-s0-a001"]


def _tree(root):
    """Every file under root (folders aside), as relative paths."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# -- run ids are names in this workspace ---------------------------------------------------


@pytest.mark.parametrize("command", [
    ["metrics", "{other}"],
    ["plot", "confusion", "{other}"],
    ["plot", "activations", "{other}"],
    ["plot", "curves", "{other}"],
    ["tta", "{other}", "--transforms", "hflip"],
])
def test_a_run_id_cannot_reach_another_workspace(kcnn, assert_refused, trained, tmp_path, command):
    other = Workspace(shutil.copytree(trained, tmp_path / "other"))
    before = {p: p.stat().st_mtime_ns for p in other.root.rglob("*")}
    mine = tmp_path / "mine"
    mine.mkdir()
    escape = f"../other/models/{RUNS[0]}"
    result = kcnn("-w", mine, *[part.format(other=escape) for part in command])
    assert_refused(result, repr(escape), "not a run name")
    assert {p: p.stat().st_mtime_ns for p in other.root.rglob("*")} == before
    assert _tree(mine) == []


@pytest.mark.parametrize("run_id", ["../x", "a/b", "..", ".kcnn-tmp-a", "", "a" * 201])
def test_run_ids_are_plain_names(trained, run_id):
    with pytest.raises(InputError, match="not a run name"):
        Workspace(trained).load_run(run_id)


# -- damaged files ------------------------------------------------------------------------------


def _damage_record(root):
    (root / "models" / RUNS[1] / "run.json").write_text('{"run_id": "cnn1-s0-a001", "model": ')


def _damage_proba(root):
    np.save(root / "models" / RUNS[1] / "test_proba.npy", np.full((60, 10), np.nan))


def _truncate_proba(root):
    path = root / "models" / RUNS[1] / "test_proba.npy"
    path.write_bytes(path.read_bytes()[:100])


def _object_proba(root):
    np.save(root / "models" / RUNS[1] / "test_proba.npy", np.array([{"a": 1}] * 60, dtype=object))


@pytest.mark.parametrize("damage, fragment", [
    (_damage_record, "not valid JSON"),
    (_damage_proba, "not finite"),
    (_truncate_proba, "not a stored array"),
    (_object_proba, "not a stored array"),
])
def test_a_damaged_run_is_named_and_the_others_stay_usable(kcnn, assert_refused, trained_copy, damage, fragment):
    damage(trained_copy)
    result = kcnn("-w", trained_copy, "doctor")
    assert result.exit_code == 1, result.output
    assert f"models/{RUNS[1]}: " in result.output and fragment in result.output
    assert "fixable: move the run to models/broken/" in result.output

    result = kcnn("-w", trained_copy, "doctor", "--fix")
    assert result.exit_code == 0, result.output
    assert (trained_copy / "models" / "broken" / RUNS[1] / "published_submission.csv").is_file()
    assert Workspace(trained_copy).run_ids() == [RUNS[0]]
    assert not (trained_copy / "submissions" / f"{RUNS[1]}.csv").exists()  # no longer voted
    assert kcnn("-w", trained_copy, "doctor").output.strip().endswith("nothing broken")


@pytest.mark.parametrize("command", ["metrics", "report"])
def test_a_damaged_run_is_skipped_with_one_warning(kcnn, trained_copy, command):
    _damage_record(trained_copy)
    result = kcnn("-w", trained_copy, command)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert f"skipping run {RUNS[1]}" in result.stderr and "run.json" in result.stderr
    if command == "metrics":
        assert RUNS[0] in result.stdout and RUNS[1] not in result.stdout


def test_naming_a_damaged_run_is_one_line(kcnn, assert_refused, trained_copy):
    _damage_record(trained_copy)
    assert_refused(kcnn("-w", trained_copy, "metrics", RUNS[1]), f"{RUNS[1]}/run.json", "kcnn doctor")


@pytest.mark.parametrize("content, fragment", [
    ("", "empty"),
    ("\x00\x01garbage\n", "no column 'run_id'"),
    ("run_id,model\nx,y\n", "no column 'base_seed'"),
])
def test_a_damaged_index_stops_training_and_doctor_rebuilds_it(kcnn, assert_refused, trained_copy, competition,
                                                              content, fragment):
    index = trained_copy / "models" / "index.csv"
    index.write_text(content)
    before = _tree(trained_copy)
    result = kcnn("-w", trained_copy, "train", "--data", competition, "--model", "cnn1", "--epochs", 1)
    assert_refused(result, "index.csv: damaged", fragment, "kcnn doctor --fix")
    assert _tree(trained_copy) == before

    assert kcnn("-w", trained_copy, "doctor", "--fix").exit_code == 0
    assert Workspace(trained_copy).read_index()["run_id"].tolist() == RUNS
    assert (trained_copy / "models" / "index.damaged.csv").read_text() == content


def test_a_damaged_split_is_one_line(kcnn, assert_refused, trained_copy):
    split = next((trained_copy / "models" / "splits").glob("*.json"))
    data = json.loads(split.read_text())
    split.write_text(json.dumps({**data, "val_labels": data["val_labels"][:-1]}))
    assert_refused(kcnn("-w", trained_copy, "metrics"), split.name, "do not agree")
    result = kcnn("-w", trained_copy, "doctor")
    assert result.exit_code == 1 and "to fix by hand: restore it from a backup" in result.output


# -- repair touches only its own files -------------------------------------------------------


def test_doctor_removes_only_the_toolkits_leftovers(kcnn, trained_copy):
    ours = [trained_copy / "models" / ".kcnn-tmp-cnn1-s0-a002", trained_copy / "submissions" / ".kcnn-tmp-x.1a.csv"]
    ours[0].mkdir()
    ours[1].write_text("ImageId,La")
    theirs = [trained_copy / "submissions" / ".team.final.csv", trained_copy / "models" / ".tmp-old",
              trained_copy / "models" / "notes"]
    for path in theirs:
        path.write_text("mine")
    result = kcnn("-w", trained_copy, "doctor", "--fix")
    assert result.exit_code == 0, result.output
    assert [p.exists() for p in ours] == [False, False]
    assert [p.read_text() for p in theirs] == ["mine"] * 3


def test_a_folder_written_atomically_is_a_leftover_doctor_knows_until_renamed(tmp_path):
    """One atomic folder writer: its temporary folder carries the one prefix the
    repair removes, is renamed into place whole with mkdir's mode, and is removed on failure."""
    import os

    from kaggle_cnn import fileio

    workspace = Workspace(tmp_path / "ws")
    final = workspace.models_dir / "studies" / "s1" / "trials" / "t001"
    with fileio.atomic_folder(final) as folder:
        (folder / "trial.json").write_text("{}")
        assert folder.parent == final.parent and folder.name.startswith(fileio.TMP_PREFIX)
        assert workspace.leftovers() == [folder] and not final.exists()
    assert sorted(p.name for p in final.parent.iterdir()) == ["t001"]
    assert (final / "trial.json").read_text() == "{}"
    mkdir_made = tmp_path / "plain"
    mkdir_made.mkdir()
    assert os.stat(final).st_mode == os.stat(mkdir_made).st_mode
    with pytest.raises(KeyboardInterrupt), fileio.atomic_folder(final.with_name("t002")) as folder:
        (folder / "model.keras").write_text("half")
        raise KeyboardInterrupt
    assert sorted(p.name for p in final.parent.iterdir()) == ["t001"]


def test_a_run_folder_is_written_under_the_one_temporary_prefix(trained_copy):
    workspace = Workspace(trained_copy)
    with workspace.new_run_dir("cnn1-s0-a009") as folder:
        (folder / "run.json").write_text("{}")
        assert workspace.leftovers() == [folder]
    assert workspace.leftovers() == [] and (workspace.run_dir("cnn1-s0-a009") / "run.json").exists()


def test_doctor_republishes_and_reindexes_a_run_cut_short(kcnn, trained_copy):
    workspace = Workspace(trained_copy)
    workspace.member_submission(RUNS[1]).unlink()
    index = workspace.read_index()
    index[index["run_id"] != RUNS[1]].to_csv(workspace.index_path, index=False)
    result = kcnn("-w", trained_copy, "doctor")
    assert result.exit_code == 1
    assert f"run {RUNS[1]} has no published submission" in result.output
    assert f"run {RUNS[1]} has no index row" in result.output
    assert kcnn("-w", trained_copy, "doctor", "--fix").exit_code == 0
    assert workspace.read_index()["run_id"].tolist() == RUNS
    run = workspace.load_run(RUNS[1])
    assert workspace.member_submission(RUNS[1]).read_bytes() == (run.path / "submission.csv").read_bytes()


def test_a_healthy_workspace(kcnn, trained):
    result = kcnn("-w", trained, "doctor")
    assert result.exit_code == 0 and result.output == f"{trained}: nothing broken\n"
    assert api.doctor(Workspace(trained)) == []


# -- a workspace that cannot be written --------------------------------------------------------


@pytest.mark.parametrize("command", [["metrics"], ["vote"], ["report"]])
def test_a_read_only_workspace_is_one_line(kcnn, assert_refused, trained_copy, monkeypatch, command):
    import kaggle_cnn.fileio

    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(dir))

    monkeypatch.setattr(kaggle_cnn.fileio.tempfile, "mkstemp", refuse)
    before = _tree(trained_copy)
    assert_refused(kcnn("-w", trained_copy, *command), "permission denied (is the workspace read-only?)")
    assert _tree(trained_copy) == before


def test_a_file_where_a_folder_belongs_is_one_line(kcnn, assert_refused, trained_copy):
    (trained_copy / "reports").write_text("not a folder")
    assert_refused(kcnn("-w", trained_copy, "metrics"), "reports")
