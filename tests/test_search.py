"""kcnn search: spaces, each algorithm on a tiny slice, resume, failures, export -> train."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from kaggle_cnn import api
from kaggle_cnn.data import load_dataset
from kaggle_cnn.errors import InputError
from kaggle_cnn.fileio import TMP_PREFIX
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
TINY_FIXED = {k: v for k, v in TINY.items() if k != "space"}
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
    grid = spaces.grid(spaces.load_space(write_space(tmp_path, content)))
    assert grid.size == 2 * 3
    assert list(grid) == [
        {"dense_units": d, "optimizer": o} for d in (16, 32) for o in (
            {"optimizer": "adam", "lr": 0.001}, {"optimizer": "adam", "lr": 0.01}, {"optimizer": "sgd", "lr": 0.1})]


def test_a_huge_grid_makes_only_the_points_asked_for():
    import tracemalloc

    tracemalloc.start()
    digits = {f"s{i}": spaces.Dist("choice", tuple(range(10)), f"s{i}") for i in range(12)}
    nested = spaces.Dist("choice", ({"opt": "adam", "lr": spaces.Dist("choice", (0.1, 0.2), "g[0].lr")},
                                    {"opt": "sgd"}), "g")
    grid = spaces.grid(spaces.SearchSpace({"model": "cnn1"}, {**digits, "g": nested}, "huge.yaml"))
    first = [grid.point(i) for i in range(4)]
    last, middle = grid.point(grid.size - 1), grid.point(3 * 123456789012 + 2)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert grid.size == 10**12 * 3
    assert peak < 200_000  # bytes: nothing the size of the grid was built
    zeros = {f"s{i}": 0 for i in range(12)}
    assert first == [{**zeros, "g": {"opt": "adam", "lr": 0.1}}, {**zeros, "g": {"opt": "adam", "lr": 0.2}},
                     {**zeros, "g": {"opt": "sgd"}}, {**zeros, "s11": 1, "g": {"opt": "adam", "lr": 0.1}}]
    assert last == {**{f"s{i}": 9 for i in range(12)}, "g": {"opt": "sgd"}}
    assert middle == {**{f"s{i}": int(d) for i, d in enumerate("123456789012")}, "g": {"opt": "sgd"}}
    with pytest.raises(IndexError):
        grid.point(grid.size)


@pytest.mark.parametrize(
    "space, fragment",
    [
        ({"space": {"widht": {"choice": [1]}}}, "unknown option 'widht'"),
        ({"space": {"dropout": {"choice": []}}}, "non-empty list"),
        ({"space": {"dropout": {"uniform": [0.5, 0.1]}}}, "above high"),
        ({"space": {"lr": {"loguniform": [0, 0.1]}}}, "positive low"),
        ({"space": {"dense1": {"randint": [5, 5]}}}, "dense1: randint [5, 5) holds no integer"),
        ({"space": {"dense1": {"randint": [5, 5.5]}}}, "dense1: randint [5, 5.5) holds no integer"),
        ({"space": {"dropout": {"uniform": [0.1]}}}, "takes 2 numbers"),
        ({"space": {"model": {"choice": ["cnn1", "cnn2"]}}}, "one model at a time"),
        ({"space": {"optimizer": {"choice": [{"optimizer": "lamb", "lr": 0.1}]}}}, "'lamb'"),
        ({"epochs": 1}, "'space:'"),
    ],
)
def test_bad_spaces(tmp_path, space, fragment):
    path = write_space(tmp_path, {"model": "cnn1", **space})
    with pytest.raises(InputError, match=re.escape(fragment)):
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
    progress = [line.split("]")[0] + "]" for line in result.output.splitlines() if line.startswith("[")]
    assert progress == [f"[trial {k}/{expected}]" for k in range(1, expected + 1)]  # one line per trial, no other


def test_resume_continues_with_the_same_proposals(kcnn, tmp_path, dataset, competition):
    space = write_space(tmp_path, TINY)
    straight = Workspace(tmp_path / "straight")
    api.search(dataset, straight, space, max_evals=2, seed=7)
    resumed = Workspace(tmp_path / "resumed")
    for evals in (1, 2):  # stopped after one trial, then the same command with one more: one more trial, not two
        result = kcnn("-w", resumed.root, "search", "--data", competition, "--space", space, "--max-evals", evals,
                      "--seed", 7)
        assert result.exit_code == 0, result.output
    assert "[trial 2/2] cnn1-space-t001" in result.output and "[trial 1/2]" not in result.output
    params = [[t["params"] for t in studies.load_saved(w, "space")["trials"]] for w in (straight, resumed)]
    assert len(params[0]) == 2 and params[0] == params[1] and params[0][0] != params[0][1]
    assert resumed.read_index()["run_id"].tolist() == ["cnn1-space-t000", "cnn1-space-t001"]
    assert not list((tmp_path / "resumed").rglob("*.pkl")) and not list((tmp_path / "straight").rglob("*.pkl"))
    other = Workspace(tmp_path / "other")
    api.search(dataset, other, space, max_evals=1, seed=8)
    assert studies.load_saved(other, "space")["trials"][0]["params"] != params[0][0]
    with pytest.raises(InputError, match="another space, algo or seed"):
        api.search(dataset, resumed, space, max_evals=3, seed=8)
    assert len(resumed.read_index()) == 2


def test_a_study_continues_only_on_the_data_it_searched(kcnn, assert_refused, tmp_path, dataset, competition):
    space = write_space(tmp_path, TINY)
    workspace = Workspace(tmp_path / "ws")
    study = studies.open_study(workspace, "space", spaces.load_space(space), "tpe", 0, data=dataset)
    studies.run(study, 1, lambda batch: [studies.Trial(n, run_id, {}, "ok", 0.5) for n, run_id, _ in batch],
                lambda n: f"cnn1-space-t{n:03d}")
    saved = (workspace.models_dir / "studies" / "space" / "study.json").read_bytes()
    assert studies.open_study(workspace, "space", spaces.load_space(space), "tpe", 0, data=dataset).trials
    other = tmp_path / "other"
    shutil.copytree(competition, other)
    train = pd.read_csv(other / "train.csv")
    train.iloc[:-10].to_csv(other / "train.csv", index=False)  # the same competition, ten rows fewer
    result = kcnn("-w", workspace.root, "search", "--data", other, "--space", space, "--max-evals", 2)
    assert_refused(result, "study.json: study 'space' searched other data", f"not --data {other}", "new --study")
    assert (workspace.models_dir / "studies" / "space" / "study.json").read_bytes() == saved
    assert workspace.read_index().empty and not (workspace.models_dir / "cnn1-space-t001").exists()


def fake_search(root, space_path, max_evals, algo="tpe", seed=0):
    """studies.run with a made-up score instead of training: the search loop alone, in milliseconds."""
    study = studies.open_study(Workspace(root), "space", spaces.load_space(space_path), algo, seed)

    def evaluate(batch):
        return [studies.Trial(n, run_id, {}, "failed", message="boom") if n == 4 else
                studies.Trial(n, run_id, {}, "ok", round(1 - abs(chosen["dropout"] - 0.3) - chosen["lr"], 6))
                for n, run_id, chosen in batch]

    return studies.run(study, max_evals, evaluate, lambda n: f"cnn1-space-t{n:03d}")


class _Touch:
    """Unpickled by plain pickle, this creates the file `path`: a stand-in for any code a file could run."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (type(self.path).touch, (self.path,))


