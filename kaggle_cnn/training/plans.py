"""Training plans: what a `kcnn train` set out to do, recorded before its first
attempt, so that `kcnn train --resume` can finish it after a kill, a reboot or a
time budget.

    models/plans/0001.json   settings, data, seed, target and attempt numbers;
                             "finished" once the target was met

A plan of one configuration records it as "config"; a plan of several (`kcnn
train --model a,b`) records them as "configs", and its attempt at position p
trains configs[p % len(configs)]: they take turns.

An attempt counts as done when the index has its row with status ok (kept or
not); a resumed plan trains the attempts still missing, with the seeds they
would have had.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kaggle_cnn import fileio
from kaggle_cnn.config import TrainConfig
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.files import read_record, value_at

if TYPE_CHECKING:
    from kaggle_cnn.data import Dataset
    from kaggle_cnn.store.workspace import Workspace


@dataclass
class Plan:
    path: Path
    record: dict[str, Any]

    @property
    def configs(self) -> list[TrainConfig]:
        """The configurations the attempts cycle over (one, for a plan of one)."""
        return [TrainConfig.from_settings(settings_of(config), str(self.path))
                for config in recorded_configs(self.record)]

    def config_at(self, position: int) -> TrainConfig:
        """What the attempt at this position of the plan trains."""
        configs = self.configs
        return configs[position % len(configs)]

    @property
    def run_ids(self) -> list[str]:
        return [str(run_id) for run_id in self.record["run_ids"]]

    @property
    def target(self) -> dict[str, int | None]:
        return self.record["target"]

    def describe(self) -> str:
        target = self.target
        aim = f"{target['repeat']} attempts" if target.get("repeat") else \
            f"until {target['until_kept']} kept (at most {len(self.run_ids)} attempts)"
        models = ", ".join(dict.fromkeys(config["model"] for config in recorded_configs(self.record)))
        return f"{self.path.name}: {aim} of {models}, seed {self.record['seed']}"


def recorded_configs(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A plan record's configurations as recorded: "configs", or the one "config"."""
    return list(record["configs"]) if "configs" in record else [record["config"]]


def settings_of(config: dict[str, Any]) -> dict[str, Any]:
    """A recorded TrainConfig as flat settings (its model options beside its fields)."""
    settings = {name: value for name, value in config.items() if name != "model_options"}
    settings.update(config.get("model_options") or {})
    return settings


def plans_dir(workspace: "Workspace") -> Path:
    return workspace.models_dir / "plans"


def new_plan(workspace: "Workspace", configs: list[TrainConfig], dataset: "Dataset", *, seed: int,
             keep_above: float, val_fraction: float, repeat: int | None, until_kept: int | None, run_ids: list[str],
             attempts: list[int], judging: dict[str, Any] | None = None,
             teaching: dict[str, Any] | None = None) -> Plan:
    """Record a plan before its first attempt (call it holding the workspace lock);
    its attempts take turns over `configs`."""
    folder = plans_dir(workspace)
    numbers = [int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit()] if folder.is_dir() else []
    path = folder / f"{max(numbers, default=0) + 1:04d}.json"
    record = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **({"config": asdict(configs[0])} if len(configs) == 1 else {"configs": [asdict(c) for c in configs]}),
        "seed": seed, "keep_above": keep_above, "val_fraction": val_fraction,
        "data": {"source": dataset.source, "fingerprint": dataset.fingerprint(),
                 "load_options": dataset.load_options},
        "target": {"repeat": repeat, "until_kept": until_kept},
        "attempts": attempts, "run_ids": run_ids, "finished": False,
        "judging": judging or {"metric": "accuracy", "folds": None, "refit": False},
        "teaching": teaching,  # pseudo-labels or distillation from a vote: --resume teaches the same way
    }
    fileio.write_json(path, record)
    return Plan(path, record)


def judging(plan: Plan) -> dict[str, Any]:
    """How the plan's runs are judged: metric, folds (None: the hold-out split), refit.
    A plan recorded before k-fold runs existed is hold-out, by accuracy."""
    recorded = plan.record.get("judging") if isinstance(plan.record.get("judging"), dict) else {}
    return {"metric": recorded.get("metric", "accuracy"), "folds": recorded.get("folds"),
            "refit": bool(recorded.get("refit", False))}


def record_budget(plan: Plan, outcome: dict[str, Any]) -> None:
    """How a --time-budget was spent on this plan (kept per command: a resumed plan has its own)."""
    plan.record.setdefault("time_budgets", []).append(outcome)
    fileio.write_json(plan.path, plan.record)


def finish(plan: Plan) -> None:
    plan.record["finished"] = True
    fileio.write_json(plan.path, plan.record)


def last_plan(workspace: "Workspace") -> Plan:
    """The workspace's latest plan, checked; a one-line error when there is none."""
    folder = plans_dir(workspace)
    paths = sorted((p for p in folder.glob("*.json") if p.stem.isdigit()), key=lambda p: int(p.stem)) \
        if folder.is_dir() else []
    if not paths:
        raise InputError(f"--resume: no training plan in {folder} (every kcnn train records one); nothing to resume")
    path = paths[-1]
    record = read_record(path, required=("seed", "keep_above", "data", "target", "attempts", "run_ids"))
    if "configs" in record:
        configs = value_at(record, path, "configs", kind=list)
        if not configs or not all(isinstance(config, dict) and "model" in config for config in configs):
            raise InputError(f"{path}: damaged, configs is not a list of configurations")
    else:
        value_at(record, path, "config", kind=dict)
    value_at(record, path, "run_ids", kind=list)
    value_at(record, path, "attempts", kind=list)
    value_at(record, path, "data", "fingerprint", kind=str)
    if len(record["run_ids"]) != len(record["attempts"]):
        raise InputError(f"{path}: damaged, its run ids and attempt numbers do not pair up")
    return Plan(path, record)


def progress(plan: Plan, workspace: "Workspace") -> tuple[list[int], int]:
    """(positions in the plan still to train, runs kept so far) from the index."""
    index = workspace.read_index()
    done = index[(index["status"] == "ok") & index["run_id"].isin(plan.run_ids)] if len(index) else index
    finished = set(done["run_id"]) if len(done) else set()
    kept = int((done["kept"].astype(str) == "True").sum()) if len(done) else 0
    return [position for position, run_id in enumerate(plan.run_ids) if run_id not in finished], kept
