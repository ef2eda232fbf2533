"""k-fold runs (`kcnn train --folds K`): one candidate is K fold models, each
trained on the other folds and scored on its own, so every training row gets one
honest, out-of-fold (OOF) prediction. The candidate is judged on those OOF
predictions, and its test predictions are the fold models' average, or, with
--refit, those of one more model trained on every row for the epochs the folds
chose (the fold average is kept beside it).

A candidate's folds are independent attempts: the engine spreads them over its
slots (--jobs, GPUs, a cluster). The candidate is stored only once all of it has
trained, through the same record and rename as a hold-out run, so a kill loses at
most the candidate in flight and `--resume` trains it again.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kaggle_cnn.errors import AttemptFailed, InputError
from kaggle_cnn.store.validation import Folds, find_folds, folds_path
from kaggle_cnn.training.launch import Planned, launch_in_order
from kaggle_cnn.training.options import attempt_seed
from kaggle_cnn.training.records import finish_record, judge, record_failure, run_record
from kaggle_cnn.training.workers import AttemptTask

if TYPE_CHECKING:
    from kaggle_cnn.data import Dataset
    from kaggle_cnn.store.workspace import Split, Workspace
    from kaggle_cnn.training.fit import FitResult

FOLDS_SEED = 0  # one fixed assignment per dataset and workspace; recorded with it


def plan_folds(workspace: "Workspace", dataset: "Dataset", k: int) -> tuple[Folds, bool]:
    """The workspace's fold assignment of this dataset, or a new one (not yet
    saved): (folds, is_new). Every k-fold run of a dataset shares it, so their
    out-of-fold predictions compare and vote together."""
    from kaggle_cnn.data import make_folds

    fingerprint = dataset.fingerprint()
    existing = find_folds(workspace, fingerprint)
    if existing is not None:
        if existing.k != k:
            raise InputError(f"--folds {k}: this workspace already assigns this dataset's rows to {existing.k} folds "
                             f"({folds_path(workspace, fingerprint)}); all its k-fold runs share them: use --folds "
                             f"{existing.k}, or a new workspace (-w)")
        return existing, False
    fold_of_row = make_folds(dataset.y_train, k, FOLDS_SEED, classes=dataset.classes)
    labels = np.asarray(dataset.y_train)  # class indices, or a multi-label bool table
    return Folds(fingerprint, int(k), FOLDS_SEED, fold_of_row, labels if labels.dtype == bool else
                 labels.astype(np.int64), list(dataset.classes)), True


def fold_tasks(task: AttemptTask, folds: Folds) -> list[AttemptTask]:
    return [replace(task, seed=attempt_seed(task.seed, fold), run_id=f"{task.run_id}-fold{fold + 1}",
                    val_rows=folds.val_rows(fold), curves=part_curves(task, f"fold{fold + 1}"))
            for fold in range(folds.k)]


def part_curves(task: AttemptTask, part: str) -> str | None:
    """A fold's or the refit's curves: a sub-folder of the candidate's."""
    return None if task.curves is None else str(Path(task.curves) / part)


def refit_task(task: AttemptTask, folds: Folds, epochs: int) -> AttemptTask:
    """One more model on every training row (no validation rows), for `epochs`."""
    config = replace(task.config, epochs=int(epochs), patience=None)
    return replace(task, config=config, seed=attempt_seed(task.seed, folds.k), run_id=f"{task.run_id}-refit",
                   val_rows=np.zeros(0, dtype=np.int64), curves=part_curves(task, "refit"))


def chosen_epochs(result: "FitResult") -> int:
    """The epochs a fold settled on: its best epoch under --epochs auto, else those it trained."""
    if result.epochs:
        return int(result.epochs["best"])
    return sum(row["phase"] != "fine-tune" for row in result.history)


