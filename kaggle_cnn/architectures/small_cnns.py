"""The CNNs of the cats-vs-dogs write-up (cats vs dogs at 150x150, CIFAR-10 at 32x32).

basic_cnn is three conv-maxpool-batchnorm blocks and a dense head; the write-up's
grid searched the block widths (32s or 64s for cats/dogs, 128s or 256s for
CIFAR), so they are options. inception_cnn adds the write-up's four-branch inception
block after block 2; residual_cnn adds its 1x1 strided skip connections around
blocks 1 and 2. Pools use 'same' padding so the skips line up at any input size.
"""

from __future__ import annotations

import keras
from keras import layers

from kaggle_cnn.architectures.heads import classifier
from kaggle_cnn.architectures.registry import register
from kaggle_cnn.config import integer

SOURCE = "cats-vs-dogs write-up"
HEAD_LIMITS = {"dense_units": integer(0)}  # 0: no dense layer, the classifier alone


def _block(x, width: int):
    x = layers.Conv2D(width, 3, activation="relu", padding="same")(x)
    x = layers.MaxPooling2D(2, padding="same")(x)
    return layers.BatchNormalization()(x)


def _head(x, n_classes: int, dense_units: int):
    x = layers.Flatten()(x)
    if dense_units:
        x = layers.Dense(dense_units, activation="relu")(x)
    return classifier(n_classes)(x)


@register("basic_cnn", summary="conv-maxpool-batchnorm x3 and a dense head", source=SOURCE,
          limits=HEAD_LIMITS)
def basic_cnn(input_shape, n_classes, *, width1: int = 32, width2: int = 32, width3: int = 32,
              dense_units: int = 512) -> keras.Model:
    """dense_units=0 leaves the head to the classifier alone, as the write-up's CIFAR model."""
    inputs = keras.Input(input_shape)
    x = _block(_block(_block(inputs, width1), width2), width3)
    return keras.Model(inputs, _head(x, n_classes, dense_units), name="basic_cnn")


def _inception(x, width: int):
    """Four parallel branches, concatenated: 1x1; 1x1 then 3x3; 1x1 then 5x5; pool then 1x1."""
    one = layers.Conv2D(width, 1, activation="relu")(x)
    three = layers.Conv2D(width, 3, activation="relu", padding="same")(layers.Conv2D(width, 1, activation="relu")(x))
    five = layers.Conv2D(width, 5, activation="relu", padding="same")(layers.Conv2D(width, 1, activation="relu")(x))
    pooled = layers.Conv2D(width, 1, activation="relu")(layers.MaxPooling2D(2, strides=1, padding="same")(x))
    return layers.Concatenate()([one, three, five, pooled])


@register("inception_cnn", summary="basic_cnn with a four-branch inception block after block 2",
          source=SOURCE, limits=HEAD_LIMITS)
def inception_cnn(input_shape, n_classes, *, width1: int = 32, width2: int = 32, width3: int = 32,
                  inception_width: int = 32, dense_units: int = 512) -> keras.Model:
    inputs = keras.Input(input_shape)
    x = _inception(_block(_block(inputs, width1), width2), inception_width)
    x = _block(x, width3)
    return keras.Model(inputs, _head(x, n_classes, dense_units), name="inception_cnn")


@register("residual_cnn", summary="basic_cnn with 1x1 strided skip connections around blocks 1 and 2",
          source=SOURCE, limits=HEAD_LIMITS)
def residual_cnn(input_shape, n_classes, *, width1: int = 32, width2: int = 32, width3: int = 32,
                 dense_units: int = 512) -> keras.Model:
    inputs = keras.Input(input_shape)
    x = layers.Add()([_block(inputs, width1), layers.Conv2D(width1, 1, strides=2, padding="same")(inputs)])
    x = layers.Add()([_block(x, width2), layers.Conv2D(width2, 1, strides=2, padding="same")(x)])
    x = _block(x, width3)
    return keras.Model(inputs, _head(x, n_classes, dense_units), name="residual_cnn")
