"""`kcnn train --resume`: finish the workspace's last plan, only its missing
attempts, each with the seed and the configuration its position had."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from kaggle_cnn.config import OPTIONS, check_setting
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.workspace import Workspace
from kaggle_cnn.training import plans, teacher
from kaggle_cnn.training.engines import Execution, check_execution
from kaggle_cnn.training.launch import TimeBudget
from kaggle_cnn.training.runs import carry_out, opened, training_session
from kaggle_cnn.training.summary import SilentReporter, TrainReporter, TrainSummary


def resume(workspace: Workspace, *, data_path: str | os.PathLike | None = None, given: dict[str, Any] | None = None,
           reporter: TrainReporter | None = None, execution: Execution | None = None,
           time_budget: float | None = None, tensorboard: bool = False) -> TrainSummary:
    """Finish the workspace's last plan: only the attempts still missing, with the
    seeds they would have had. `given`: options typed beside --resume, refused
    when they contradict the plan. Its data is loaded from where the plan says (or
    `data_path`). `tensorboard`, as for train: how the attempts are watched is not
    part of the plan."""
    from kaggle_cnn.data import reload_dataset

    clock = time.monotonic()
    time_budget = check_setting("time_budget", time_budget, OPTIONS)
    check_execution(execution or Execution())
    plan = plans.last_plan(workspace)
    if plan.record["finished"]:
        raise InputError(f"--resume: the last plan ({plan.describe()}) is finished; nothing to resume")
    _check_against_plan(plan, given or {})
    dataset = reload_dataset(plan.record["data"].get("load_options"), plan.record["data"]["fingerprint"],
                             owner=f"plan {plan.path.name}", data_path=data_path)
    taught = teacher.teacher_for(teacher.recorded(plan.record.get("teaching")), dataset, workspace)
    reporter = reporter or SilentReporter()
    with opened(execution or Execution(), workspace) as engine, \
            training_session(workspace, dataset, plan.configs, None, plans.judging(plan)) as (split, arrays):
        missing, kept = plans.progress(plan, workspace)
        until_kept = plan.target.get("until_kept")
        if not missing or (until_kept and kept >= until_kept):
            plans.finish(plan)
            raise InputError(f"--resume: the last plan ({plan.describe()}) has every attempt it needs; "
                             f"nothing to resume")
        reporter.note(f"resuming {plan.describe()}: " + (
            f"{kept} of {until_kept} kept so far, at most {len(missing)} attempts left" if until_kept
            else f"{len(missing)} of {len(plan.run_ids)} attempts left"))
        budget = None if time_budget is None else TimeBudget(
            time_budget * 60, attempts=len(missing) if until_kept is None else until_kept - kept, started=clock)
        return carry_out(plan, missing, kept, dataset, workspace, split, arrays, reporter=reporter,
                         engine=engine, budget=budget, tensorboard=tensorboard, taught=taught)


def _check_against_plan(plan: plans.Plan, given: dict[str, Any]) -> None:
    """Options typed beside --resume must say what the plan says."""
    recorded = {**_plan_settings(plan), "seed": plan.record["seed"],
                "keep_above": plan.record["keep_above"], "val_fraction": plan.record["val_fraction"],
                **plans.judging(plan),
                **{name: value for name, value in plan.target.items() if value is not None}}
    for name, value in given.items():
        option = f"--{name.replace('_', '-')}"
        if name not in recorded:
            raise InputError(f"{option}: does not go with --resume, which trains the plan ({plan.describe()}) "
                             f"as it was recorded")
        same = value == recorded[name] or (isinstance(value, float) and isinstance(recorded[name], (int, float))
                                          and np.isclose(value, recorded[name]))
        if not same:
            raise InputError(f"{option} {value}: the plan being resumed ({plan.path.name}) has {name} "
                             f"{recorded[name]}; drop the option, or train a new plan without --resume")


def _plan_settings(plan: plans.Plan) -> dict[str, Any]:
    """The settings of the plan's configurations: a setting on which they differ
    reads as their values in turn, "cnn1,basic_cnn" as --model lists them."""
    each = [plans.settings_of(config) for config in plans.recorded_configs(plan.record)]
    if len(each) == 1:
        return each[0]
    names = dict.fromkeys(name for settings in each for name in settings)
    merged = {}
    for name in names:
        values = [settings.get(name) for settings in each]
        merged[name] = values[0] if all(value == values[0] for value in values) else \
            ",".join(str(value) for value in values)
    return merged
