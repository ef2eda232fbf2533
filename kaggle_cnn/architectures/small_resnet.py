"""small_resnet: the default network, a residual CNN for small images (28x28 grey,
32x32 colour), sized by options so it scales from a minute on a laptop to an hour
on a GPU:

    stem        conv(width) - batch norm - ReLU
    stage 1..S  `blocks` residual blocks of width x 2^(s-1); every stage after the
                first halves the image first (max or average pooling, or a
                stride-2 first convolution)
    block       conv(k) - BN - ReLU - conv(k) - BN, plus the input (a 1x1 conv
                where the width changes), ReLU; residual=false leaves out the sum
    head        global average pooling - dropout - classifier

Its structure (stages, blocks, width, kernel size, pooling, residual or not) is
what `kcnn search` explores with examples/spaces/architecture.yaml; the defaults
and why: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import keras
from keras import layers

from kaggle_cnn.architectures.heads import classifier
from kaggle_cnn.architectures.kaggle28 import BN_MOMENTUM
from kaggle_cnn.architectures.registry import register
from kaggle_cnn.config import choice, integer
from kaggle_cnn.errors import InputError

POOLINGS = ("max", "avg", "stride")
LIMITS = {"stages": integer(1, 8), "blocks": integer(1, 16), "width": integer(1, 1024), "kernel_size": integer(1, 9),
          "pooling": choice(*POOLINGS)}


def check_fits(input_shape, n_classes, *, stages: int = 3, **options) -> None:
    """Every stage after the first halves the image: refuse more stages than it has pixels for."""
    side = min(input_shape[:2])
    if 2 ** (stages - 1) > side:
        most = side.bit_length()  # 2 ** (most - 1) <= side
        shape = "x".join(str(d) for d in input_shape)
        raise InputError(f"small_resnet cannot take {shape} images with stages={stages}: each stage after the first "
                         f"halves the image, {stages - 1} times is below 1 pixel; use stages={most} or fewer")


def _conv(width: int, kernel_size: int, strides: int = 1) -> layers.Layer:
    return layers.Conv2D(width, kernel_size, strides=strides, padding="same", use_bias=False)


def _batch_norm() -> layers.Layer:
    return layers.BatchNormalization(momentum=BN_MOMENTUM)


def _block(x, width: int, kernel_size: int, strides: int, residual: bool):
    y = layers.ReLU()(_batch_norm()(_conv(width, kernel_size, strides)(x)))
    y = _batch_norm()(_conv(width, kernel_size)(y))
    if residual:
        shortcut = x
        if strides != 1 or x.shape[-1] != width:
            shortcut = _batch_norm()(_conv(width, 1, strides)(x))
        y = layers.Add()([y, shortcut])
    return layers.ReLU()(y)


@register("small_resnet", summary="residual CNN for small images: stages of conv blocks, global average pooling "
                                  "(the default)",
          source="kaggle_cnn's default", limits=LIMITS, check=check_fits)
def small_resnet(input_shape, n_classes, *, stages: int = 3, blocks: int = 1, width: int = 32, kernel_size: int = 3,
                 pooling: str = "max", residual: bool = True, dropout: float = 0.1) -> keras.Model:
    inputs = keras.Input(input_shape)
    x = layers.ReLU()(_batch_norm()(_conv(width, 3)(inputs)))
    for stage in range(stages):
        stage_width = width * 2 ** stage
        strides = 1
        if stage and pooling == "stride":
            strides = 2
        elif stage:
            x = (layers.MaxPooling2D if pooling == "max" else layers.AveragePooling2D)(2)(x)
        for block in range(blocks):
            x = _block(x, stage_width, kernel_size, strides if block == 0 else 1, residual)
    x = layers.GlobalAveragePooling2D()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return keras.Model(inputs, classifier(n_classes)(x), name="small_resnet")
