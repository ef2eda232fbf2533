"""The vote's rules on arrays: majority, and each tie-break in its turn."""

import numpy as np
import pytest

from kaggle_cnn.ensemble.rules import (
    VoteSpec,
    check_spec,
    combine,
    disagreement_matrix,
    fit_weights,
    greedy_selection,
    kfold_estimate,
    majority_vote,
    probability_vote,
    weighted_vote,
)
from kaggle_cnn.errors import InputError


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


# -- weights, soft votes, greedy selection --------------------------------------------


def one_hot(indices, n_classes=3, confidence=0.8):
    proba = np.full((len(indices), n_classes), (1 - confidence) / (n_classes - 1))
    proba[np.arange(len(indices)), indices] = confidence
    return proba


def test_weighted_vote_lets_a_strong_member_outvote_two_weak_ones():
    votes = np.array([[0], [1], [1]])
    assert weighted_vote(votes, 2, np.array([0.9, 0.4, 0.4])).predictions.tolist() == [0]
    assert weighted_vote(votes, 2, np.array([0.7, 0.4, 0.4])).predictions.tolist() == [1]


def test_weighted_tie_uses_the_same_rule_as_hard():
    votes = np.array([[0], [1]])
    result = weighted_vote(votes, 2, np.array([0.5, 0.5]), scores=[0.8, 0.9])
    assert result.predictions.tolist() == [1] and result.ties_by_rule["best_member"] == 1


def test_soft_vote_follows_confidence_not_headcount():
    a = np.array([[0.9, 0.1]])
    b = np.array([[0.4, 0.6]])
    c = np.array([[0.4, 0.6]])
    assert majority_vote(np.array([[0], [1], [1]]), 2).predictions.tolist() == [1]
    assert probability_vote([a, b, c], np.ones(3)).predictions.tolist() == [0]  # mean 0.567 vs 0.433


def test_geometric_mean_punishes_a_confident_veto():
    a = np.array([[0.98, 0.02]])
    b = np.array([[0.30, 0.70]])
    assert probability_vote([a, b], np.ones(2)).predictions.tolist() == [0]  # arithmetic: 0.64 vs 0.36
    geometric = probability_vote([a, b], np.ones(2), geometric=True)
    assert geometric.predictions.tolist() == [0]  # sqrt(.294)=.542 vs sqrt(.014)=.118
    c = np.array([[0.01, 0.99]])
    assert probability_vote([a, c], np.ones(2)).predictions.tolist() == [1]
    assert probability_vote([a, c], np.ones(2), geometric=True).predictions.tolist() == [1]


def test_exactly_equal_probabilities_go_to_the_smallest_label():
    result = probability_vote([np.array([[0.2, 0.4, 0.4]])], np.ones(1))
    assert result.predictions.tolist() == [1] and result.ties == 1


def test_greedy_picks_the_right_member_twice():
    # Truth [0, 1, 2]. A is right on rows 0 and 1, wrong on row 2 (0.6 vs 0.4);
    # B is right on row 2 only, and wrong on row 0 with full confidence; C is wrong
    # everywhere. A+B still misses row 0; A twice with B once gets every row.
    y = np.array([0, 1, 2])
    a = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.6, 0.0, 0.4]])
    b = np.array([[0.0, 1.0, 0.0], [0.7, 0.3, 0.0], [0.0, 0.0, 1.0]])
    c = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    counts = greedy_selection([a, b, c], y, np.ones(3, bool), rounds=2, init=1)
    assert counts.tolist() == [2, 1, 0]
    assert np.mean(probability_vote([a, b, c], counts).predictions == y) == 1.0
    assert np.mean(probability_vote([a, b, c], np.array([1, 1, 0])).predictions == y) < 1.0


def test_greedy_init_and_eligibility():
    y = np.array([0, 1])
    good, bad = one_hot([0, 1], 2, 0.9), one_hot([1, 0], 2, 0.9)
    counts = greedy_selection([bad, good], y, np.array([True, True]), rounds=0, init=2)
    assert counts.tolist() == [1, 1]  # best two, once each, no rounds
    counts = greedy_selection([bad, good], y, np.array([True, False]), rounds=3)
    assert counts.tolist()[1] == 0  # a filtered member is never picked


def test_filters_keep_above_and_top():
    y = np.array([0, 0, 0, 0])
    votes = np.array([[0, 0, 0, 0], [0, 0, 0, 1], [0, 1, 1, 1]])  # accuracies 1.0, 0.75, 0.25
    assert fit_weights(VoteSpec("hard", keep_above=0.5), votes, None, y).tolist() == [1, 1, 0]
    assert fit_weights(VoteSpec("hard", top=1), votes, None, y).tolist() == [1, 0, 0]
    assert fit_weights(VoteSpec("weighted"), votes, None, y).tolist() == [1.0, 0.75, 0.25]
    with pytest.raises(InputError, match="no member passes"):
        fit_weights(VoteSpec("hard", keep_above=1.01), votes, None, y)


