"""`kcnn vote --method stack`: a meta-model learns how to combine the members.

A multinomial logistic regression reads every member's probability of every class
and predicts the class. It is fitted on the honest rows only (the hold-out
split, or every row out of fold), its strength of regularisation C chosen by its
own inner cross-validation, and then applied to the members' test probabilities.
Unlike a weighted mean, it can learn that a member is systematically wrong (one
that calls every 7 a 1) and undo it.

Its estimate is honest: the whole procedure (C chosen, meta-model fitted) runs on
K-1 folds of the honest rows and predicts the fold left out; the out-of-fold
predictions are scored once by the vote's metric. scikit-learn is loaded here
only, when a stack is asked for. No TensorFlow here.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metric_registry import get_metric

if TYPE_CHECKING:
    from kaggle_cnn.ensemble.pool import Pool

# Raw probabilities: on a real slice (three one-epoch runs, 600 hold-out rows of the MNIST demo)
# they gave out-of-fold accuracy 0.977 and log-loss 0.113, where log-probabilities gave 0.963 and
# 0.114 (0.958 and 0.119 standardised), and converged several times more slowly.
FEATURES = "proba"
FEATURE_KINDS = ("log_proba", "proba")
FLOOR = 1e-6  # log_proba features clip here: below it a member's certainty is noise to the meta-model
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)  # inverse regularisation strengths the inner folds choose from
ESTIMATE_FOLDS = 5  # outer folds of the estimate (fewer when a class has fewer rows)
INNER_FOLDS = 3  # folds that choose C (fewer when a class has fewer rows)
MIN_CLASS_ROWS = 3  # of every class: one per outer fold left out, and two inner folds on the rest
MIN_ROWS = 20  # below this a meta-model with members x classes features is guesswork
SEED = 0  # folds are shuffled by it: the same rows give the same stack
TIE_RULE = "highest stacked probability; exactly equal probabilities go to the smallest label"


@dataclass
class MetaModel:
    """A fitted stack, re-appliable by hand: probabilities = softmax(features @ coef.T + intercept),
    features = each member's probability of every class (logged, for log_proba), member after member."""

    members: list[str]
    classes: list[str]
    features: str
    C: float
    coef: np.ndarray  # (classes, members x classes)
    intercept: np.ndarray  # (classes,)

    def apply(self, proba: list[np.ndarray]) -> np.ndarray:
        """The stacked probabilities (rows x classes) of the members' probabilities, in `members` order."""
        logits = features(proba, self.features) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def as_json(self) -> dict[str, Any]:
        return {"members": self.members, "classes": self.classes, "features": self.features, "floor": FLOOR,
                "C": self.C, "coef": self.coef.tolist(), "intercept": self.intercept.tolist(),
                "apply": "softmax(features @ coef.T + intercept); features: for each member in order, its "
                         + ("log(max(p, floor))" if self.features == "log_proba" else "p")
                         + " of each class in order"}


@dataclass
class Stack:
    """A stack fitted on the honest rows, with what the vote reports of it."""

    model: MetaModel
    test_proba: np.ndarray
    val_proba: np.ndarray  # in-sample: the meta-model on the rows it was fitted on
    estimate: dict[str, Any]


def features(proba: list[np.ndarray], kind: str = FEATURES) -> np.ndarray:
    """Members' probabilities side by side (rows x members*classes), logged for log_proba."""
    joined = np.hstack([np.asarray(p, dtype=np.float64) for p in proba])
    return _logged(joined) if kind == "log_proba" else joined


def check_rows(truth: np.ndarray, classes: list[str], description: str) -> None:
    """Refuse, naming the counts, honest rows too few to fit and cross-validate a stack on."""
    counts = np.bincount(truth, minlength=len(classes))
    if len(truth) < MIN_ROWS:
        raise InputError(f"--method stack fits its meta-model on the honest rows, and there are {description}: "
                         f"it needs at least {MIN_ROWS}")
    short = [(classes[c], int(n)) for c, n in enumerate(counts) if n < MIN_CLASS_ROWS]
    if short:
        shown = ", ".join(f"class {label} has {n}" for label, n in short[:3])
        more = f" (and {len(short) - 3} more classes)" if len(short) > 3 else ""
        raise InputError(f"--method stack needs at least {MIN_CLASS_ROWS} honest rows of every class for its "
                         f"folds, and of {description}, {shown}{more}")