def test_tpe_resumes_from_the_json_history_and_never_unpickles(tmp_path, monkeypatch):
    import pickle

    space = write_space(tmp_path, TINY)
    straight = fake_search(tmp_path / "straight", space, 23)  # past TPE's 20 random start-up trials
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Touch(marker))
    pickle.loads(payload)  # plain pickle would run it ...
    assert marker.exists()
    marker.unlink()
    folder = tmp_path / "resumed" / "models" / "studies" / "space"
    folder.mkdir(parents=True)
    (folder / "trials.pkl").write_bytes(payload)  # ... a leftover trials.pkl is never read
    fake_search(tmp_path / "resumed", space, 21)
    resumed = fake_search(tmp_path / "resumed", space, 23)
    assert not marker.exists()
    assert [p.name for p in (tmp_path / "resumed").rglob("*.pkl")] == ["trials.pkl"]
    assert not list((tmp_path / "straight").rglob("*.pkl"))
    assert [t.number for t in resumed.trials] == list(range(23))
    assert [t.status for t in resumed.trials] == ["ok"] * 4 + ["failed"] + ["ok"] * 18
    assert [t.params for t in resumed.trials] == [t.params for t in straight.trials]
    saved = studies.load_saved(Workspace(tmp_path / "resumed"), "space")["trials"]
    assert [t["sampled"] for t in saved] == [t.sampled for t in straight.trials]
    assert set(saved[0]["sampled"]) == {"dense_units", "dropout", "optimizer", "optimizer[0].lr", "optimizer[1].lr"}
    # the history is what makes TPE's proposals: without it, trials 22 and 23 come out differently
    forgetful = tmp_path / "forgetful"
    fake_search(forgetful, space, 21)
    from hyperopt import Trials

    monkeypatch.setattr(studies, "_history", lambda study: Trials())
    forgot = fake_search(forgetful, space, 23)
    assert [t.params for t in forgot.trials[21:]] != [t.params for t in straight.trials[21:]]


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{", "not a saved study (not valid JSON"),
        ("[]", "not a saved study (a JSON list, not an object)"),
        ('{"name": "space"}', "not a saved study ('algo' missing or not a str)"),
        ("TRIAL:" + json.dumps({"number": 0, "run_id": "r", "params": {}, "status": "ok", "extra": 1}),
         "trial 0: unknown field 'extra'"),
        ("TRIAL:" + json.dumps({"number": 0, "run_id": "r", "params": [], "status": "ok"}),
         "trial 0: 'params' missing or wrong"),
        ("TRIAL:" + json.dumps({"number": 3, "run_id": "r", "params": {}, "status": "ok"}), "trial 0 is numbered 3"),
        ("TRIAL:" + json.dumps({"number": 0, "run_id": "r", "params": {}, "status": "ok", "sampled": {"lr": "x"}}),
         "trial 0: 'sampled' must map labels to [number] or []"),
    ],
)
def test_a_corrupt_study_is_refused_naming_its_file(kcnn, assert_refused, tmp_path, competition, content, fragment):
    space = write_space(tmp_path, TINY)
    fake_search(tmp_path / "ws", space, 1)
    path = tmp_path / "ws" / "models" / "studies" / "space" / "study.json"
    if content.startswith("TRIAL:"):
        state = json.loads(path.read_text())
        content = json.dumps({**state, "trials": [json.loads(content[len("TRIAL:"):])]})
    path.write_text(content)
    assert_refused(kcnn("-w", tmp_path / "ws", "search", "--study", "space", "--show"), f"{path}: {fragment}")
    assert_refused(kcnn("-w", tmp_path / "ws", "search", "--data", competition, "--space", space, "--max-evals", 2),
                   f"{path}: {fragment}")
    assert path.read_text() == content
    assert sorted(p.name for p in path.parent.iterdir()) == ["study.json"]
    assert not (tmp_path / "ws" / "models" / "index.csv").exists()


