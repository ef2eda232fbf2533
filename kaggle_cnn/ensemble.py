"""Voting rules on arrays: pure numpy, no files, no TensorFlow.

Members' votes arrive as class indices into one shared class order (the order
that defines "smallest label"), so the rules here never see label text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TIE_RULE = (
    "majority vote; a tie goes to (1) the tied class with the highest mean probability "
    "over the members that stored probabilities, else (2) the tied class voted by the "
    "member with the best validation accuracy, else (3) the smallest tied label"
)


@dataclass
class VoteResult:
    predictions: np.ndarray  # class index per row
    ties: int  # rows where two or more classes shared the most votes
    ties_by_rule: dict[str, int] = field(default_factory=dict)


def majority_vote(
    votes: np.ndarray,
    n_classes: int,
    proba: list[np.ndarray | None] | None = None,
    scores: list[float | None] | None = None,
) -> VoteResult:
    """Hard vote over `votes` (members x rows of class indices), deterministic ties.

    `proba[m]` is member m's (rows x classes) probabilities or None; `scores[m]` its
    validation accuracy or None. Both are only consulted on tied rows.
    """
    votes = np.asarray(votes, dtype=np.int64)
    n_members, n_rows = votes.shape
    counts = np.zeros((n_rows, n_classes), dtype=np.int64)
    for member_votes in votes:
        counts[np.arange(n_rows), member_votes] += 1
    tied = counts == counts.max(axis=1, keepdims=True)
    predictions = tied.argmax(axis=1)  # the first top class, i.e. the smallest label
    tie_rows = np.flatnonzero(tied.sum(axis=1) > 1)
    result = VoteResult(predictions, int(tie_rows.size), {"probability": 0, "best_member": 0, "smallest_label": 0})
    if tie_rows.size == 0:
        return result

    undecided = _break_by_probability(result, tie_rows, tied, proba)
    undecided = _break_by_best_member(result, undecided, tied, votes, scores)
    result.ties_by_rule["smallest_label"] = int(undecided.size)
    return result


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
    # Best score first; equal scores keep the members' order (file name order).
    order = sorted((m for m, s in enumerate(scores) if s is not None), key=lambda m: -scores[m])
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
