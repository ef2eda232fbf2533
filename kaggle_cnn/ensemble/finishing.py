"""Finishing a vote for its metric: a last step fitted after the members'
probabilities are averaged, on the honest rows only (the vote's validation rows:
the hold-out split, or every training row out of fold for k-fold runs), then
applied to the test probabilities and recorded in the vote's sidecar.

    metric (task)                          step          what is fitted
    f1_micro, f1_samples, f2_samples (multi-label)  thresholds    one decision threshold per label
    logloss (single-label)                 temperature   one scalar T: softmax(log p / T)

STEPS is the one place a metric's step is registered. A step fitted and scored on
the same rows flatters itself, so besides the in-sample figure the step is
cross-fitted: fitted on one half of the rows and scored on the other, both ways,
and the two halves' finished predictions scored together. A guarded step
(temperature) is applied only when it improves the validation score (by more than
MIN_GAIN): on 50-row halves the cross-fitted figure is too noisy to decide by
(benchmarks/finishing.py: it turned down temperatures that lowered the test log-loss).
No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from kaggle_cnn.config import DECISION_METRICS, PROBABILITY_CLIP
from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metric_registry import Metric
from kaggle_cnn.labels import MULTI_LABEL, SINGLE_LABEL
from kaggle_cnn.store.submissions import decisions

CROSS_FIT = "fitted on one half of the validation rows, scored on the other, both ways"
MIN_GAIN = 1e-4  # a guarded step must improve the validation score by more than this
MIN_CROSS_FIT_ROWS = 4  # fewer rows: no halves worth fitting on, no cross-fitted figure


@dataclass
class Finished:
    """Probabilities after a step, and how a submission decides from them:
    multi-label `thresholds` (one, or one per label); single-label `predicted`
    class indices (None: each row's likeliest class)."""

    proba: np.ndarray
    thresholds: float | np.ndarray = 0.5
    predicted: np.ndarray | None = None

    def decided(self, multi_label: bool) -> np.ndarray | None:
        """What a metric scores besides the probabilities (metric.value's `predicted`)."""
        return decisions(self.proba, self.thresholds) if multi_label else self.predicted


@dataclass(frozen=True)
class Step:
    name: str
    fitted: str  # what is fitted, as printouts say
    fit: Callable[[Metric, np.ndarray, np.ndarray], dict[str, Any]]  # (metric, truth, proba) -> parameters
    apply: Callable[[dict[str, Any], np.ndarray], Finished]  # (parameters, proba) -> finished
    guarded: bool = False  # applied only when it improves the validation score
    show: Callable[[dict[str, Any]], str] = field(default=lambda parameters: "")  # the parameters, in one line


# -- per-label decision thresholds (F1, F2 of multi-label decisions) --------------------

# The thresholds tried for each label; 0.5 stays unless another scores strictly better.
THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)
THRESHOLD_PASSES = 2  # coordinate ascent: each label once, then once more with the others fitted