def train_candidate(engine, task: AttemptTask, folds: Folds, *, refit: bool, reporter, number: int,
                    total: int | None, seconds: float | None = None) -> tuple[list["FitResult"], "FitResult | None"]:
    """Train a candidate's K folds (spread over the engine's slots), then its refit.
    `seconds` (a time budget's share for this candidate) is shared by the rounds of
    fold models and the refit, each part getting its round's time."""
    epochs = task.config.total_epochs
    reporter.attempt_started(number, total, task.run_id, epochs * (folds.k + refit))
    done = {"epochs": 0}

    def epoch_ended(part_id: str, epoch: int, logs: dict) -> None:  # one line per candidate: its parts' epochs add up
        reporter.epoch_ended(task.run_id, done["epochs"], logs)
        done["epochs"] += 1

    def run(parts: list[AttemptTask]) -> list["FitResult"]:
        collected: list = []
        launch_in_order(engine, [Planned(n, part) for n, part in enumerate(parts, 1)],
                        store=lambda planned, result, seconds: collected.append(result),
                        want_more=lambda results: True, started=lambda planned, slot: None,
                        epoch_ended=epoch_ended, epochs=epochs)
        return collected

    rounds = -(-folds.k // max(1, len(engine.slots))) + refit
    allowance = None if seconds is None else seconds / rounds
    results = run([replace(part, seconds=allowance) for part in fold_tasks(task, folds)])
    final = run([replace(refit_task(task, folds, np.mean([chosen_epochs(r) for r in results]).round()),
                         seconds=allowance)])[0] if refit else None
    return results, final


def out_of_fold(results: list["FitResult"], folds: Folds) -> np.ndarray:
    """Every training row's probabilities from the one fold model that did not train on it."""
    oof = np.zeros((len(folds.labels), results[0].val_proba.shape[1]), dtype=np.float32)
    for fold, result in enumerate(results):
        oof[folds.val_rows(fold)] = result.val_proba
    return oof


def combined_result(results: list["FitResult"], final: "FitResult | None", folds: Folds) -> "FitResult":
    """The candidate as one result: OOF probabilities as its validation, the
    submission's test probabilities, every part's epochs in one history."""
    from kaggle_cnn.evaluation.metric_registry import accuracy, log_loss
    from kaggle_cnn.training.fit import FitResult

    oof = out_of_fold(results, folds)
    parts = [(f"fold{fold + 1}", r) for fold, r in enumerate(results)] + ([("refit", final)] if final else [])
    history = [{"part": name, **row} for name, r in parts for row in r.history]
    return FitResult(
        model=None, history=history, val_proba=oof,
        test_proba=final.test_proba if final is not None else np.mean([r.test_proba for r in results], axis=0),
        val_accuracy=accuracy(folds.labels, oof), val_loss=log_loss(folds.labels, oof),
        predict_seconds=float(sum(r.predict_seconds for _, r in parts)), params=results[0].params,
        device=results[0].device,
        epochs={"folds": [chosen_epochs(r) for r in results], "refit": len(final.history) if final else None})


def store_candidate(workspace: "Workspace", dataset: "Dataset", split: "Split", folds: Folds, task: AttemptTask,
                    record: dict, results: list["FitResult"], final: "FitResult | None", *, keep_above: float,
                    metric: str, number: int, seconds: float):
    """Judge the candidate on its OOF predictions; keep its folder (fold models,
    OOF and test probabilities, the refit) or its curves; then its index row."""
    from kaggle_cnn.evaluation.metric_registry import get_metric

    combined = combined_result(results, final, folds)
    judged = judge(metric, folds.labels, combined.val_proba, keep_above)
    record.update(run_record(dataset, split, task.config, combined, keep_above, judged))
    n_rows = len(folds.labels)
    record["config"].update(val_fraction=None, split_seed=None, folds=folds.k, refit=final is not None)
    record["data"].update(n_train=n_rows, n_val=n_rows)
    record["validation"] = {"kind": "folds", "folds": folds.k, "seed": folds.seed, "rows": n_rows}
    first = [row["phase"] for row in results[0].history]  # the epochs one fold trains, as a hold-out run counts them
    record["phases"] = {phase: first.count(phase) for phase in dict.fromkeys(first)}
    record["scores"]["fold_scores"] = [get_metric(metric).value(folds.labels[folds.val_rows(f)], r.val_proba)
                                       for f, r in enumerate(results)]
    record["seconds"] = seconds
    files = {f"fold{fold + 1}.keras": r for fold, r in enumerate(results)}
    files["oof_proba.npy"] = combined.val_proba
    files["test_proba.npy"] = combined.test_proba
    if final is not None:
        files["model.keras"] = final
        files["test_proba_folds.npy"] = np.mean([r.test_proba for r in results], axis=0)
    return finish_record(workspace, dataset, record, combined, number, files)


def carry_out(engine, dataset: "Dataset", workspace: "Workspace", split: "Split", folds: Folds,
              tasks: list[tuple[int, AttemptTask]], *, refit: bool, keep_above: float, metric: str, base_seed: int,
              reporter, summary, want_more, total: int | None) -> None:
    """Train and store candidates one after another (their folds in parallel),
    while `want_more` and the time budget allow."""
    from kaggle_cnn.training.records import new_record

    engine.start({"x": dataset.x_train, "y": dataset.y_train}, dataset.x_test, _data_path(dataset, folds))
    summary.engine = engine.description
    budget = summary.budget
    for number, (attempt, task) in enumerate(tasks, 1):
        if not want_more(summary.attempts) or (budget is not None and summary.attempts
                                               and not budget.allows(time.monotonic(), {})):
            break
        started = time.monotonic()
        record = new_record(task.config, task.run_id, base_seed, attempt, task.seed, keep_above,
                            tensorboard=task.curves is not None, teacher=task.teacher)
        try:
            share = None if budget is None else budget.share(time.monotonic(), number - 1, 1)
            results, final = train_candidate(engine, task, folds, refit=refit, reporter=reporter, number=number,
                                             total=total, seconds=share)
        except AttemptFailed as failed:
            record_failure(workspace, record, split.fingerprint, str(failed), time.monotonic() - started)
            raise AttemptFailed(f"k-fold run {task.run_id}: {failed}") from None
        seconds = time.monotonic() - started
        results[0].device = {**(results[0].device or {}), "engine": engine.kind}  # recorded as the run's device
        if budget is not None:
            budget.durations.append(seconds)
        attempt_ = store_candidate(workspace, dataset, split, folds, task, record, results, final,
                                   keep_above=keep_above, metric=metric, number=number, seconds=seconds)
        summary.attempts.append(attempt_)
        reporter.attempt_ended(attempt_)
    if budget is not None:
        budget.finished_at = time.monotonic()


def _data_path(dataset: "Dataset", folds: Folds):
    from kaggle_cnn.training.workers import DataPath

    return DataPath(dataset.load_options, folds.fingerprint, None)
