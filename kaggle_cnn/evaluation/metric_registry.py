"""The competition's metric: what runs are kept by, votes are weighted and
selected by, and reports lead with.

Each metric is scikit-learn's implementation, applied to class indices and, for
the metrics that need them, one probability column per class in the same order:

    accuracy   share of rows whose top class is right           higher is better
    logloss    mean -log p(true class), probabilities clipped   lower is better
    f1_macro   unweighted mean of the per-class F1              higher is better
    roc_auc    binary: AUC of the second class's probability;   higher is better
               more classes: one-vs-rest, macro-averaged
    qwk        Cohen's kappa with quadratic weights, classes    higher is better
               in their sorted order (ordinal labels: grades)
    map@K      mean average precision at K of the K likeliest   higher is better
               classes against the true one: 1/rank when it is
               among them, else 0 (whale-categorization: map@5)

map@K is a family: any whole K of at least 1 (map@5), parsed here once
(get_metric), and never more than the number of classes (Metric.check_classes).

A workspace records the metric its runs were judged by (kaggle_cnn.store.validation),
so every run and vote in it compares on the same scale. Every score the toolkit
computes comes from here: `accuracy` and `log_loss` (a run's val_accuracy and
val_loss too), and which way is better (`Metric.greater_is_better`).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np

from kaggle_cnn.config import METRICS, PROBABILITY_CLIP, metric_family
from kaggle_cnn.errors import InputError, one_line
from kaggle_cnn.store.submissions import top_classes


def accuracy(truth: np.ndarray, predictions: np.ndarray) -> float:
    """Share of rows whose prediction is the true class index. `predictions`:
    class indices, or rows x classes probabilities (their top class)."""
    predictions = np.asarray(predictions)
    if predictions.ndim == 2:
        predictions = predictions.argmax(axis=1)
    return float(np.mean(predictions == np.asarray(truth)))


def log_loss(truth: np.ndarray, proba: np.ndarray) -> float:
    """Mean -log p(true class) of rows x classes probabilities, each clipped to
    [PROBABILITY_CLIP, 1 - PROBABILITY_CLIP]."""
    picked = np.asarray(proba, dtype=np.float64)[np.arange(len(truth)), np.asarray(truth, dtype=np.int64)]
    return float(-np.mean(np.log(np.clip(picked, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP))))


@dataclass(frozen=True)
class Metric:
    name: str
    title: str  # as printouts name it
    greater_is_better: bool
    needs_probabilities: bool
    low: float  # the values it can take (a --keep-above outside them is refused)
    high: float
    k: int | None = None  # map@K: how many ranked classes a row's answer holds

    def check_classes(self, n_classes: int, option: str = "--metric") -> None:
        """Refuse a map@K whose K is above the number of classes it would rank."""
        if self.k is not None and self.k > n_classes:
            raise InputError(f"{option} {self.name}: K is {self.k}, more than the {n_classes} classes to rank")

    @property
    def keeps(self) -> str:
        """How --keep-above reads for this metric."""
        return "at or above" if self.greater_is_better else "at or below"

    @property
    def sign(self) -> str:
        """--keep-above as a comparison: >= or, for a loss, <=."""
        return ">=" if self.greater_is_better else "<="

    def best(self, values) -> float:
        """The best of these scores: the highest, or for a loss the lowest."""
        return float(max(values, key=self.goodness))

    def passes(self, value: float, threshold: float | None) -> bool:
        """Whether a score clears --keep-above: at or above it, or, for a loss, at or
        below (None: no threshold, every run is kept)."""
        if threshold is None:
            return True
        return bool(value >= threshold) if self.greater_is_better else bool(value <= threshold)

    def goodness(self, value: float) -> float:
        """The value turned so that higher is always better (a loss is negated)."""
        return float(value) if self.greater_is_better else -float(value)

    def value(self, truth: np.ndarray, proba: np.ndarray | None = None, predicted: np.ndarray | None = None,
              n_classes: int | None = None) -> float:
        """The metric of predictions against true class indices. `proba`: rows x
        classes; `predicted`: class indices (default the top class of `proba`)."""
        truth = np.asarray(truth, dtype=np.int64)
        if proba is not None:
            proba = np.asarray(proba, dtype=np.float64)  # float32 rows sum to 1 only nearly
            proba = proba / proba.sum(axis=1, keepdims=True).clip(min=PROBABILITY_CLIP)
            n_classes = proba.shape[1]
        if self.needs_probabilities and proba is None:
            raise InputError(f"the {self.name} metric needs probabilities, and these predictions are labels only")
        if predicted is None:
            predicted = proba.argmax(axis=1)
        n_classes = n_classes or int(max(truth.max(), np.max(predicted))) + 1
        try:
            # scikit-learn's UserWarnings (ROC AUC or kappa on rows of one class) would print as
            # raw warnings; the value is NaN and the caller says so, once, in its own line
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                scorer = _SCORERS[self.name] if self.k is None else functools.partial(_map_at_k, k=self.k)
                return float(scorer(truth, np.asarray(predicted, dtype=np.int64), proba, n_classes))
        except ValueError as error:  # e.g. ROC AUC on rows of one class only
            raise InputError(f"cannot compute {self.name} on these {len(truth)} rows: {one_line(error, 160)}") from None


def _accuracy(truth, predicted, proba, n_classes):
    return accuracy(truth, predicted)


def _logloss(truth, predicted, proba, n_classes):
    return log_loss(truth, proba)


def _f1_macro(truth, predicted, proba, n_classes):
    from sklearn.metrics import f1_score

    return f1_score(truth, predicted, labels=np.arange(n_classes), average="macro", zero_division=0)


def _roc_auc(truth, predicted, proba, n_classes):
    from sklearn.metrics import roc_auc_score

    if n_classes == 2:
        return roc_auc_score(truth, proba[:, 1])
    return roc_auc_score(truth, proba, multi_class="ovr", average="macro", labels=np.arange(n_classes))


def _qwk(truth, predicted, proba, n_classes):
    from sklearn.metrics import cohen_kappa_score

    return cohen_kappa_score(truth, predicted, weights="quadratic", labels=np.arange(n_classes))


def _map_at_k(truth, predicted, proba, n_classes, k):
    # One true class a row: its average precision at k is 1/rank among the k
    # likeliest (distinct) classes, or 0: mle-bench's average_precision_at_k
    # (kaggle_cnn.evaluation.top_k) on rows as a top-k submission lists them.
    hits = top_classes(proba, k) == truth[:, None]
    return float(np.mean((hits / np.arange(1, hits.shape[1] + 1)).sum(axis=1)))


_SCORERS = {"accuracy": _accuracy, "logloss": _logloss, "f1_macro": _f1_macro, "roc_auc": _roc_auc, "qwk": _qwk}

REGISTRY: dict[str, Metric] = {
    "accuracy": Metric("accuracy", "accuracy", True, False, 0.0, 1.0),
    "logloss": Metric("logloss", "log-loss", False, True, 0.0, math.inf),
    "f1_macro": Metric("f1_macro", "macro F1", True, False, 0.0, 1.0),
    "roc_auc": Metric("roc_auc", "ROC AUC", True, True, 0.0, 1.0),
    "qwk": Metric("qwk", "quadratic weighted kappa", True, False, -1.0, 1.0),
}
MAP_AT = "map@K"  # a family, not a metric: get_metric("map@5") makes one
FAMILIES = (MAP_AT,)
if (*REGISTRY, *FAMILIES) != METRICS:
    raise RuntimeError("kaggle_cnn.config.METRICS and the metric registry must name the same metrics")


def get_metric(name: str | None, option: str = "--metric") -> Metric:
    """A metric by name (None: accuracy); an unknown name is one line naming the choices."""
    if name is None:
        return REGISTRY["accuracy"]
    family = metric_family(name)
    if family is None or name in FAMILIES:
        raise InputError(f"{option} {one_line(str(name), 40)}: choose one of {', '.join(METRICS)} (map@K: e.g. map@5)")
    if family == MAP_AT:
        return _map_metric(name, option)
    return REGISTRY[name]


@functools.lru_cache(maxsize=None)
def _map_metric(name: str, option: str) -> Metric:
    k = name.split("@", 1)[1]
    if not (k.isascii() and k.isdigit()) or int(k) < 1:
        raise InputError(f"{option} {one_line(name, 40)}: K of map@K must be a whole number of at least 1 (map@5)")
    k = int(k)
    name = f"map@{k}"  # map@05 is map@5
    return Metric(name, f"MAP@{k}", True, True, 0.0, 1.0, k)


def check_threshold(metric: Metric, value: float | None, option: str = "--keep-above") -> float | None:
    """A --keep-above within the values the metric takes (a log-loss of 0.3, an accuracy of 0.9)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not metric.low <= value <= metric.high:
        high = "" if math.isinf(metric.high) else f" and {metric.high:g}"
        span = f"between {metric.low:g}{high}" if high else f"at least {metric.low:g}"
        raise InputError(f"{option} {value}: must be {span} for {metric.name}")
    return float(value)


def require_probabilities(metric: Metric, lacking: list[str]) -> None:
    """Refuse a metric that needs probabilities when some predictions are labels only (named)."""
    if metric.needs_probabilities and lacking:
        more = f" (and {len(lacking) - 1} more)" if len(lacking) > 1 else ""
        raise InputError(f"--metric {metric.name} needs probabilities, but {lacking[0]}{more} has labels only")
