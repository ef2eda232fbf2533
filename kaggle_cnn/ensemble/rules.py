"""Ensemble rules on arrays: pure numpy, no files, no TensorFlow.

Members arrive as class indices into one shared class order (the order that
defines "smallest label") and, when they have them, as probability matrices in
that order. An ensemble is a weight per member, chosen on validation rows by
`fit_weights` and applied to any rows by `combine`, so that the same two steps
give the in-sample figure, the split-half one and the test predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kaggle_cnn.config import PROBABILITY_CLIP
from kaggle_cnn.ensemble.choices import MAX_ROUNDS, METHODS
from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metric_registry import (
    accuracy,
    check_threshold,
    get_metric,
    log_loss,
)

ESTIMATE_FOLDS = 5  # the vote's honest estimate: weights chosen on 4/5 of the rows, scored on the rest
TIE_RULE = (
    "majority vote; a tie goes to (1) the tied class with the highest mean probability "
    "over the members that stored probabilities, else (2) the tied class voted by the "
    "member with the best validation accuracy, else (3) the smallest tied label"
)
PROBABILITY_TIE_RULE = "highest averaged probability; exactly equal probabilities go to the smallest label"


@dataclass
class VoteResult:
    predictions: np.ndarray  # class index per row
    ties: int  # rows where two or more classes shared the top score
    ties_by_rule: dict[str, int] = field(default_factory=dict)
    tied_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    margins: np.ndarray | None = None  # top minus runner-up, per row (votes or probability)


@dataclass(frozen=True)
class VoteSpec:
    """How to choose members' weights on validation rows, and how to combine them."""

    method: str = "hard"
    geometric: bool = False  # soft/greedy/weighted probabilities: geometric mean
    keep_above: float | None = None  # members scoring worse are left out (below; for log-loss above)
    top: int | None = None  # only the K best members
    rounds: int = 25  # greedy: additions after the initial members
    init: int = 1  # greedy: start from the best K members, once each
    metric: str | None = None  # what members are judged, weighted and selected by (None: the workspace's)
    fixed_weights: tuple[float, ...] | None = None  # weighted: --weights FILE, per member

    @property
    def uses_probabilities(self) -> bool:
        return self.method in ("soft", "greedy", "stack")


def check_spec(spec: VoteSpec, n_members: int | None = None) -> None:
    """Refuse, naming the option, what no vote can honour; with `n_members`, also
    what these members cannot (greedy's --init, the weights' count)."""
    if spec.method not in METHODS:
        raise InputError(f"--method {spec.method}: choose one of {', '.join(METHODS)}")
    if spec.top is not None and spec.top < 1:
        raise InputError(f"--top must be at least 1, got {spec.top}")
    check_threshold(get_metric(spec.metric), spec.keep_above)  # NaN fails too; an unknown metric is refused
    if not 0 <= spec.rounds <= MAX_ROUNDS:
        raise InputError(f"--rounds must be between 0 and {MAX_ROUNDS}, got {spec.rounds}")
    if spec.init < 1:
        raise InputError(f"--init must be at least 1, got {spec.init}")
    if spec.fixed_weights is not None and spec.method != "weighted":
        raise InputError(f"--member-weights is for --method weighted, not {spec.method}")
    if spec.geometric and spec.method == "stack":
        raise InputError("--geometric is for soft, weighted and greedy: --method stack learns its own combination")
    if n_members is None:
        return
    if spec.method == "greedy" and spec.init > n_members:
        raise InputError(f"--init {spec.init}: greedy starts from the best {spec.init} members, "
                         f"but this vote has {n_members}")
    weights = np.asarray(spec.fixed_weights if spec.fixed_weights is not None else [1.0], dtype=np.float64)
    if spec.fixed_weights is not None and len(weights) != n_members:
        raise InputError(f"--member-weights: {len(weights)} weights for {n_members} members")
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise InputError("--member-weights: weights must be finite non-negative numbers, not all zero")


# -- combining ------------------------------------------------------------------------


def majority_vote(votes, n_classes, proba=None, scores=None) -> VoteResult:
    """Hard vote, one vote per member, with the documented tie-break."""
    return weighted_vote(votes, n_classes, np.ones(len(votes)), proba, scores)


