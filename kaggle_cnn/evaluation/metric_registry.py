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
    f1_micro   F1 of every (row, label) decision pooled         higher is better
    f1_samples F1 of each row's labels, averaged over rows      higher is better
    f2_samples F2 (recall weighted 4x) of each row's labels,    higher is better
               averaged over rows (Planet's metric)
    mean_auc   ROC AUC of each label's column, averaged         higher is better
               (RANZCR CLiP's metric)

Multi-label truth (a bool rows x labels matrix, kaggle_cnn.labels.is_multi_label)
is scored against per-label probabilities, not normalised across labels: a label
is predicted when its probability reaches its decision threshold (0.5, or the
per-label thresholds a vote fits), and a row where none does gets its likeliest
label, as submissions are written. There accuracy is the share of rows whose
labels are all right, log-loss the mean binary cross-entropy of every cell, and
roc_auc the same column-wise mean as mean_auc. Single-label truth scored by the
multi-label metrics is one-hot: f1_micro is then accuracy.
    rmse       root mean squared error of numeric predictions  lower is better
               (regression: PetFinder Pawpularity's metric)
    mae        mean absolute error of numeric predictions      lower is better
    map@K      mean average precision at K of the K likeliest   higher is better
               classes against the true one: 1/rank when it is
               among them, else 0 (whale-categorization: map@5)

Numeric truth (float targets, kaggle_cnn.labels.is_numeric_target) is scored
against one column of predicted numbers: rmse and mae directly, qwk (ordinal
grades) after rounding each prediction to the nearest grade within the truth's
range (a vote's fitted cut-points decide the grades instead), accuracy as the
share of rows whose rounded prediction is the rounded truth.

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

from kaggle_cnn.config import METRICS, NUMERIC_METRICS, PROBABILITY_CLIP, metric_family
from kaggle_cnn.errors import InputError, one_line
from kaggle_cnn.labels import is_multi_label, is_numeric_target
from kaggle_cnn.store.submissions import top_classes


def accuracy(truth: np.ndarray, predictions: np.ndarray) -> float:
    """Share of rows whose prediction is the true class index. `predictions`:
    class indices, or rows x classes probabilities (their top class). Multi-label
    truth: the share of rows whose every label is decided right (probabilities at 0.5)."""
    predictions = np.asarray(predictions)
    if is_multi_label(np.asarray(truth)):
        return float(np.mean((decide(predictions) == truth).all(axis=1)))
    if predictions.ndim == 2:
        predictions = predictions.argmax(axis=1)
    return float(np.mean(predictions == np.asarray(truth)))


def log_loss(truth: np.ndarray, proba: np.ndarray) -> float:
    """Mean -log p(true class) of rows x classes probabilities, each clipped to
    [PROBABILITY_CLIP, 1 - PROBABILITY_CLIP]. Multi-label truth: the mean binary
    cross-entropy of every (row, label) cell, as the sigmoid head is trained by."""
    if is_multi_label(np.asarray(truth)):
        p = np.clip(np.asarray(proba, dtype=np.float64), PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
        return float(-np.mean(np.where(truth, np.log(p), np.log(1 - p))))
    picked = np.asarray(proba, dtype=np.float64)[np.arange(len(truth)), np.asarray(truth, dtype=np.int64)]
    return float(-np.mean(np.log(np.clip(picked, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP))))


def decide(proba: np.ndarray, thresholds: float | np.ndarray = 0.5) -> np.ndarray:
    """Multi-label decisions as a submission writes them (store.submissions.decisions):
    each label whose probability reaches its threshold (one for all, or one per label
    column), and the likeliest where none does, so a run is scored on what it would
    submit. Decisions given as booleans pass through."""
    from kaggle_cnn.store.submissions import decisions

    proba = np.asarray(proba)
    if proba.dtype == bool:
        return proba
    return decisions(proba, thresholds)


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
        classes; `predicted`: class indices (default the top class of `proba`).
        Multi-label truth (bool rows x labels): `proba` per label, `predicted` the
        decisions (default each probability at 0.5)."""
        if is_multi_label(np.asarray(truth)):
            return self._multi_label_value(np.asarray(truth), proba, predicted)
        if is_numeric_target(np.asarray(truth)):
            return self._numeric_value(np.asarray(truth), proba if predicted is None else predicted)
        if self.name in NUMERIC_METRICS:
            raise InputError(f"the {self.name} metric scores numeric targets (--regression or --ordinal), and "
                             "these rows are classes")
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

    def _numeric_value(self, truth: np.ndarray, predicted) -> float:
        """Numbers against numbers: `predicted` one value a row (or a column of them)."""
        if self.name not in (*NUMERIC_METRICS, "qwk", "accuracy"):
            raise InputError(f"the {self.name} metric is for classes; numeric targets are scored by rmse, mae "
                             "or (grades) qwk")
        predicted = np.asarray(predicted, dtype=np.float64).reshape(len(truth), -1)[:, 0]
        if self.name == "rmse":
            return float(np.sqrt(np.mean((predicted - truth) ** 2)))
        if self.name == "mae":
            return float(np.mean(np.abs(predicted - truth)))
        grades = np.clip(np.round(predicted), truth.min(), truth.max()).astype(np.int64)
        if self.name == "accuracy":
            return float(np.mean(grades == np.round(truth)))
        return quadratic_kappa(np.round(truth).astype(np.int64), grades)

    def _multi_label_value(self, truth: np.ndarray, proba, predicted) -> float:
        if self.name == "qwk" or self.k is not None:
            what = "one ordinal label" if self.k is None else "one true label, ranked among the K likeliest,"
            raise InputError(f"the {self.name} metric is for {what} per row, and these rows are multi-label")
        if self.needs_probabilities and proba is None:
            raise InputError(f"the {self.name} metric needs probabilities, and these predictions are labels only")
        proba = None if proba is None else np.asarray(proba, dtype=np.float64)
        decided = decide(proba if predicted is None else predicted)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return float(_MULTI_LABEL_SCORERS[self.name](truth, decided, proba))
        except ValueError as error:  # e.g. a label column with one value only: its AUC is undefined
            raise InputError(f"cannot compute {self.name} on these {len(truth)} rows: {one_line(error, 160)}") from None


def quadratic_kappa(truth: np.ndarray, grades: np.ndarray) -> float:
    """Cohen's kappa with quadratic weights of whole grades, over the grades either
    side holds (scikit-learn's, as APTOS 2019's grader calls it)."""
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # one grade only: 0/0, NaN
        warnings.simplefilter("ignore", UserWarning)
        return float(cohen_kappa_score(truth, grades, weights="quadratic"))


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


def _one_hot(n_classes, *indices):
    return [np.eye(n_classes, dtype=bool)[np.asarray(i, dtype=np.int64)] for i in indices]


def _f_score(average: str, beta: float = 1.0):
    def score(truth, predicted, proba, n_classes):
        return _f_multi_label(average, beta)(*_one_hot(n_classes, truth, predicted), proba)
    return score


def _f_multi_label(average: str, beta: float = 1.0):
    def score(truth, decided, proba):
        from sklearn.metrics import fbeta_score

        return fbeta_score(truth, decided, beta=beta, average=average, zero_division=0)
    return score


def _mean_auc(truth, decided, proba):
    """Each label column's ROC AUC, averaged (scikit-learn's macro average of a multi-label matrix)."""
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(truth, proba, average="macro")


def _mean_auc_single(truth, predicted, proba, n_classes):
    return _mean_auc(_one_hot(n_classes, truth)[0], None, proba)


_SCORERS = {"accuracy": _accuracy, "logloss": _logloss, "f1_macro": _f1_macro, "roc_auc": _roc_auc, "qwk": _qwk,
            "f1_micro": _f_score("micro"), "f1_samples": _f_score("samples"),
            "f2_samples": _f_score("samples", 2.0), "mean_auc": _mean_auc_single}
_MULTI_LABEL_SCORERS = {
    "accuracy": lambda truth, decided, proba: accuracy(truth, decided),
    "logloss": lambda truth, decided, proba: log_loss(truth, proba),
    "f1_macro": _f_multi_label("macro"), "roc_auc": _mean_auc,
    "f1_micro": _f_multi_label("micro"), "f1_samples": _f_multi_label("samples"),
    "f2_samples": _f_multi_label("samples", 2.0), "mean_auc": _mean_auc,
}
def _map_at_k(truth, predicted, proba, n_classes, k):
    # One true class a row: its average precision at k is 1/rank among the k
    # likeliest (distinct) classes, or 0: mle-bench's average_precision_at_k
    # (kaggle_cnn.evaluation.top_k) on rows as a top-k submission lists them.
    hits = top_classes(proba, k) == truth[:, None]
    return float(np.mean((hits / np.arange(1, hits.shape[1] + 1)).sum(axis=1)))



REGISTRY: dict[str, Metric] = {
    "accuracy": Metric("accuracy", "accuracy", True, False, 0.0, 1.0),
    "logloss": Metric("logloss", "log-loss", False, True, 0.0, math.inf),
    "f1_macro": Metric("f1_macro", "macro F1", True, False, 0.0, 1.0),
    "roc_auc": Metric("roc_auc", "ROC AUC", True, True, 0.0, 1.0),
    "qwk": Metric("qwk", "quadratic weighted kappa", True, False, -1.0, 1.0),
    "f1_micro": Metric("f1_micro", "micro F1", True, False, 0.0, 1.0),
    "f1_samples": Metric("f1_samples", "F1 averaged over rows", True, False, 0.0, 1.0),
    "f2_samples": Metric("f2_samples", "F2 averaged over rows", True, False, 0.0, 1.0),
    "mean_auc": Metric("mean_auc", "mean column-wise ROC AUC", True, True, 0.0, 1.0),
    "rmse": Metric("rmse", "root mean squared error", False, False, 0.0, math.inf),
    "mae": Metric("mae", "mean absolute error", False, False, 0.0, math.inf),
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
    return Metric(name, f"MAP@{k}", True, True, 0.0, 1.0, k=k)


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
