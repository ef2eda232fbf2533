"""The classifier every architecture ends with.

Two classes get one sigmoid unit trained with binary cross-entropy (the cats-vs-dogs write-up's
cats vs dogs); more get a softmax. Downstream nothing changes: predictions are
stored as one probability column per class either way
(kaggle_cnn.training.class_probabilities).

Multi-label data (any number of labels per image) gets one sigmoid unit per label,
each trained with binary cross-entropy: the labels are independent yes/no
questions, so their probabilities need not sum to 1. Every architecture builds its
head through `classifier`, so training chooses it by building under
`multi_label_head()` rather than by a flag through each builder.

A numeric target (--regression, --ordinal) has one "class", the target column:
`classifier(1)` is then `regressor()`, one linear unit trained with mean squared
error on the standardised target (kaggle_cnn.training.numeric_targets).
"""

from __future__ import annotations

import contextlib
import contextvars

from keras import layers

_MULTI_LABEL = contextvars.ContextVar("multi_label_head", default=False)


@contextlib.contextmanager
def multi_label_head(enabled: bool = True):
    """Models built inside end with a sigmoid unit per label (when `enabled`)."""
    token = _MULTI_LABEL.set(bool(enabled))
    try:
        yield
    finally:
        _MULTI_LABEL.reset(token)


def classifier(n_classes: int) -> layers.Layer:
    """Always float32, also under mixed precision: a softmax in float16 loses the
    small probabilities that log-loss and the soft vote read."""
    if n_classes == 1:
        return regressor()
    if _MULTI_LABEL.get():
        return layers.Dense(n_classes, activation="sigmoid", name="predictions", dtype="float32")
    if n_classes == 2:
        return layers.Dense(1, activation="sigmoid", name="predictions", dtype="float32")
    return layers.Dense(n_classes, activation="softmax", name="predictions", dtype="float32")


def regressor() -> layers.Layer:
    """One linear unit, float32: the standardised number a regression predicts."""
    return layers.Dense(1, activation=None, name="predictions", dtype="float32")
