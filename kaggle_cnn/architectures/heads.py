"""The classifier every architecture ends with.

Two classes get one sigmoid unit trained with binary cross-entropy (the cats-vs-dogs write-up's
cats vs dogs); more get a softmax. Downstream nothing changes: predictions are
stored as one probability column per class either way
(kaggle_cnn.training.class_probabilities).
"""

from __future__ import annotations

from keras import layers


def classifier(n_classes: int) -> layers.Layer:
    """Always float32, also under mixed precision: a softmax in float16 loses the
    small probabilities that log-loss and the soft vote read."""
    if n_classes == 2:
        return layers.Dense(1, activation="sigmoid", name="predictions", dtype="float32")
    return layers.Dense(n_classes, activation="softmax", name="predictions", dtype="float32")
