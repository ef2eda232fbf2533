"""One plan, several architectures or recipes: `kcnn train --model a,b` (and
--preset p,q) makes attempts that take turns over the list, on the same split and
folds, recorded as one plan that --resume finishes with each position's config."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_cnn import api
from kaggle_cnn.config import TrainConfig
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.workspace import Workspace
from kaggle_cnn.training import budget as budgets
from kaggle_cnn.training.budget import Measured
from kaggle_cnn.training.options import attempt_seed

TWO = ("--model", "cnn1,basic_cnn", "--epochs", 1, "--batch-size", 32, "--keep-above", 0,
       "--set", "width1=8", "--set", "width2=8", "--set", "width3=8", "--set", "dense_units=32")


def plan_of(workspace: Path, number: int = 1) -> dict:
    return json.loads((workspace / "models" / "plans" / f"{number:04d}.json").read_text())


@pytest.fixture(scope="module")
def two_models(tmp_path_factory, competition, kcnn) -> Path:
    """A workspace trained once: one attempt of cnn1, then one of basic_cnn. READ-ONLY (copy to write)."""
    workspace = tmp_path_factory.mktemp("two_models")
    result = kcnn("-w", workspace, "train", "--data", competition, *TWO, "--repeat", 2)
    assert result.exit_code == 0, result.output
    return workspace


def test_attempts_take_turns_over_the_models_in_the_index_the_plan_and_each_run(two_models):
    workspace = Workspace(two_models)
    index = workspace.read_index()
    assert index["run_id"].tolist() == ["cnn1-s0-a000", "basic_cnn-s0-a001"]
    assert index["model"].tolist() == ["cnn1", "basic_cnn"] and (index["status"] == "ok").all()
    plan = plan_of(two_models)
    assert "config" not in plan and [c["model"] for c in plan["configs"]] == ["cnn1", "basic_cnn"]
    assert plan["run_ids"] == ["cnn1-s0-a000", "basic_cnn-s0-a001"] and plan["attempts"] == [0, 1]
    assert plan["finished"] is True and plan["target"] == {"repeat": 2, "until_kept": None}
    # --set goes to the model that has the option: basic_cnn's widths, cnn1's dense_units, nothing else
    runs = {run.run_id: run.record for run in workspace.runs()}
    assert runs["cnn1-s0-a000"]["config"]["model_options"] == {"dense_units": 32}
    assert runs["basic_cnn-s0-a001"]["config"]["model_options"] == {"width1": 8, "width2": 8, "width3": 8,
                                                                    "dense_units": 32}
    assert [runs[r]["seed"] for r in plan["run_ids"]] == [attempt_seed(0, 0), attempt_seed(0, 1)]
    # one validation split for both: the workspace's
    assert {(r["config"]["split_seed"], r["config"]["val_fraction"], r["data"]["n_val"]) for r in runs.values()} == {
        (0, 0.1, 30)}
    assert len(list((workspace.models_dir / "splits").glob("*"))) == 1


def test_a_vote_and_greedy_selection_take_members_of_both_models(two_models, tmp_path):
    workspace = Workspace(Path(shutil.copytree(two_models, tmp_path / "ws")))
    soft = api.vote(workspace, spec=api.VoteSpec("soft"))
    assert [(m["run_id"], m["model"]) for m in soft.sidecar["members"]] == [("basic_cnn-s0-a001", "basic_cnn"),
                                                                            ("cnn1-s0-a000", "cnn1")]
    mean = np.mean([run.test_proba() for run in workspace.runs()], axis=0)
    assert pd.read_csv(soft.csv_path, dtype=str)["Label"].tolist() == [str(c) for c in mean.argmax(1)]
    greedy = api.vote(workspace, spec=api.VoteSpec("greedy")).sidecar
    assert {m["model"] for m in greedy["members"]} == {"cnn1", "basic_cnn"}
    assert set(greedy["multiplicities"]) <= {"cnn1-s0-a000", "basic_cnn-s0-a001"} and greedy["multiplicities"]


def test_resume_trains_the_model_of_the_missing_position(kcnn, assert_refused, two_models, tmp_path):
    copy = Path(shutil.copytree(two_models, tmp_path / "ws"))
    workspace = Workspace(copy)
    # the plan grows by two positions never trained: 2 is cnn1's turn again, 3 basic_cnn's
    plan_path = copy / "models" / "plans" / "0001.json"
    plan = plan_of(copy)
    plan.update(finished=False, run_ids=plan["run_ids"] + ["cnn1-s0-a002", "basic_cnn-s0-a003"],
                attempts=plan["attempts"] + [2, 3], target={"repeat": 4, "until_kept": None})
    plan_path.write_text(json.dumps(plan))
    assert_refused(kcnn("-w", copy, "train", "--resume", "--model", "cnn1"),
                   "--model cnn1: the plan being resumed (0001.json) has model cnn1,basic_cnn")
    result = kcnn("-w", copy, "train", "--resume", "--model", "cnn1,basic_cnn", "--epochs", 1)
    assert result.exit_code == 0, result.output
    assert "resuming 0001.json: 4 attempts of cnn1, basic_cnn, seed 0: 2 of 4 attempts left" in result.output
    runs = {run.run_id: run.record for run in workspace.runs()}
    assert runs["cnn1-s0-a002"]["config"]["model"] == "cnn1"
    assert runs["basic_cnn-s0-a003"]["config"]["model"] == "basic_cnn"
    assert runs["basic_cnn-s0-a003"]["config"]["model_options"]["width1"] == 8
    assert runs["basic_cnn-s0-a003"]["seed"] == attempt_seed(0, 3)
    assert plan_of(copy)["finished"] is True
    # a later plan numbers on past every listed model's attempts: no id is reused
    assert workspace.next_attempt("cnn1", 0) == 3 and workspace.next_attempt("basic_cnn", 0) == 4


def test_k_fold_runs_of_two_models_share_the_folds(kcnn, competition, tmp_path):
    result = kcnn("-w", tmp_path, "train", "--data", competition, *TWO, "--repeat", 2, "--folds", 2)
    assert result.exit_code == 0, result.output
    workspace = Workspace(tmp_path)
    runs = {run.run_id: run.record for run in workspace.runs()}
    assert sorted(runs) == ["basic_cnn-s0-a001", "cnn1-s0-a000"]
    assert [runs[r]["config"]["model"] for r in ("cnn1-s0-a000", "basic_cnn-s0-a001")] == ["cnn1", "basic_cnn"]
    assert {json.dumps(record["validation"]) for record in runs.values()} == {
        json.dumps({"kind": "folds", "folds": 2, "seed": 0, "rows": 300})}
    assert len(list((workspace.models_dir / "folds").glob("*"))) == 1
    assert plan_of(tmp_path)["judging"]["folds"] == 2


def test_api_train_takes_a_list_and_numbers_past_every_listed_models_attempts(two_models, competition, tmp_path):
    copy = Path(shutil.copytree(two_models, tmp_path / "ws"))
    small = {"epochs": 1, "batch_size": 32}
    configs = [TrainConfig(model="cnn1", **small),
               TrainConfig(model="basic_cnn", model_options={"width1": 8, "width2": 8, "width3": 8}, **small)]
    workspace = api.Workspace(copy)
    summary = api.train(api.load_data(competition), workspace, configs, repeat=1)
    # cnn1 alone would go on at a001, which basic_cnn-s0-a001 holds: the plan starts past both
    assert [a.run_id for a in summary.attempts] == ["cnn1-s0-a002"]
    assert summary.attempts[0].seed == attempt_seed(0, 2)
    plan = plan_of(copy, 2)
    assert plan["run_ids"] == ["cnn1-s0-a002"] and [c["model"] for c in plan["configs"]] == ["cnn1", "basic_cnn"]
    with pytest.raises(InputError, match="a TrainConfig or a non-empty sequence"):
        api.train(api.load_data(competition), workspace, [], repeat=1)


# -- building the configurations (no training) -----------------------------------------------


def test_train_configs_pair_lists_and_share_options_where_a_model_takes_them():
    configs = api.train_configs({"epochs": 2}, models="cnn1,basic_cnn,cnn1", set_options=["width1=8"],
                                dropout=0.2, explicit={"epochs"})
    assert [c.model for c in configs] == ["cnn1", "basic_cnn", "cnn1"]  # a name twice: twice as often
    assert [c.model_options for c in configs] == [{"dropout": 0.2}, {"width1": 8}, {"dropout": 0.2}]
    assert {c.epochs for c in configs} == {2}
    recipes = api.train_configs({}, models="cnn1", presets="default,kaggle28")
    assert [c.model for c in recipes] == ["cnn1", "cnn1"] and [c.optimizer for c in recipes] == ["adamw", "adam"]
    paired = api.train_configs({}, models=["cnn1", "basic_cnn"], presets=["kaggle28", "default"])
    assert [(c.model, c.optimizer) for c in paired] == [("cnn1", "adam"), ("basic_cnn", "adamw")]
    assert api.train_configs({}, models="cnn1") == [api.train_config({"model": "cnn1"}, explicit={"model"})]


@pytest.mark.parametrize("options, fragments", [
    (["--model", ""], ["--model ''", "an empty name"]),
    (["--model", "cnn1,,basic_cnn"], ["--model 'cnn1,,basic_cnn'", "an empty name"]),
    (["--model", "cnn1,cnn9"], ["--model cnn1,cnn9", "unknown model 'cnn9'", "basic_cnn", "kaggle_ensemble"]),
    (["--preset", "default,"], ["--preset 'default,'", "an empty name"]),
    (["--model", "cnn1,basic_cnn", "--preset", "default,kaggle28,default"],
     ["2 models and 3 presets", "the same length"]),
    (["--model", "basic_cnn,residual_cnn", "--dropout", 0.2], ["--dropout: none of basic_cnn, residual_cnn has"]),
    (["--model", "cnn1,basic_cnn", "--set", "widht1=8"], ["--set", "unknown option 'widht1'", "width1"]),
])
def test_bad_lists_are_refused_and_nothing_is_written(kcnn, assert_refused, competition, tmp_path, options,
                                                      fragments):
    assert_refused(kcnn("-w", tmp_path / "ws", "train", "--data", competition, *options), *fragments)
    assert not (tmp_path / "ws").exists()


def test_a_budget_measures_each_configuration_once_and_gives_every_attempt_its_share(monkeypatch):
    measured = []

    def measure(config, arrays, n_classes):
        measured.append(config.model)
        return Measured(epoch=1.0 if config.model == "cnn1" else 3.0, overhead=5.0)

    monkeypatch.setattr(budgets, "measure", measure)
    arrays = {"y_train": [0] * 10, "x_test": []}
    auto = [TrainConfig(model="cnn1", epochs="auto"), TrainConfig(model="basic_cnn", epochs="auto")]
    plan = budgets.plan_cycle(2, auto + auto[:1], arrays, 10, attempts=None)
    assert measured == ["cnn1", "basic_cnn"]
    # the slowest (3 s an epoch) alone would make one attempt (38 epochs, under its 40); but 3 are listed
    assert plan.attempts == 3 and [c.model for c in plan.configs] == ["cnn1", "basic_cnn", "cnn1"]
    assert [p.epochs_each for p in plan.each] == [35, 11]  # (40 - 5) // 1, (40 - 5) // 3
    assert plan.notes[0] == "time budget 2 min: 3 attempts taking turns over cnn1, basic_cnn, cnn1"
    assert plan.record()["configs"][1] == {"model": "basic_cnn", "epoch_seconds": 3.0,
                                           "attempt_overhead_seconds": 5.0, "epochs_each": 11}
    with pytest.raises(InputError, match="one attempt of 50 epochs takes about"):
        budgets.plan_cycle(2, [TrainConfig(model="cnn1", epochs=5), TrainConfig(model="basic_cnn", epochs=50)],
                           arrays, 10, attempts=None)