def test_a_huge_grid_starts_at_once_in_file_order(kcnn, tmp_path, competition):
    thousand = lambda start, step: {"choice": [round(start + i * step, 6) for i in range(1000)]}
    content = {"model": "cnn1", "epochs": 1, "batch_size": 64, "space": {
        "dense_units": thousand(16, 1), "dropout": thousand(0.1, 0.0001), "lr": thousand(0.001, 0.00001),
        "weight_decay": thousand(0.0, 0.000001)}}
    space = write_space(tmp_path, content, "huge")
    assert spaces.grid(spaces.load_space(space)).size == 10**12
    fake = fake_search(tmp_path / "fake", space, 3, algo="grid")
    assert [t.params for t in fake.trials] == [
        {"dense_units": 16, "dropout": 0.1, "lr": 0.001, "weight_decay": w} for w in (0.0, 0.000001, 0.000002)]
    result = kcnn("-w", tmp_path / "ws", "search", "--data", competition, "--space", space, "--algo", "grid",
                  "--max-evals", 1)
    assert result.exit_code == 0, result.output
    assert "[trial 1/1] cnn1-huge-t000" in result.output
    (trial,) = studies.load_saved(Workspace(tmp_path / "ws"), "huge")["trials"]
    assert trial["params"] == {"dense_units": 16, "dropout": 0.1, "lr": 0.001, "weight_decay": 0.0}
    assert trial["sampled"] is None and trial["status"] == "ok"


