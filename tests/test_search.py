"""kcnn search: spaces, each algorithm on a tiny slice, resume, failures, export -> train."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from kaggle_cnn import api
from kaggle_cnn.data import load_dataset
from kaggle_cnn.errors import InputError
from kaggle_cnn.search import space as spaces
from kaggle_cnn.search import study as studies
from kaggle_cnn.store.workspace import Workspace

TINY = {
    "model": "cnn1",
    "epochs": 1,
    "batch_size": 64,
    "space": {
        "dense_units": {"choice": [16, 32]},
        "dropout": {"uniform": [0.1, 0.5]},
        "optimizer": {"choice": [
            {"optimizer": "adam", "lr": {"loguniform": [0.0005, 0.005]}},
            {"optimizer": "sgd", "lr": {"choice": [0.01, 0.05]}},
        ]},
    },
}
GRID = {"model": "cnn1", "epochs": 1, "space": {"dense_units": {"choice": [16, 32]}, "lr": {"choice": [0.001]}}}


def write_space(tmp_path, content, name="space"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


@pytest.fixture(scope="module")
def dataset(competition):
    return load_dataset(competition)


def test_space_parses_groups_and_labels(tmp_path):
    space = spaces.load_space(write_space(tmp_path, TINY))
    assert space.model == "cnn1" and space.fixed["epochs"] == 1
    optimizer = space.tree["optimizer"]
    assert optimizer.kind == "choice" and optimizer.args[1]["lr"].label == "optimizer[1].lr"
    flat = spaces.settings(space, {"dense_units": 32.0, "dropout": 0.2, "optimizer": {"optimizer": "sgd", "lr": 0.05}})
    assert flat == {"model": "cnn1", "epochs": 1, "batch_size": 64, "dense_units": 32, "dropout": 0.2,
                    "optimizer": "sgd", "lr": 0.05}


def test_grid_enumerates_nested_choices(tmp_path):
    content = {"model": "cnn1", "space": {"dense_units": {"choice": [16, 32]}, "optimizer": {"choice": [
        {"optimizer": "adam", "lr": {"choice": [0.001, 0.01]}}, {"optimizer": "sgd", "lr": 0.1}]}}}
    points = spaces.grid(spaces.load_space(write_space(tmp_path, content)))
    assert len(points) == 2 * 3
    assert points[0] == {"dense_units": 16, "optimizer": {"optimizer": "adam", "lr": 0.001}}


@pytest.mark.parametrize(
    "space, fragment",
    [
        ({"space": {"widht": {"choice": [1]}}}, "unknown option 'widht'"),
        ({"space": {"dropout": {"choice": []}}}, "non-empty list"),
        ({"space": {"dropout": {"uniform": [0.5, 0.1]}}}, "above high"),
        ({"space": {"lr": {"loguniform": [0, 0.1]}}}, "positive low"),
        ({"space": {"dropout": {"uniform": [0.1]}}}, "takes 2 numbers"),
        ({"space": {"model": {"choice": ["cnn1", "cnn2"]}}}, "one model at a time"),
        ({"space": {"optimizer": {"choice": [{"optimizer": "adamw", "lr": 0.1}]}}}, "'adamw'"),
        ({"epochs": 1}, "'space:'"),
    ],
)
def test_bad_spaces(tmp_path, space, fragment):
    path = write_space(tmp_path, {"model": "cnn1", **space})
    with pytest.raises(InputError, match=fragment.replace("(", r"\(")):
        spaces.load_space(path)


def test_cli_refuses_bad_searches_and_writes_nothing(kcnn, assert_refused, tmp_path, competition):
    continuous = write_space(tmp_path, TINY, "continuous")
    workspace = tmp_path / "ws"
    assert_refused(kcnn("-w", workspace, "search", "--data", competition, "--space", continuous, "--algo", "grid"),
                   "grid needs choice values", "dropout")
    assert_refused(kcnn("-w", workspace, "search", "--data", competition, "--space", continuous, "--max-evals", 0),
                   "--max-evals")
    assert_refused(kcnn("-w", workspace, "search", "--data", competition, "--space", tmp_path / "none.yaml"), "none.yaml")
    (tmp_path / "broken.yaml").write_text("space: [unclosed")
    assert_refused(kcnn("-w", workspace, "search", "--data", competition, "--space", tmp_path / "broken.yaml"),
                   "not valid YAML")
    assert_refused(kcnn("-w", workspace, "search", "--show"), "--study")
    assert not workspace.exists()


@pytest.mark.parametrize("algo, evals", [("tpe", 3), ("rand", 2), ("grid", 5)])
def test_each_algo_runs_trials_that_are_runs(kcnn, tmp_path, competition, algo, evals):
    space = write_space(tmp_path, GRID if algo == "grid" else TINY)
    result = kcnn("-w", tmp_path / "ws", "search", "--data", competition, "--space", space, "--algo", algo,
                  "--max-evals", evals, "--keep-above", 0.3)
    assert result.exit_code == 0, result.output
    workspace = Workspace(tmp_path / "ws")
    expected = 2 if algo == "grid" else evals  # the grid has two points
    index = workspace.read_index()
    assert list(index["run_id"]) == [f"cnn1-space-t{i:03d}" for i in range(expected)]
    state = studies.load_saved(workspace, "space")
    assert [t["number"] for t in state["trials"]] == list(range(expected))
    assert [t["status"] for t in state["trials"]] == ["ok"] * expected
    # each trial's score is its run's, and it was kept exactly when it reached 0.3
    by_run = index.set_index("run_id")
    for trial in state["trials"]:
        assert trial["val_accuracy"] == pytest.approx(by_run.loc[trial["run_id"], "val_accuracy"], abs=1e-6)
        assert trial["kept"] == (trial["val_accuracy"] >= 0.3) == bool(by_run.loc[trial["run_id"], "kept"])
    kept = {t["run_id"] for t in state["trials"] if t["kept"]}
    assert kept == set(workspace.run_ids())
    for run in workspace.runs():
        split = workspace.find_split(run.fingerprint)
        assert run.val_accuracy == pytest.approx(np.mean(run.val_proba().argmax(axis=1) == split.val_labels))
    assert (workspace.models_dir / "studies" / "space" / "leaderboard.csv").exists()
    assert "rank" in result.output and f"[trial {expected}/{expected}]" in result.output


def test_resume_continues_with_the_same_proposals(tmp_path, dataset):
    space = write_space(tmp_path, TINY)
    straight = Workspace(tmp_path / "straight")
    api.search(dataset, straight, space, max_evals=2, seed=7)
    resumed = Workspace(tmp_path / "resumed")
    api.search(dataset, resumed, space, max_evals=1, seed=7)
    api.search(dataset, resumed, space, max_evals=2, seed=7)  # one more trial, not two
    params = [[t["params"] for t in studies.load_saved(w, "space")["trials"]] for w in (straight, resumed)]
    assert len(params[0]) == 2 and params[0] == params[1] and params[0][0] != params[0][1]
    assert resumed.read_index()["run_id"].tolist() == ["cnn1-space-t000", "cnn1-space-t001"]
    other = Workspace(tmp_path / "other")
    api.search(dataset, other, space, max_evals=1, seed=8)
    assert studies.load_saved(other, "space")["trials"][0]["params"] != params[0][0]
    with pytest.raises(InputError, match="another space, algo or seed"):
        api.search(dataset, resumed, space, max_evals=3, seed=8)
    assert len(resumed.read_index()) == 2


def test_a_kill_after_a_trial_is_stored_loses_nothing(tmp_path, dataset, monkeypatch):
    space = write_space(tmp_path, TINY)
    workspace = Workspace(tmp_path / "w")
    real_save = studies._save
    calls = {"n": 0}

    def dies_on_second_save(study, trials):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # killed between storing trial 1's run and saving the study
        real_save(study, trials)

    monkeypatch.setattr(studies, "_save", dies_on_second_save)
    with pytest.raises(KeyboardInterrupt):
        api.search(dataset, workspace, space, max_evals=3)
    monkeypatch.setattr(studies, "_save", real_save)
    assert len(studies.load_saved(workspace, "space")["trials"]) == 1
    api.search(dataset, workspace, space, max_evals=3)
    assert list(workspace.read_index()["run_id"]) == ["cnn1-space-t000", "cnn1-space-t001", "cnn1-space-t002"]


def test_a_crashing_trial_is_recorded_and_the_search_goes_on(tmp_path, dataset, monkeypatch):
    from kaggle_cnn.training import fit as training

    real_fit = training.fit_one
    calls = {"n": 0}

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise MemoryError("out of memory for this width")
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(training, "fit_one", crash_once)
    workspace = Workspace(tmp_path / "w")
    api.search(dataset, workspace, write_space(tmp_path, TINY), max_evals=3)
    trials = studies.load_saved(workspace, "space")["trials"]
    assert [t["status"] for t in trials] == ["failed", "ok", "ok"]
    assert "out of memory" in trials[0]["message"]
    assert workspace.read_index()["status"].tolist() == ["failed", "ok", "ok"]


def test_export_then_train_with_the_config(kcnn, tmp_path, competition):
    space = write_space(tmp_path, TINY)
    best = tmp_path / "best.yaml"
    result = kcnn("-w", tmp_path / "ws", "search", "--data", competition, "--space", space, "--max-evals", 2,
                  "--export", best)
    assert result.exit_code == 0, result.output
    exported = yaml.safe_load(best.read_text())
    state = studies.load_saved(Workspace(tmp_path / "ws"), "space")
    winner = max(state["trials"], key=lambda t: t["val_accuracy"])
    assert exported == {**state["fixed"], **winner["params"]}
    result = kcnn("-w", tmp_path / "ws", "train", "--data", competition, "--config", best, "--repeat", 1,
                  "--batch-size", 32)
    assert result.exit_code == 0, result.output
    record = json.loads((Workspace(tmp_path / "ws").run_dir("cnn1-s0-a000") / "run.json").read_text())
    assert record["config"]["optimizer"] == exported["optimizer"] and record["config"]["lr"] == exported["lr"]
    assert record["config"]["model_options"] == {"dense_units": exported["dense_units"], "dropout": exported["dropout"]}
    assert record["config"]["batch_size"] == 32  # typed on the command line: wins over the file
    shown = kcnn("-w", tmp_path / "ws", "search", "--study", "space", "--show")
    assert shown.exit_code == 0 and "cnn1-space-t001" in shown.output


def test_bad_config_file(kcnn, assert_refused, tmp_path, competition):
    (tmp_path / "c.yaml").write_text("model: cnn1\nwidth: 3\n")
    assert_refused(kcnn("-w", tmp_path / "ws", "train", "--data", competition, "--config", tmp_path / "c.yaml"),
                   "unknown option 'width'")


@pytest.mark.slow
def test_parallel_trials_match_serial_ones(kcnn, tmp_path, competition):
    space = write_space(tmp_path, TINY)
    for name, jobs in (("serial", 1), ("parallel", 2)):
        result = kcnn("-w", tmp_path / name, "search", "--data", competition, "--space", space, "--algo", "rand",
                      "--max-evals", 4, "--jobs", jobs, "--keep-above", 0.5)
        assert result.exit_code == 0, result.output
    serial, parallel = (studies.load_saved(Workspace(tmp_path / n), "space")["trials"] for n in ("serial", "parallel"))
    assert [t["params"] for t in serial] == [t["params"] for t in parallel]
    assert [t["val_accuracy"] for t in serial] == pytest.approx([t["val_accuracy"] for t in parallel], abs=0.02)
    workspace = Workspace(tmp_path / "parallel")
    assert set(workspace.run_ids()) == {t["run_id"] for t in parallel if t["kept"]}
    assert not list(workspace.models_dir.glob(".tmp-*"))


@pytest.mark.parametrize("name", ["basic_cnn_grid", "cnn4_random", "kaggle_ensemble_tpe"])
def test_the_shipped_example_spaces_load(name):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "spaces" / f"{name}.yaml"
    space = spaces.load_space(path)
    if name == "basic_cnn_grid":
        assert len(spaces.grid(space)) == 4
    assert space.tree and set(spaces.to_hyperopt(space)) == set(space.tree)  # every option becomes a hyperopt node
