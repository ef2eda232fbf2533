"""The CIFAR-100 write-up's from-scratch CNNs for 32x32 colour images (Tiny-ImageNet, CIFAR),
and the 28x28 Kaggle write-up's small Inception network.

The seeds show these only as figures, so their layer widths are ours, chosen as
the published designs they name: cifar100_cnn is the widely used Keras CIFAR-100
design (conv pairs of 128, 256, 512 with pooling and dropout) with the batch norm
the CIFAR-100 write-up added; alexnet keeps AlexNet's five conv layers and two dense layers
with 3x3 kernels and stride 1 for 32x32 inputs; small_inception is a GoogLeNet-
style stem with four inception modules and global pooling. Widths are options.
"""

from __future__ import annotations

import keras
from keras import layers

from kaggle_cnn.architectures.heads import classifier
from kaggle_cnn.architectures.registry import register


def _conv_bn(x, width: int, kernel: int = 3):
    x = layers.Conv2D(width, kernel, padding="same", activation="relu")(x)
    return layers.BatchNormalization()(x)


@register("cifar100_cnn", summary="conv pairs 128-256-512 with batch norm, pooling and dropout",
          source="CIFAR-100 write-up")
def cifar100_cnn(input_shape, n_classes, *, width: int = 128, dropout: float = 0.25, dense_units: int = 1024,
                 dense_dropout: float = 0.5) -> keras.Model:
    inputs = keras.Input(input_shape)
    x = inputs
    for factor in (1, 2, 4):
        x = _conv_bn(_conv_bn(x, width * factor), width * factor)
        x = layers.MaxPooling2D(2, padding="same")(x)
        x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dense_dropout)(layers.Dense(dense_units, activation="relu")(x))
    return keras.Model(inputs, classifier(n_classes)(x), name="cifar100_cnn")


@register("alexnet", summary="AlexNet's 5 conv + 2 dense layers, adapted to 32x32 inputs",
          source="CIFAR-100 write-up")
def alexnet(input_shape, n_classes, *, dense_units: int = 1024, dropout: float = 0.5) -> keras.Model:
    """dense_units: 4096 in the original at 224x224; 1024 suits 32x32 inputs."""
    inputs = keras.Input(input_shape)
    x = layers.MaxPooling2D(2, padding="same")(_conv_bn(inputs, 96))
    x = layers.MaxPooling2D(2, padding="same")(_conv_bn(x, 256))
    x = _conv_bn(_conv_bn(x, 384), 384)
    x = layers.MaxPooling2D(2, padding="same")(_conv_bn(x, 256))
    x = layers.Flatten()(x)
    for _ in range(2):
        x = layers.Dropout(dropout)(layers.Dense(dense_units, activation="relu")(x))
    return keras.Model(inputs, classifier(n_classes)(x), name="alexnet")


def _inception_module(x, ones: int, threes: tuple[int, int], fives: tuple[int, int], pool: int):
    """GoogLeNet's module: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 pool -> 1x1, concatenated."""
    a = layers.Conv2D(ones, 1, activation="relu")(x)
    b = layers.Conv2D(threes[1], 3, padding="same", activation="relu")(layers.Conv2D(threes[0], 1, activation="relu")(x))
    c = layers.Conv2D(fives[1], 5, padding="same", activation="relu")(layers.Conv2D(fives[0], 1, activation="relu")(x))
    d = layers.Conv2D(pool, 1, activation="relu")(layers.MaxPooling2D(3, strides=1, padding="same")(x))
    return layers.Concatenate()([a, b, c, d])


@register("small_inception", summary="a small Inception network: stem and four inception modules",
          source="28x28 Kaggle write-up")
def small_inception(input_shape, n_classes, *, stem: int = 64, dropout: float = 0.4) -> keras.Model:
    inputs = keras.Input(input_shape)
    x = _conv_bn(inputs, stem)
    x = _inception_module(x, 64, (96, 128), (16, 32), 32)
    x = _inception_module(x, 128, (128, 192), (32, 96), 64)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = _inception_module(x, 192, (96, 208), (16, 48), 64)
    x = _inception_module(x, 160, (112, 224), (24, 64), 64)
    x = layers.Dropout(dropout)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, classifier(n_classes)(x), name="small_inception")