def folds(truth: np.ndarray) -> tuple[int, int]:
    """(outer folds of the estimate, inner folds choosing C): stratified, so each
    needs a row of the smallest class in every fold left out."""
    smallest = int(np.bincount(truth)[np.unique(truth)].min())
    return min(ESTIMATE_FOLDS, smallest), min(INNER_FOLDS, smallest - 1)


def estimator(inner: int, kind: str = FEATURES):
    """The meta-model before fitting: logistic regression (multinomial for three
    classes or more), C chosen by log-loss on `inner` stratified folds (a proper
    score is steadier than accuracy on few rows), deterministic."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    inner_cv = StratifiedKFold(n_splits=inner, shuffle=True, random_state=SEED)
    # newton-cg: the same multinomial optimum as lbfgs, reached in a few steps on these few features
    # (several times faster on the near-separable rows a good member gives)
    model = LogisticRegression(solver="newton-cg", max_iter=1000, random_state=SEED)
    search = GridSearchCV(model, {"C": list(C_GRID)}, cv=inner_cv, scoring="neg_log_loss")
    # the features made inside the pipeline, so cross-validation runs the very procedure the vote runs
    return make_pipeline(FunctionTransformer(_logged if kind == "log_proba" else None), search)


def _logged(joined: np.ndarray) -> np.ndarray:
    return np.log(np.clip(joined, FLOOR, 1.0))


def fit(val_proba: list[np.ndarray], truth: np.ndarray, members: list[str], classes: list[str],
        kind: str = FEATURES) -> MetaModel:
    """The meta-model fitted on every honest row (`truth`: indices into `classes`, every class present)."""
    _, inner = folds(truth)
    pipeline = estimator(inner, kind)
    with _quiet():
        pipeline.fit(features(val_proba, "proba"), truth)
    search = pipeline[-1]
    coef, intercept = search.best_estimator_.coef_, search.best_estimator_.intercept_
    if coef.shape[0] == 1:  # two classes: sigmoid(z) is softmax([0, z])
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    return MetaModel(members, classes, kind, float(search.best_params_["C"]), coef, intercept)


def estimate(val_proba: list[np.ndarray], truth: np.ndarray, metric: str | None, kind: str = FEATURES) -> dict:
    """Out-of-fold stacked probabilities of every honest row (the whole procedure
    refitted on the other folds), scored once by the metric."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    outer, inner = folds(truth)
    with _quiet():
        proba = cross_val_predict(estimator(inner, kind), features(val_proba, "proba"), truth,
                                  cv=StratifiedKFold(n_splits=outer, shuffle=True, random_state=SEED),
                                  method="predict_proba")
    chosen = get_metric(metric)
    return {"metric": chosen.name, "value": chosen.value(truth, proba, proba.argmax(axis=1), proba.shape[1]),
            "folds": outer, "inner_folds": inner, "rows": int(len(truth)), "kind": "cross_val_predict"}


def stack(pool: Pool, weights: np.ndarray, metric: str | None) -> Stack:
    """Fit the stack of the members with a non-zero weight on the pool's honest
    rows, and apply it to their test probabilities."""
    active = np.flatnonzero(np.asarray(weights) > 0).tolist()
    check_rows(pool.val.truth, pool.classes, pool.val.description)
    val = [pool.val.proba[m] for m in active]
    model = fit(val, pool.val.truth, [pool.members[m].name for m in active], list(pool.classes))
    return Stack(model, model.apply([pool.proba[m] for m in active]), model.apply(val),
                 estimate(val, pool.val.truth, metric))


@contextmanager
def _quiet():
    """scikit-learn's convergence notes on tiny folds are not the user's business; the estimate says how it went."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
