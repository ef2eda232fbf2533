"""Training runs: attempts of one configuration (or of several, taking turns),
each judged against the threshold, kept or discarded, and recorded in the
workspace as it finishes.

Attempts run on an engine (kaggle_cnn.training.engines: this process, local
worker processes, a Dask cluster) and are stored here, by this process alone, in
attempt order (kaggle_cnn.training.launch). Every `train` records its plan
first (kaggle_cnn.training.plans), so `resume` (kaggle_cnn.training.resuming)
can finish it.

Training imports TensorFlow when an attempt starts (kaggle_cnn.training.fit), not
when this module is imported.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kaggle_cnn.data.split import split_arrays
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.run import Run
from kaggle_cnn.store.validation import (
    check_metric,
    record_metric,
    save_folds,
    workspace_metric,
)
from kaggle_cnn.store.workspace import Split, Workspace
from kaggle_cnn.training import plans, teacher
from kaggle_cnn.training.checks import check_config
from kaggle_cnn.training.engines import Execution, open_engine
from kaggle_cnn.training.launch import Planned, TimeBudget, launch_in_order
from kaggle_cnn.training.numeric_targets import check_metric_fits
from kaggle_cnn.training.options import (
    attempt_seed,
    check_train_options,
    plan_split,
    with_batch_size,
)
from kaggle_cnn.training.records import (
    Attempt,
    new_record,
    record_failure,
    store_attempt,
)
from kaggle_cnn.training.summary import SilentReporter, TrainReporter, TrainSummary
from kaggle_cnn.training.workers import AttemptTask, DataPath, Failure, HeldData

if TYPE_CHECKING:
    from kaggle_cnn.config import TrainConfig
    from kaggle_cnn.data import Dataset
    from kaggle_cnn.training.teacher import Teacher, Teaching


def train(
    dataset: "Dataset",
    workspace: Workspace,
    config: "TrainConfig | Sequence[TrainConfig]",
    *,
    repeat: int | None = None,
    until_kept: int | None = None,
    max_attempts: int | None = None,
    keep_above: float | None = None,
    seed: int = 0,
    val_fraction: float | None = None,
    reporter: TrainReporter | None = None,
    execution: Execution | None = None,
    time_budget: float | None = None,
    metric: str | None = None,
    folds: int | None = None,
    refit: bool = False,
    fit_epochs: bool = False,
    budget_leaves: Collection[str] = (),
    tensorboard: bool = False,
    pseudo_labels: str | os.PathLike | None = None,
    pseudo_confidence: float | None = None,
    teaching: "Teaching | None" = None,
) -> TrainSummary:
    """Train `config.model` again and again; keep the runs whose score clears
    keep_above (at or above it; for log-loss at or below). `config` may be a
    sequence of configurations: the attempts take turns over them (attempt 1 the
    first, 2 the second, ..., then the first again), on the same validation split
    or folds, numbered across the plan; a name listed twice trains twice as often.
    `metric`: what runs are
    judged by (default: what the workspace recorded, else accuracy). `folds` K:
    each run is K fold models scored out of fold on every training row, and
    `refit` adds one more model trained on every row for the submission.

    `repeat` attempts (default 1), or with `until_kept` K: attempts until K are
    kept, at most `max_attempts` (default 10 x K). `execution` spreads them over
    worker processes, GPUs or a Dask cluster. `time_budget` (minutes) is kept:
    measured first (kaggle_cnn.training.budget), every attempt gets its share and
    none is launched that cannot finish; without `repeat` the budget says how many
    attempts; `fit_epochs` fits the epochs to the shares even when `config` fixes
    them (the CLI: --epochs not typed); the budget may choose the augmentation and
    label smoothing of long attempts, except the settings in `budget_leaves` (the
    CLI: those typed); `tensorboard` writes each attempt's curves
    as it trains (Workspace.live_curves). `pseudo_labels` (a vote's CSV): the test
    images its probabilities reach `pseudo_confidence` (default 0.95) on join the
    training rows (kaggle_cnn.training.teacher; `teaching`, instead: kcnn distill's).
    The plan is recorded first (resume() finishes it after a kill), and runs land in the workspace in attempt order as
    they finish, so a kill -9 loses only the attempts in flight (and those
    finished behind them)."""
    clock = time.monotonic()  # a budget counts from here: its measurement is part of it
    # batch sizes left open are fixed here, for every labelled row, so the plan and run.json record them
    configs = [with_batch_size(each, len(dataset.y_train)) for each in config_list(config)]
    metric, _ = check_metric(workspace, metric)
    checked = check_train_options(repeat=repeat, until_kept=until_kept,
                                  max_attempts=max_attempts, keep_above=keep_above, seed=seed,
                                  val_fraction=val_fraction, time_budget=time_budget, metric=metric, folds=folds,
                                  refit=refit)
    until_kept, max_attempts, keep_above, seed, val_fraction, time_budget = (
        checked[name] for name in ("until_kept", "max_attempts", "keep_above", "seed", "val_fraction", "time_budget"))
    repeat = None if repeat is None else checked["repeat"]
    judging = {"metric": metric, "folds": checked["folds"], "refit": checked["refit"]}
    teaching = teaching or teacher.pseudo_labels(pseudo_labels, pseudo_confidence)
    taught = teacher.teacher_for(teaching, dataset, workspace)  # read and checked before anything is written
    reporter = reporter or SilentReporter()
    with opened(execution or Execution(), workspace) as engine:
        budget = None
        if time_budget is not None:
            from kaggle_cnn.training.budget import budget_for_training

            configs, repeat, budget = budget_for_training(
                dataset, workspace, configs, time_budget, clock, repeat=repeat, until_kept=until_kept,
                val_fraction=val_fraction, slots=len(engine.slots), fit_epochs=fit_epochs, leaves=budget_leaves,
                metric=metric, note=reporter.note)
        repeat = 1 if repeat is None else repeat
        cap = repeat if until_kept is None else (max_attempts or 10 * until_kept)
        with training_session(workspace, dataset, configs, val_fraction, judging) as (split, arrays):
            # Numbered across the plan, past every listed model's earlier attempts: ids stay unique.
            first = max(workspace.next_attempt(model, seed) for model in {c.model for c in configs})
            attempts = list(range(first, first + cap))
            run_ids = [f"{configs[p % len(configs)].model}-s{seed}-a{number:03d}" for p, number in enumerate(attempts)]
            plan = plans.new_plan(workspace, configs, dataset, seed=seed, keep_above=keep_above,
                                  val_fraction=split.fraction, repeat=None if until_kept else repeat,
                                  until_kept=until_kept, run_ids=run_ids, attempts=attempts, judging=judging,
                                  teaching=None if teaching is None else teaching.record())
            return carry_out(plan, list(range(cap)), 0, dataset, workspace, split, arrays, reporter=reporter,
                             engine=engine, budget=budget, tensorboard=tensorboard, taught=taught)


def carry_out(plan: plans.Plan, positions: list[int], kept_before: int, dataset, workspace: Workspace,
              split: Split, arrays, *, reporter: TrainReporter, engine, budget: TimeBudget | None,
              tensorboard: bool = False, taught: "Teacher | None" = None) -> TrainSummary:
    """Train the plan's attempts at `positions` (with `taught`'s test images added to
    their training rows); the plan is finished once its target is met."""
    from kaggle_cnn.evaluation.metric_registry import get_metric

    seed, keep_above = int(plan.record["seed"]), plan.record["keep_above"]
    judging = plans.judging(plan)
    metric = get_metric(judging["metric"])
    until_kept = plan.target.get("until_kept")
    attempts = [int(plan.record["attempts"][p]) for p in positions]
    tasks = [replace(fresh_task(workspace, dataset, plan.config_at(p), attempt_seed(seed, attempt), plan.run_ids[p],
                                tensorboard), teacher=taught)
             for p, attempt in zip(positions, attempts)]
    summary = TrainSummary(keep_above, plan=plan.path.name, budget=budget, until_kept=until_kept, metric=metric.name)
    total = len(tasks) if until_kept is None else None

    def want_more(results) -> bool:  # FitResults still to be judged, or (k-fold) judged Attempts
        return until_kept is None or kept_before + sum(
            r.kept if isinstance(r, Attempt) else
            not isinstance(r, Failure) and metric.passes(metric.value(split.val_labels, r.val_proba), keep_above)
            for r in results) < until_kept

    if judging["folds"]:
        from kaggle_cnn.training import kfold

        kfold.carry_out(engine, dataset, workspace, split, arrays, list(zip(attempts, tasks)),
                        refit=judging["refit"], keep_above=keep_above, metric=metric.name, base_seed=seed,
                        reporter=reporter, summary=summary, want_more=want_more, total=total)
    else:
        run_attempts(dataset, workspace, split, arrays, list(zip(attempts, tasks)), base_seed=seed,
                     keep_above=keep_above, engine=engine, reporter=reporter, summary=summary,
                     want_more=want_more, total=total, metric=metric.name)
    summary.finished = len(summary.attempts) == len(tasks) or (
        until_kept is not None and kept_before + len(summary.kept) >= until_kept)
    if budget is not None:
        plans.record_budget(plan, budget.outcome(len(summary.attempts)))
    if summary.finished:
        plans.finish(plan)
    return summary


def run_attempts(dataset, workspace: Workspace, split: Split, arrays, tasks: list[tuple[int, AttemptTask]], *,
                 base_seed: int, keep_above: float, engine, reporter: TrainReporter,
                 summary: TrainSummary, want_more=lambda results: True, total: int | None = None,
                 stop_on_failure: bool = True, metric: str | None = None) -> list[Attempt | Failure]:
    """Train (attempt number, task) pairs on an opened engine and store each in
    order: kept or discarded (an Attempt), or failed (its Failure message).
    `metric`: what keep_above judges (default the workspace's)."""
    metric = metric or workspace_metric(workspace)
    engine.start(arrays, dataset.x_test, DataPath(dataset.load_options, split.fingerprint, split.val_indices))
    summary.engine = engine.description
    if engine.announce:
        reporter.note(f"training {engine.description}")
    attempt_of = {task.run_id: attempt for attempt, task in tasks}

    def started(planned: Planned, device: str) -> None:
        reporter.attempt_started(planned.number, total, planned.task.run_id, planned.task.config.total_epochs, device)

    def store(planned: Planned, result, seconds: float) -> Attempt | Failure:
        task = planned.task
        record = new_record(task.config, task.run_id, base_seed, attempt_of[task.run_id], task.seed, keep_above,
                            tensorboard=task.curves is not None, teacher=task.teacher)
        if isinstance(result, Failure):
            # Recorded, and then no more attempts: a failure that repeats on every attempt
            # (a bug, a model too big for memory) must not burn a night of attempts silently.
            record_failure(workspace, record, split.fingerprint, str(result), seconds)
            return result
        result.device = {**(result.device or {}), "engine": engine.kind}
        attempt = store_attempt(workspace, dataset, split, task.config, record, result, keep_above, planned.number,
                                seconds, metric)
        summary.attempts.append(attempt)
        reporter.attempt_ended(attempt)
        return attempt

    ordered = launch_in_order(engine, [Planned(n, task) for n, (_, task) in enumerate(tasks, 1)], store=store,
                              want_more=want_more, started=started, epoch_ended=reporter.epoch_ended,
                              budget=summary.budget, stop_on_failure=stop_on_failure)
    return ordered.stored


@contextlib.contextmanager
def opened(execution: Execution, workspace: Workspace | None = None):
    """The engine for `execution`, opened before anything is written (a GPU that is
    not there, a cluster that does not answer: one line, nothing written), and
    closed after; an error or Ctrl-C stops its workers at once. A local Dask
    cluster's scratch space is in `workspace`, for as long as the engine is open."""
    engine = open_engine(execution, None if workspace is None else workspace.models_dir)
    cancel = True
    try:
        yield engine
        cancel = False
    finally:
        engine.close(cancel=cancel)


def fresh_task(workspace: Workspace, dataset: "Dataset", config: "TrainConfig", seed: int, run_id: str,
               tensorboard: bool = False) -> AttemptTask:
    """An attempt about to train on the data the engine holds. Curves a killed
    command left for this run id are deleted: it trains again from the start."""
    curves = workspace.live_curves(run_id)
    shutil.rmtree(curves, ignore_errors=True)
    return AttemptTask(config, seed, run_id, dataset.n_classes, HeldData(), curves=str(curves) if tensorboard else None)


def train_trial(dataset: "Dataset", workspace: Workspace, config: "TrainConfig", *, run_id: str, trial: int,
                base_seed: int, keep_above: float = 0.0, val_fraction: float | None = None,
                reporter: TrainReporter | None = None, tensorboard: bool = False) -> Attempt:
    """One attempt with a given id and seed: a search trial, stored like any run."""
    checked = check_train_options(repeat=1, until_kept=None, max_attempts=None, keep_above=keep_above,
                                  seed=base_seed, val_fraction=val_fraction)
    keep_above, base_seed, val_fraction = checked["keep_above"], checked["seed"], checked["val_fraction"]
    task = fresh_task(workspace, dataset, config, attempt_seed(base_seed, trial), run_id, tensorboard)
    with training_session(workspace, dataset, config, val_fraction) as (split, arrays):
        summary = TrainSummary(keep_above)
        run_attempts(dataset, workspace, split, arrays, [(trial, task)], base_seed=base_seed, keep_above=keep_above,
                     engine=open_engine(Execution()), reporter=reporter or SilentReporter(), summary=summary)
        return summary.attempts[0]


@contextlib.contextmanager
def training_session(workspace: Workspace, dataset: "Dataset", config: "TrainConfig | Sequence[TrainConfig]",
                     val_fraction: float | None, judging: dict[str, Any] | None = None):
    """Check everything, then hold the workspace: yields (split, training arrays),
    or with --folds (split, the fold assignment). Every check (each config, its
    model built for these images, the split, the folds, the metric) comes before
    the first write."""
    from kaggle_cnn.evaluation.metric_registry import get_metric

    judging = judging or {"metric": None, "folds": None}
    for each in config_list(config):
        check_config(each, dataset.image_shape, dataset.n_classes)
        if each.mix and hasattr(dataset.x_train, "table"):  # data.loaders.with_table
            raise InputError(f"--mix {each.mix}: it blends images, not their table rows; leave it out with "
                             "--tabular-columns")
    metric, new_metric = check_metric(workspace, judging["metric"])
    get_metric(metric).check_classes(dataset.n_classes)  # map@K ranks K of the classes
    check_metric_fits(dataset.task, get_metric(metric).name)  # rmse and mae score numbers, the others classes
    split, new_split = plan_split(workspace, dataset, val_fraction)
    folds, new_folds = None, False
    if judging["folds"]:
        from kaggle_cnn.training.kfold import plan_folds

        folds, new_folds = plan_folds(workspace, dataset, judging["folds"])
    with workspace.lock():
        workspace.repair()
        if new_split:
            workspace.save_split(split)
        if new_folds:
            save_folds(workspace, folds)
        if new_metric:
            record_metric(workspace, metric)
        yield split, folds if folds is not None else split_arrays(dataset, split.val_indices)


def config_list(config: "TrainConfig | Sequence[TrainConfig]") -> list["TrainConfig"]:
    """A configuration, or a sequence of them, as a list; an empty one or one of
    something else is refused (one line)."""
    from kaggle_cnn.config import TrainConfig

    configs = [config] if isinstance(config, TrainConfig) else list(config) if isinstance(config, (list, tuple)) else []
    if not configs or not all(isinstance(each, TrainConfig) for each in configs):
        raise InputError(f"config: expected a TrainConfig or a non-empty sequence of them, got {config!r:.80}")
    return configs


def run_dataset(run: Run, data_path: str | os.PathLike | None = None) -> "Dataset":
    """The data a run was trained on, loaded again from where it was (or `data_path`)."""
    from kaggle_cnn.data import reload_dataset

    return reload_dataset(run.record["data"].get("load_options"), run.fingerprint, owner=f"run {run.run_id}",
                          data_path=data_path)