def weighted_vote(
    votes: np.ndarray,
    n_classes: int,
    weights: np.ndarray,
    proba: list[np.ndarray | None] | None = None,
    scores: list[float | None] | None = None,
) -> VoteResult:
    """Each member adds its weight to the class it voted; deterministic ties.

    `proba[m]` is member m's (rows x classes) probabilities or None; `scores[m]` its
    validation accuracy or None. Both are only consulted on tied rows, and only for
    members with a non-zero weight.
    """
    votes = np.asarray(votes, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    active = np.flatnonzero(weights > 0)
    n_rows = votes.shape[1]
    counts = np.zeros((n_rows, n_classes), dtype=np.float64)
    for member in active:
        np.add.at(counts, (np.arange(n_rows), votes[member]), weights[member])
    top = counts.max(axis=1, keepdims=True)
    tied = np.isclose(counts, top, rtol=0, atol=1e-9)
    predictions = tied.argmax(axis=1)  # the first top class, i.e. the smallest label
    tie_rows = np.flatnonzero(tied.sum(axis=1) > 1)
    result = VoteResult(predictions, int(tie_rows.size), {"probability": 0, "best_member": 0, "smallest_label": 0},
                        tie_rows, _margins(counts))
    if tie_rows.size:
        undecided = _break_by_probability(result, tie_rows, tied, [proba[m] for m in active] if proba else None)
        undecided = _break_by_best_member(result, undecided, tied, votes[active],
                                          [scores[m] for m in active] if scores else None)
        result.ties_by_rule["smallest_label"] = int(undecided.size)
    return result


def average_probabilities(proba: list[np.ndarray], weights: np.ndarray, geometric: bool = False) -> np.ndarray:
    """Weighted arithmetic (or geometric) mean of members' probabilities, rows summing to 1."""
    weights = np.asarray(weights, dtype=np.float64)
    active = np.flatnonzero(weights > 0)
    total = weights[active].sum()
    if geometric:
        logs = sum(weights[m] * np.log(np.clip(proba[m], PROBABILITY_CLIP, 1.0)) for m in active) / total
        mean = np.exp(logs - logs.max(axis=1, keepdims=True))
    else:
        mean = sum(weights[m] * proba[m] for m in active) / total
    return mean / mean.sum(axis=1, keepdims=True)


def probability_vote(proba: list[np.ndarray], weights: np.ndarray, geometric: bool = False) -> VoteResult:
    """Argmax of the averaged probabilities; exact ties go to the smallest label."""
    return top_class_vote(average_probabilities(proba, weights, geometric))


def top_class_vote(mean: np.ndarray) -> VoteResult:
    """Argmax of combined probabilities (rows x classes); exact ties go to the smallest label."""
    top = mean.max(axis=1, keepdims=True)
    tied = mean == top
    tie_rows = np.flatnonzero(tied.sum(axis=1) > 1)
    return VoteResult(tied.argmax(axis=1), int(tie_rows.size),
                      {"probability": 0, "best_member": 0, "smallest_label": int(tie_rows.size)},
                      tie_rows, _margins(mean))


def combines_probabilities(spec: VoteSpec, proba: list[np.ndarray | None], weights: np.ndarray) -> bool:
    """soft and greedy average probabilities; weighted does when every member it
    uses has them, and counts weighted label votes otherwise."""
    active = np.flatnonzero(np.asarray(weights) > 0)
    return spec.uses_probabilities or (spec.method == "weighted" and all(proba[m] is not None for m in active))


def combine(spec: VoteSpec, weights: np.ndarray, votes: np.ndarray, proba: list[np.ndarray | None],
            scores: list[float | None], n_classes: int) -> VoteResult:
    """Apply chosen weights to some rows (validation or test)."""
    if combines_probabilities(spec, proba, weights):
        return probability_vote(proba, weights, spec.geometric)
    return weighted_vote(votes, n_classes, weights, proba, scores)


# -- choosing weights on validation rows ----------------------------------------------


def member_accuracies(val_votes: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.array([accuracy(y, votes) for votes in val_votes])


def member_scores(metric: str | None, val_votes: np.ndarray, val_proba: list[np.ndarray | None],
                  y: np.ndarray) -> np.ndarray:
    """Each member's value of the metric on these rows (its labels, or its
    probabilities for the metrics that need them)."""
    chosen = get_metric(metric)
    if chosen.name == "accuracy":
        return member_accuracies(val_votes, y)
    n_classes = int(max(np.max(val_votes), np.max(y))) + 1
    return np.array([chosen.value(y, proba if chosen.needs_probabilities else None, votes, n_classes)
                     for votes, proba in zip(val_votes, val_proba)])


def goodness(metric: str | None, scores) -> list[float | None]:
    """Scores turned so that higher is better (a log-loss negated), for ranking and ties."""
    chosen = get_metric(metric)
    return [None if s is None else chosen.goodness(s) for s in scores]


def score_weights(metric: str | None, scores: np.ndarray) -> np.ndarray:
    """--method weighted's weights from members' scores: the score itself (floored
    at 0: a kappa can be negative), or for a loss its reciprocal."""
    scores = np.asarray(scores, dtype=np.float64)
    if get_metric(metric).greater_is_better:
        return np.clip(scores, 0.0, None)
    return 1.0 / np.clip(scores, PROBABILITY_CLIP, None)


def fit_weights(spec: VoteSpec, val_votes: np.ndarray | None, val_proba: list[np.ndarray] | None,
                y: np.ndarray | None, *, keep_best: bool = False) -> np.ndarray:
    """Members' weights, chosen from these validation rows only (0 = left out).

    When no member passes the filters, this is an error, unless `keep_best`: then
    the best member alone is kept (used on the folds of the estimate, where a
    threshold the members clear on every row may be missed)."""
    n_members = len(val_votes) if val_votes is not None else len(spec.fixed_weights or ())
    scores = member_scores(spec.metric, val_votes, val_proba, y) if val_votes is not None and y is not None else None
    eligible = _filter(spec, scores, n_members, keep_best=keep_best)
    if spec.method in ("hard", "soft", "stack"):  # a stack: the members it reads (kaggle_cnn.ensemble.stack)
        return eligible.astype(np.float64)
    if spec.method == "weighted":
        base = np.asarray(spec.fixed_weights, dtype=np.float64) if spec.fixed_weights is not None \
            else score_weights(spec.metric, scores)
        return np.where(eligible, base, 0.0)
    counts = greedy_selection(val_proba, y, eligible, rounds=spec.rounds, init=spec.init, metric=spec.metric)
    return counts.astype(np.float64)


def _filter(spec: VoteSpec, scores: np.ndarray | None, n_members: int, *, keep_best: bool = False) -> np.ndarray:
    eligible = np.ones(n_members, dtype=bool)
    metric = get_metric(spec.metric)
    if scores is not None:
        scores = goodness(spec.metric, scores)
    if spec.keep_above is not None:  # at or above, for a loss at or below: goodness at or above the threshold's
        eligible &= np.array([s >= metric.goodness(spec.keep_above) for s in scores])
    if spec.top is not None:
        ranked = [m for m in best_first(scores) if eligible[m]]
        eligible[:] = False
        eligible[ranked[: spec.top]] = True
    if not eligible.any():
        if not keep_best:
            raise InputError("no member passes the filters (--keep-above / --top / --model)")
        eligible[best_first(scores)[0]] = True
    return eligible


def best_first(scores) -> list[int]:
    """Members by descending score; equal scores keep the members' (file name)
    order; members without a score (None) are left out."""
    return sorted((m for m, s in enumerate(scores) if s is not None), key=lambda m: (-scores[m], m))


def greedy_selection(val_proba: list[np.ndarray], y: np.ndarray, eligible: np.ndarray, *, rounds: int = 25,
                     init: int = 1, metric: str | None = "accuracy") -> np.ndarray:
    """Caruana et al. (2004) forward selection with replacement.

    Start from the `init` best members, then add, `rounds` times, the member whose
    addition scores best by the metric (ties broken by log-loss; log-loss alone).
    The ensemble kept is the best one seen along the way (the earliest, when equal).
    Returns each member's multiplicity.
    """
    candidates = np.flatnonzero(eligible)
    stack = np.stack([val_proba[m] for m in candidates])  # (C, rows, classes)
    single = [_objective(p, y, metric) for p in stack]
    order = sorted(range(len(candidates)), key=lambda c: (single[c], c))
    counts = np.zeros(len(val_proba), dtype=np.int64)
    total = np.zeros_like(stack[0])
    for c in order[: max(1, min(init, len(candidates)))]:
        counts[candidates[c]] += 1
        total += stack[c]
    best_counts, best_score = counts.copy(), _objective(total / counts.sum(), y, metric)
    for _ in range(rounds):
        n = counts.sum()
        trial = (total[None] + stack) / (n + 1)  # every candidate added once more
        scores = [_objective(t, y, metric) for t in trial]
        pick = min(range(len(candidates)), key=lambda c: (scores[c], c))
        counts[candidates[pick]] += 1
        total += stack[pick]
        if scores[pick] < best_score:
            best_counts, best_score = counts.copy(), scores[pick]
    return best_counts


def _objective(proba: np.ndarray, y: np.ndarray, metric: str | None) -> tuple[float, ...]:
    """Smaller is better, compared as a tuple: the metric, then the log-loss."""
    chosen = get_metric(metric)
    return (-chosen.goodness(chosen.value(y, proba)), log_loss(y, proba))


def ensemble_score(spec: VoteSpec, weights: np.ndarray, result: VoteResult, proba: list[np.ndarray | None],
                   y: np.ndarray, n_classes: int) -> float:
    """The vote's metric on these rows: its labels, and for the metrics that need
    probabilities, its members' weighted mean probabilities."""
    metric = get_metric(spec.metric)
    mean = average_probabilities(proba, weights, spec.geometric) if metric.needs_probabilities else None
    return metric.value(y, mean, result.predictions, n_classes)


def kfold_estimate(spec: VoteSpec, val_votes: np.ndarray, val_proba: list[np.ndarray | None],
                   y: np.ndarray, n_classes: int, seed: int = 0) -> dict:
    """Choose the weights on K-1 folds of the rows, score on the one left out,
    for each fold; the mean is the vote's estimate.

    Weights chosen on the very rows they are scored on flatter the ensemble; this
    is the figure to trust before spending a submission. Stratified when every
    class has a row per fold; K is 5, fewer on tiny rows."""
    from sklearn.model_selection import KFold, StratifiedKFold

    counts = np.bincount(y, minlength=n_classes)
    smallest = int(counts[counts > 0].min())
    k = max(2, min(ESTIMATE_FOLDS, len(y)))
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed) if smallest >= k \
        else KFold(n_splits=k, shuffle=True, random_state=seed)
    values = []
    for fit_rows, score_rows in splitter.split(np.zeros(len(y)), y):
        proba_fit = [p[fit_rows] if p is not None else None for p in val_proba]
        weights = fit_weights(spec, val_votes[:, fit_rows], proba_fit, y[fit_rows], keep_best=True)
        fit_scores = goodness(spec.metric, member_scores(spec.metric, val_votes[:, fit_rows], proba_fit, y[fit_rows]))
        proba_score = [p[score_rows] if p is not None else None for p in val_proba]
        result = combine(spec, weights, val_votes[:, score_rows], proba_score, fit_scores, n_classes)
        values.append(ensemble_score(spec, weights, result, proba_score, y[score_rows], n_classes))
    return {"metric": get_metric(spec.metric).name, "value": float(np.mean(values)), "folds": k,
            "rows": int(len(y))}


# -- diagnostics ----------------------------------------------------------------------


def disagreement_matrix(votes: np.ndarray) -> np.ndarray:
    """Share of rows on which each pair of members votes differently."""
    votes = np.asarray(votes)
    return (votes[:, None, :] != votes[None, :, :]).mean(axis=2)


def margin_histogram(margins: np.ndarray, bins: int = 10) -> dict[str, list]:
    """How decisive the vote was: counts of rows per margin bin."""
    counts, edges = np.histogram(margins, bins=bins)
    return {"edges": [round(float(e), 4) for e in edges], "counts": counts.tolist()}


def _margins(scores: np.ndarray) -> np.ndarray:
    if scores.shape[1] < 2:
        return np.zeros(scores.shape[0])
    top_two = np.sort(scores, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0]


def _break_by_probability(result: VoteResult, rows: np.ndarray, tied: np.ndarray, proba) -> np.ndarray:
    stored = [p for p in (proba or []) if p is not None]
    if not stored:
        return rows
    mean = np.mean([p[rows] for p in stored], axis=0)
    mean = np.where(tied[rows], mean, -np.inf)
    best = mean.max(axis=1, keepdims=True)
    decided = (mean == best).sum(axis=1) == 1  # equal probabilities fall through
    result.predictions[rows[decided]] = mean[decided].argmax(axis=1)
    result.ties_by_rule["probability"] = int(decided.sum())
    return rows[~decided]


def _break_by_best_member(result: VoteResult, rows: np.ndarray, tied: np.ndarray, votes: np.ndarray, scores) -> np.ndarray:
    if rows.size == 0 or not scores or all(s is None for s in scores):
        return rows
    order = best_first(scores)
    undecided = []
    for row in rows:
        for member in order:
            if tied[row, votes[member, row]]:
                result.predictions[row] = votes[member, row]
                result.ties_by_rule["best_member"] += 1
                break
        else:
            undecided.append(row)
    return np.asarray(undecided, dtype=np.int64)
