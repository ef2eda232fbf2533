"""Class labels as text, spelled one way wherever they are read: a training CSV,
an answers CSV, a vote member or a submission. Without this, `7.0` written by one
tool and `7` by another would be two classes.

The rule: surrounding whitespace goes; a whole number written with a decimal point
(`7.0`, `7.00`, `-3.`, `+7`) becomes its plain integer spelling (`7`, `-3`);
everything else is kept exactly, `07` and `1e3` included, since zero-padded codes
(`007`) are names a grader compares as written. No imports beyond re: every layer
that reads labels uses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WHOLE_NUMBER = re.compile(r"([+-]?)(0|[1-9]\d*)(?:\.0*)?")


def normalise_label(value: object) -> str:
    """One label's canonical text (see the module's rule)."""
    text = str(value).strip()
    match = _WHOLE_NUMBER.fullmatch(text)
    if match is None:
        return text
    sign, digits = match.groups()
    return digits if sign != "-" or digits == "0" else f"-{digits}"


def normalise_labels(values: Iterable) -> list[str]:
    """Every label's canonical text, in order."""
    return [normalise_label(v) for v in values]


def sorted_labels(labels: Iterable[str]) -> list[str]:
    """Distinct labels in their natural order: numeric when they all are numbers,
    else alphabetical. This order is what 'the smallest label' means in a tie."""
    distinct = sorted(set(map(str, labels)))
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return distinct


# Task kinds: one class per row, or any number of labels per row (tags).
SINGLE_LABEL = "single_label"
MULTI_LABEL = "multi_label"


def is_multi_label(y) -> bool:
    """Whether targets are a multi-label indicator matrix (rows x labels of
    booleans). Single-label targets are class indices; a teacher's soft targets
    are float probabilities, so the boolean dtype is what tells the two apart."""
    return getattr(y, "ndim", 0) == 2 and y.dtype == bool


def looks_like_tags(values: Iterable) -> bool:
    """Whether a label column holds space-separated tags (Planet's `clear primary`,
    Plant Pathology 2021's `scab frog_eye_leaf_spot`, iMet's `13 405 1092`) rather
    than class names with spaces (`Common Chickweed`): some value holds several
    words, and either those words are fewer than the distinct values (tags combine;
    names rarely share words) or a word of such a value is a value on its own
    (`scab` and `scab frog_eye_leaf_spot`)."""
    distinct = {str(v).strip() for v in values}
    several = [v.split() for v in distinct if len(v.split()) > 1]
    if not several:
        return False
    words = {w for v in distinct for w in v.split()}
    return len(words) < len(distinct) or any(w in distinct for split in several for w in split)


def label_counts(y, n_classes: int) -> list[int]:
    """Training rows per class (single-label) or per label (multi-label)."""
    import numpy as np

    y = np.asarray(y)
    if is_numeric_target(y):  # one target column: every row has a value
        return [len(y)]
    if is_multi_label(y):
        return y.sum(axis=0).astype(int).tolist()
    return np.bincount(y, minlength=n_classes).tolist()


# Numeric targets: a number per row (REGRESSION, e.g. a score 1-100), or a whole
# grade per row whose order matters (ORDINAL, e.g. grades 0-4). Both train one
# linear unit on the standardised number; their targets are a float vector.
REGRESSION = "regression"
ORDINAL = "ordinal"
NUMERIC_TASKS = (REGRESSION, ORDINAL)


def is_numeric_target(y) -> bool:
    """Whether targets are numbers to predict (one float per row), not class
    indices (int), a multi-label matrix (bool) or a teacher's soft targets (2-D)."""
    import numpy as np

    return getattr(y, "ndim", 0) == 1 and np.issubdtype(y.dtype, np.floating)
