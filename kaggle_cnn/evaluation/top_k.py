"""MAP@K as Kaggle's top-k competitions grade it (whale-categorization, Hotel-ID):
each row's answer lists up to K labels, likeliest first; a row scores the
precision at each rank where a true label first appears, summed and divided by
min(number of true labels, K). Written from mle-bench's
mlebench/metrics.py (average_precision_at_k) and the grade.py of
whale-categorization-playground, which scores MAP@5 with each answer's labels
read as a set (split on spaces).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def average_precision_at_k(actual: set, predicted: Sequence, k: int) -> float:
    """AP@k of one ranked list against a set of true labels: a label listed twice
    counts once, at its first rank; an empty truth scores 0."""
    predicted = list(predicted)[:k]
    score, hits = 0.0, 0
    for rank, label in enumerate(predicted, start=1):
        if label in actual and label not in predicted[:rank - 1]:
            hits += 1
            score += hits / rank
    return score / min(len(actual), k) if actual else 0.0


def mean_average_precision_at_k(actual: Iterable[set], predicted: Iterable[Sequence], k: int) -> float:
    """The mean of average_precision_at_k over rows."""
    return float(np.mean([average_precision_at_k(a, p, k) for a, p in zip(actual, predicted)]))


def grade_top_k(ids: Sequence[str], ranked: Sequence[Sequence[str]], answers: dict[str, str], k: int) -> float:
    """MAP@k of a submission (its ids and each row's ranked labels) against the
    answers (id -> the true labels, space-separated), matched by id as the grader
    sorts both by id."""
    return mean_average_precision_at_k([set(answers[i].split(" ")) for i in ids], ranked, k)