def test_a_kill_after_a_trial_is_stored_loses_nothing(tmp_path, dataset, monkeypatch):
    space = write_space(tmp_path, TINY)
    workspace = Workspace(tmp_path / "w")
    real_save = studies._save
    calls = {"n": 0}

    def dies_on_second_save(study):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # killed between storing trial 1's run and saving the study
        real_save(study)

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


@pytest.mark.parametrize(
    "options, fragments",
    [
        (["--export", "{tmp}/folder"], ["--export", "folder: is a folder"]),
        (["--export", "{tmp}/note.txt/best.yaml"], ["--export", "note.txt is not a folder"]),
        (["--study", "a/b"], ["--study 'a/b': a study name is letters, digits"]),
        (["--study", ".."], ["--study '..'"]),
        (["--study", ".hidden"], ["--study '.hidden'", "not starting with '.'"]),
        (["--study", "x" * 300], ["--study 'xxxx", "at most 100 characters"]),
        (["--study", ""], ["--study ''"]),
        (["--seed", -1], ["--seed", "-1"]),
        (["--max-evals", -5], ["--max-evals must be at least 1, got -5"]),
        (["--jobs", 0], ["--jobs", "0"]),
    ],
)
def test_odd_search_options_are_refused_before_anything_is_written(kcnn, assert_refused, tmp_path, competition,
                                                                  options, fragments):
    (tmp_path / "folder").mkdir()
    (tmp_path / "note.txt").write_text("a file")
    space = write_space(tmp_path, TINY)
    options = [str(o).replace("{tmp}", str(tmp_path)) for o in options]
    assert_refused(kcnn("-w", tmp_path / "ws", "search", "--data", competition, "--space", space, *options), *fragments)
    assert not (tmp_path / "ws").exists() and sorted(p.name for p in (tmp_path / "folder").iterdir()) == []


def test_a_space_file_whose_name_cannot_name_a_study(kcnn, assert_refused, tmp_path, competition):
    space = write_space(tmp_path, TINY, "my space")
    assert_refused(kcnn("-w", tmp_path / "ws", "search", "--data", competition, "--space", space),
                   "my space.yaml: the file's name 'my space' cannot name a study", "give --study NAME")
    assert not (tmp_path / "ws").exists()


def test_export_of_a_saved_study_to_a_folder_or_under_a_file(kcnn, assert_refused, tmp_path):
    fake_search(tmp_path / "ws", write_space(tmp_path, TINY), 2)
    (tmp_path / "folder").mkdir()
    (tmp_path / "note.txt").write_text("a file")
    study = tmp_path / "ws" / "models" / "studies" / "space"
    for export, fragment in ((tmp_path / "folder", "folder: is a folder"),
                             (tmp_path / "note.txt" / "best.yaml", "note.txt is not a folder")):
        assert_refused(kcnn("-w", tmp_path / "ws", "search", "--study", "space", "--export", export), fragment)
        with pytest.raises(InputError, match=re.escape(fragment)):
            api.study(Workspace(tmp_path / "ws"), "space", export=export)
    assert sorted(p.name for p in study.iterdir()) == ["study.json"] and not list((tmp_path / "folder").iterdir())
    result = kcnn("-w", tmp_path / "ws", "search", "--study", "space", "--export", tmp_path / "new" / "best.yaml")
    assert result.exit_code == 0, result.output  # a missing folder is made
    best = min(fake_search(tmp_path / "ws", tmp_path / "space.yaml", 2).trials, key=lambda t: -t.val_accuracy)
    assert yaml.safe_load((tmp_path / "new" / "best.yaml").read_text()) == {**TINY_FIXED, **best.params}


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
    assert not list(workspace.models_dir.glob(f"{TMP_PREFIX}*"))


@pytest.mark.parametrize("name", ["basic_cnn_grid", "cnn4_random", "kaggle_ensemble_tpe"])
def test_the_shipped_example_spaces_load(name):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "spaces" / f"{name}.yaml"
    space = spaces.load_space(path)
    if name == "basic_cnn_grid":
        assert spaces.grid(space).size == 4
    assert space.tree and set(spaces.to_hyperopt(space)) == set(space.tree)  # every option becomes a hyperopt node