def fit_thresholds(metric: Metric, truth: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """One decision threshold per label that maximises `metric` on these (honest)
    rows, by coordinate ascent over THRESHOLD_GRID, starting from 0.5 everywhere."""
    thresholds = np.full(proba.shape[1], 0.5)
    best = metric.value(truth, proba, decisions(proba, thresholds))
    for _ in range(THRESHOLD_PASSES):
        for label in range(proba.shape[1]):
            for candidate in THRESHOLD_GRID:
                trial = thresholds.copy()
                trial[label] = candidate
                value = metric.value(truth, proba, decisions(proba, trial))
                if metric.goodness(value) > metric.goodness(best) + 1e-12:
                    thresholds, best = trial, value
    return thresholds


THRESHOLDS = Step(
    "thresholds", "one decision threshold per label",
    fit=lambda metric, truth, proba: {"thresholds": fit_thresholds(metric, truth, proba).tolist()},
    apply=lambda parameters, proba: Finished(proba, np.asarray(parameters["thresholds"])),
    show=lambda parameters: ", ".join(f"{t:g}" for t in parameters["thresholds"]))


# -- temperature scaling (log-loss) -----------------------------------------------------

LOG_T_BOUNDS = (-3.0, 3.0)  # T from 0.05 (sharper) to 20 (flatter)


def scale_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): rows keep their order of classes; T > 1 flattens them, T < 1 sharpens."""
    logits = np.log(np.clip(np.asarray(proba, dtype=np.float64), PROBABILITY_CLIP, 1.0)) / temperature
    scaled = np.exp(logits - logits.max(axis=1, keepdims=True))
    return scaled / scaled.sum(axis=1, keepdims=True)


def fit_temperature(truth: np.ndarray, proba: np.ndarray) -> float:
    """The T minimising the log-loss of softmax(log p / T) on these rows (a bounded search on log T)."""
    from scipy.optimize import minimize_scalar

    from kaggle_cnn.evaluation.metric_registry import log_loss

    found = minimize_scalar(lambda log_t: log_loss(truth, scale_temperature(proba, float(np.exp(log_t)))),
                            bounds=LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-4})
    return float(np.exp(found.x))


TEMPERATURE = Step(
    "temperature", "one temperature T for every row: softmax(log p / T)",
    fit=lambda metric, truth, proba: {"temperature": fit_temperature(truth, proba)},
    apply=lambda parameters, proba: Finished(scale_temperature(proba, parameters["temperature"])),
    guarded=True, show=lambda parameters: f"T {parameters['temperature']:.4g}")


# -- the registry: (task, metric) -> step ------------------------------------------------

STEPS: dict[tuple[str, str], Step] = {
    **{(MULTI_LABEL, name): THRESHOLDS for name in DECISION_METRICS},
    (SINGLE_LABEL, "logloss"): TEMPERATURE,
}


def step_for(metric: Metric, multi_label: bool) -> Step | None:
    return STEPS.get((MULTI_LABEL if multi_label else SINGLE_LABEL, metric.name))


def check_finish(metric: Metric, multi_label: bool, finish: bool | None) -> None:
    """--finish for a metric with no step is refused, naming those that have one."""
    if finish and step_for(metric, multi_label) is None:
        task = "multi-label" if multi_label else "single-label"
        known = ", ".join(f"{name} ({'multi' if t == MULTI_LABEL else 'single'}-label: {step.name})"
                          for (t, name), step in STEPS.items())
        raise InputError(f"--finish: a {task} vote by {metric.name} has no finishing step; the steps are for {known}")


# -- fitting on the honest rows, applying to the test rows ------------------------------


@dataclass
class Finishing:
    """A step fitted on the validation rows (or why it is not applied), ready for the test rows."""

    step: Step | None
    parameters: dict[str, Any] | None
    applied: bool
    record: dict[str, Any] | None  # the sidecar's "finishing" (None: the metric has no step)

    def apply(self, proba: np.ndarray) -> Finished:
        return self.step.apply(self.parameters, proba) if self.applied else Finished(proba)


def finish_step(metric: Metric, multi_label: bool, truth: np.ndarray | None, val_proba: np.ndarray | None, *,
           finish: bool | None, rows: str, unavailable: str | None = None) -> Finishing:
    """Fit the metric's step on (truth, val_proba), the vote's probabilities on its
    honest rows (`rows` says which, for the record). `finish`: None finishes when the
    metric has a step; False records the step as turned off. `unavailable`: why
    there is nothing honest to fit on (refused under --finish, recorded otherwise)."""
    check_finish(metric, multi_label, finish)
    step = step_for(metric, multi_label)
    if step is None:
        return Finishing(None, None, False, None)
    record: dict[str, Any] = {"step": step.name, "fitted": step.fitted, "metric": metric.name}
    if finish is False:
        return Finishing(step, None, False, {**record, "applied": False, "skipped": "turned off (--no-finish)"})
    if unavailable is not None:
        if finish:
            raise InputError(f"--finish: the vote's finishing step ({step.name}) is fitted on its validation rows, "
                             f"and {unavailable}")
        return Finishing(step, None, False, {**record, "applied": False, "skipped": unavailable})

    decided = lambda finished: finished.decided(multi_label)  # noqa: E731
    parameters = step.fit(metric, truth, val_proba)
    before = _score(metric, truth, Finished(val_proba), decided)
    after = _score(metric, truth, step.apply(parameters, val_proba), decided)
    crossed = cross_fitted(step, metric, truth, val_proba, decided)
    applied, skipped = True, None
    if step.guarded and before is not None and (after is None or metric.goodness(after) <= metric.goodness(before)
                                                 + MIN_GAIN):
        applied = False
        skipped = f"it did not improve the validation {metric.name} ({_shown(after)} with it, {_shown(before)} without)"
    return Finishing(step, parameters, applied, {
        **record, "parameters": parameters, "parameters_shown": step.show(parameters), "applied": applied, "skipped": skipped,
        "fitted_on": rows, "val_rows": int(len(truth)),
        "val_score_before": before, "val_score_after": after,  # after: in-sample, on the rows it was fitted on
        "val_score_after_cross_fitted": crossed, "cross_fitting": CROSS_FIT,
    })


def finish_pool(spec, pool, weights: np.ndarray, stacked, test_proba: np.ndarray | None,
                finish: bool | None) -> Finishing:
    """A single-label vote's step: fitted on the vote's own probabilities on the
    pool's validation rows (the members' weighted mean, as the test rows get)."""
    from kaggle_cnn.ensemble.rules import average_probabilities
    from kaggle_cnn.evaluation.metric_registry import get_metric

    metric = get_metric(spec.metric)
    unavailable = ("the vote has no validation rows: " + str(pool.val_note) if pool.val is None else
                   "some member has labels only, so the vote has no probabilities" if test_proba is None else
                   "a stack's meta-model is itself fitted on the validation rows" if stacked is not None else None)
    if unavailable is not None:
        return finish_step(metric, False, None, None, finish=finish, rows="", unavailable=unavailable)
    val_proba = average_probabilities(pool.val.proba, weights, spec.geometric)
    return finish_step(metric, False, pool.val.truth, val_proba, finish=finish, rows=pool.val.description)


def cross_fitted(step: Step, metric: Metric, truth: np.ndarray, proba: np.ndarray, decided) -> float | None:
    """The metric of the finished predictions when each half of the rows is finished
    by the step fitted on the other half (a fixed shuffle decides the halves)."""
    n = len(truth)
    if n < MIN_CROSS_FIT_ROWS:
        return None
    order = np.random.default_rng(0).permutation(n)
    halves = (np.sort(order[: n // 2]), np.sort(order[n // 2:]))
    finished_proba = np.array(proba, dtype=np.float64, copy=True)
    decisions_of = [None, None]
    for k, (fit_rows, scored_rows) in enumerate((halves, halves[::-1])):
        try:
            parameters = step.fit(metric, truth[fit_rows], proba[fit_rows])
        except InputError:
            return None
        finished = step.apply(parameters, proba[scored_rows])
        finished_proba[scored_rows] = finished.proba
        decisions_of[k] = (scored_rows, decided(finished))
    predicted = None
    if all(d is not None for _, d in decisions_of):
        first = decisions_of[0][1]
        predicted = np.zeros((n, *first.shape[1:]), dtype=first.dtype)
        for rows, d in decisions_of:
            predicted[rows] = d
    try:
        return metric.value(truth, finished_proba, predicted)
    except InputError:  # e.g. ROC AUC of a label absent from these rows
        return None


def _score(metric: Metric, truth: np.ndarray, finished: Finished, decided) -> float | None:
    try:
        return metric.value(truth, finished.proba, decided(finished))
    except InputError:
        return None


def _shown(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"
