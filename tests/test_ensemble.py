"""The vote's rules on arrays: majority, and each tie-break in its turn."""

import numpy as np

from kaggle_cnn.ensemble import majority_vote


def test_majority_wins_without_ties():
    votes = np.array([[0, 1, 2], [0, 1, 1], [1, 1, 2]])
    result = majority_vote(votes, 3)
    assert result.predictions.tolist() == [0, 1, 2]
    assert result.ties == 0


def test_most_common_not_largest_class():
    # hyperas' hard-vote helper returned the largest class id; ours the most common.
    votes = np.array([[0], [0], [2]])
    assert majority_vote(votes, 3).predictions.tolist() == [0]


def test_tie_goes_to_highest_mean_probability():
    votes = np.array([[0], [1]])
    proba = [np.array([[0.55, 0.45]]), np.array([[0.2, 0.8]])]  # mean: 0.375 vs 0.625
    result = majority_vote(votes, 2, proba=proba, scores=[0.99, 0.5])
    assert result.predictions.tolist() == [1]
    assert result.ties == 1 and result.ties_by_rule["probability"] == 1


def test_probability_only_among_tied_classes():
    votes = np.array([[0], [1], [2], [2]])  # 2 wins outright
    proba = [np.array([[0.9, 0.05, 0.05]])] * 4
    assert majority_vote(votes, 3, proba=proba).predictions.tolist() == [2]
    votes = np.array([[0], [1]])  # tie 0 vs 1; class 2 has the highest probability but is not tied
    proba = [np.array([[0.2, 0.3, 0.5]])] * 2
    assert majority_vote(votes, 3, proba=proba).predictions.tolist() == [1]


def test_tie_goes_to_best_member_without_probabilities():
    votes = np.array([[0], [1], [2]])
    result = majority_vote(votes, 3, scores=[0.90, 0.95, 0.92])
    assert result.predictions.tolist() == [1]
    assert result.ties_by_rule == {"probability": 0, "best_member": 1, "smallest_label": 0}


def test_best_member_must_have_voted_a_tied_class():
    votes = np.array([[0], [0], [1], [1], [2]])  # tie 0 vs 1; the best member voted 2
    result = majority_vote(votes, 3, scores=[0.90, 0.80, 0.91, 0.70, 0.99])
    assert result.predictions.tolist() == [1]


def test_equal_probabilities_fall_through_to_best_member():
    votes = np.array([[0], [1]])
    proba = [np.array([[0.5, 0.5]]), np.array([[0.5, 0.5]])]
    result = majority_vote(votes, 2, proba=proba, scores=[0.8, 0.9])
    assert result.predictions.tolist() == [1]
    assert result.ties_by_rule["best_member"] == 1


def test_last_resort_is_smallest_label():
    votes = np.array([[2, 1], [1, 2]])
    result = majority_vote(votes, 3)
    assert result.predictions.tolist() == [1, 1]
    assert result.ties == 2 and result.ties_by_rule["smallest_label"] == 2


def test_deterministic_whatever_the_member_order():
    rng = np.random.default_rng(0)
    votes = rng.integers(0, 4, size=(6, 200))
    scores = [0.9, 0.91, 0.92, 0.93, 0.94, 0.95]
    forward = majority_vote(votes, 4, scores=scores).predictions
    order = np.argsort(scores)[::-1]
    backward = majority_vote(votes[order], 4, scores=[scores[i] for i in order]).predictions
    assert np.array_equal(forward, backward)
