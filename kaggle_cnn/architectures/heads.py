"""The classifier every architecture ends with.

Two classes get one sigmoid unit trained with binary cross-entropy (the cats-vs-dogs write-up's
cats vs dogs); more get a softmax. Downstream nothing changes: predictions are
stored as one probability column per class either way
(kaggle_cnn.training.class_probabilities).
"""

from __future__ import annotations

from keras import layers


def classifier(n_classes: int) -> layers.Layer:
    if n_classes == 2:
        return layers.Dense(1, activation="sigmoid", name="predictions")
    return layers.Dense(n_classes, activation="softmax", name="predictions")