def test_weighted_falls_back_to_labels_without_probabilities():
    spec = VoteSpec("weighted", fixed_weights=(1.0, 3.0))
    result = combine(spec, np.array([1.0, 3.0]), np.array([[0], [1]]), [None, None], [None, None], 2)
    assert result.predictions.tolist() == [1]


def test_kfold_estimate_is_not_above_in_sample_for_selection():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    proba = [rng.dirichlet(np.ones(3), 200) for _ in range(8)]  # members that know nothing
    votes = np.array([p.argmax(1) for p in proba])
    spec = VoteSpec("greedy", rounds=10)
    weights = fit_weights(spec, votes, proba, y)
    in_sample = np.mean(combine(spec, weights, votes, proba, [None] * 8, 3).predictions == y)
    honest = kfold_estimate(spec, votes, proba, y, 3)["value"]
    assert honest < in_sample  # selection on noise flatters itself; the K-fold estimate does not
    assert abs(honest - 1 / 3) < 0.1


def test_kfold_estimate_of_a_keep_above_filter_that_members_pass_on_the_whole_split():
    """Member 0 is right on 15 of 20 rows, member 1 on none: `--keep-above 0.75`
    keeps member 0 on every row, but on the 16 rows of some folds it falls below
    0.75, so there no member passes. There the fold keeps its best member alone
    instead of refusing the vote."""
    y = np.array([0, 1] * 10)
    good = y.copy()
    good[:5] = 1 - good[:5]
    votes = np.array([good, 1 - y])
    spec = VoteSpec("hard", keep_above=0.75)
    assert fit_weights(spec, votes, None, y).tolist() == [1.0, 0.0]  # the vote itself keeps member 0
    # Each fold keeps member 0 (passing, or the best when none passes) and scores
    # it on the rows left out.
    estimate = kfold_estimate(spec, votes, [None, None], y, 2)
    assert estimate == {"metric": "accuracy", "folds": 5, "rows": 20,
                        "value": pytest.approx(np.mean([np.mean(good[rows] == y[rows]) for rows in _folds(y)]))}


def test_disagreement_matrix():
    votes = np.array([[0, 1, 2, 3], [0, 1, 2, 0], [1, 0, 2, 3]])
    matrix = disagreement_matrix(votes)
    assert matrix[0, 1] == 0.25 and matrix[0, 2] == 0.5 and matrix[1, 1] == 0
    assert np.allclose(matrix, matrix.T)


def _folds(y):
    """The five scoring folds kfold_estimate uses (stratified, seed 0)."""
    from sklearn.model_selection import StratifiedKFold

    return [score for _, score in StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(np.zeros(len(y)), y)]


@pytest.mark.parametrize("spec, members, message", [
    (VoteSpec("greedy", rounds=10_001), None, "--rounds must be between 0 and 10000, got 10001"),
    (VoteSpec("greedy", rounds=-1), None, "--rounds must be between 0 and 10000, got -1"),
    (VoteSpec("hard", keep_above=float("nan")), None, "--keep-above nan: must be between 0 and 1 for accuracy"),
    (VoteSpec("hard", top=0), None, "--top must be at least 1, got 0"),
    (VoteSpec("greedy", init=0), None, "--init must be at least 1, got 0"),
    (VoteSpec("greedy", init=4), 3, "--init 4: greedy starts from the best 4 members, but this vote has 3"),
    (VoteSpec("soft", fixed_weights=(1.0, 1.0)), None, "--member-weights is for --method weighted, not soft"),
    (VoteSpec("weighted", fixed_weights=(1.0, float("nan"))), 2,
     "--member-weights: weights must be finite non-negative numbers, not all zero"),
    (VoteSpec("weighted", fixed_weights=(1.0, 2.0)), 3, "--member-weights: 2 weights for 3 members"),
    (VoteSpec("vote"), None, "--method vote: choose one of hard, soft, weighted, greedy, stack"),
])
def test_check_spec_refuses_what_no_vote_can_honour(spec, members, message):
    with pytest.raises(InputError) as refused:
        check_spec(spec, members)
    assert str(refused.value) == message


def test_check_spec_accepts_the_limits():
    check_spec(VoteSpec("greedy", rounds=10_000, init=3, keep_above=1.0, top=1), 3)
    check_spec(VoteSpec("weighted", fixed_weights=(0.0, 2.0)), 2)
