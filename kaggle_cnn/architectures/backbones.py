"""ImageNet backbones from keras.applications, the way the seeds used them.

Every backbone is wrapped the same way:

    input (any H x W, grey or colour)
      -> grey repeated to 3 channels          (the 28x28 Kaggle write-up stacked MNIST 3 times)
      -> resized up to the backbone's minimum (or --set input_size=N; the 28x28 Kaggle write-up used 150)
      -> the backbone's own preprocess_input  (a layer, so it is saved with the model)
      -> the convolutional base, named "backbone"
      -> global pooling or flatten, dense, dropout, softmax/sigmoid (seeds 001 and 003)

With ImageNet weights (the default) or a local weights file the base starts
frozen, so the first phase trains the new head only; `--fine-tune-epochs` then
unfreezes it (kaggle_cnn.training). The frozen base runs in inference mode, so
its batch-norm statistics stay ImageNet's, as the Keras transfer-learning guide
advises. With `--weights none` the whole network trains from scratch, its batch
norm at momentum 0.9 so that it settles on a small dataset (settle_batch_norm).

densenet121 takes `drop_blocks=K`: the network is cut at the transition layer
before the last K dense blocks, as the CIFAR-10 DenseNet write-up did (7.0M -> 4.8M parameters for one
block, 1.4M for two, 0.38M for three: their table's 5M, 1.5M and 380,000).
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import keras
from keras import layers

from kaggle_cnn.architectures.heads import classifier
from kaggle_cnn.architectures.registry import register
from kaggle_cnn.config import integer, text
from kaggle_cnn.errors import InputError

HEADS = ("avg", "max", "flatten")
# What the options take where their defaults do not say (the head and the number of
# blocks to drop have their own messages in check)
LIMITS = {"weights": text(optional=True), "input_size": integer(1, optional=True), "head": text(),
          "dense": integer(0), "drop_blocks": integer(0)}  # dense=0: the classifier alone


@dataclass(frozen=True)
class Backbone:
    name: str  # registry name
    application: str  # constructor in keras.applications
    module: str  # keras.applications submodule whose preprocess_input it uses
    min_size: int  # smallest input side keras.applications accepts
    source: str


BACKBONES = (
    Backbone("vgg16", "VGG16", "vgg16", 32, "seeds 001, 002"),
    Backbone("vgg19", "VGG19", "vgg19", 32, "28x28 Kaggle write-up"),
    Backbone("resnet50", "ResNet50", "resnet50", 32, "28x28 Kaggle write-up"),
    Backbone("inception_v3", "InceptionV3", "inception_v3", 75, "28x28 Kaggle write-up"),
    Backbone("mobilenet_v2", "MobileNetV2", "mobilenet_v2", 32, "CIFAR-100 write-up"),
    Backbone("densenet121", "DenseNet121", "densenet", 32, "CIFAR-10 DenseNet write-up"),
)
DENSE_BLOCKS = 4  # densenet121's; drop_blocks may cut up to 3 of them
FROM_SCRATCH_BN_MOMENTUM = 0.9  # as kcnn's own CNNs (kaggle28.py)


@keras.saving.register_keras_serializable(package="kaggle_cnn")
class BackbonePreprocess(layers.Layer):
    """A keras.applications module's own preprocess_input, as a saved layer.

    kcnn's images are in [0, 1]; preprocess_input expects [0, 255] (and then
    scales to [-1, 1], subtracts ImageNet's BGR means, or standardises, as each
    backbone was trained)."""

    def __init__(self, application: str, **kwargs):
        super().__init__(**kwargs)
        self.application = application

    def call(self, inputs):
        return getattr(keras.applications, self.application).preprocess_input(inputs * 255.0)

    def get_config(self):
        return {**super().get_config(), "application": self.application}


def parse_weights(weights) -> str | None:
    """'imagenet', None (from 'none') or a local weights file's path."""
    if weights is None or str(weights).lower() == "none":
        return None
    if str(weights).lower() == "imagenet":
        return "imagenet"
    path = Path(str(weights)).expanduser()
    if not path.is_file():
        raise InputError(f"--weights {weights}: no such file (use imagenet, none, or a .h5/.weights.h5 file)")
    if not path.name.endswith(".h5"):
        raise InputError(f"--weights {weights}: expected a Keras .h5 or .weights.h5 file")
    return str(path.resolve())


def target_size(spec: Backbone, input_shape, input_size: int | None, resize: bool) -> tuple[int, int]:
    """The size the backbone sees: input_size, or the data's size raised to the minimum."""
    height, width, channels = input_shape
    if channels not in (1, 3):
        raise InputError(f"{spec.name} takes grey or RGB images; these have {channels} channels")
    if input_size is not None:
        if not resize:
            raise InputError(f"{spec.name}: input_size={input_size} resizes the images; drop resize=false")
        if int(input_size) < spec.min_size:
            raise InputError(f"{spec.name}: input_size={input_size} is below its minimum of {spec.min_size}")
        return int(input_size), int(input_size)
    if min(height, width) < spec.min_size:
        if not resize:
            raise InputError(
                f"{spec.name} needs images of at least {spec.min_size}x{spec.min_size}, these are {height}x{width}; "
                f"allow resizing (drop resize=false) or load them larger (--image-size)")
        return max(height, spec.min_size), max(width, spec.min_size)
    return height, width


def check(spec: Backbone, input_shape, n_classes, *, weights="imagenet", input_size=None, resize=True, head="avg",
          dense=256, dropout=0.5, drop_blocks=0) -> None:
    """Refuse bad options, and fetch ImageNet weights, before a workspace is touched."""
    size = target_size(spec, input_shape, input_size, resize)
    if head not in HEADS:
        raise InputError(f"{spec.name}: head={head!r}; choose one of {', '.join(HEADS)}")
    if not 0 <= int(drop_blocks) < DENSE_BLOCKS:
        raise InputError(f"{spec.name}: drop_blocks={drop_blocks}; it has {DENSE_BLOCKS} dense blocks, so 0 to "
                         f"{DENSE_BLOCKS - 1} can go")
    weights = parse_weights(weights)
    if weights is not None:  # imagenet downloads into ~/.keras/models once; a file must fit this base
        base_network(spec, size, weights)


def base_network(spec: Backbone, size: tuple[int, int], weights: str | None, drop_blocks: int = 0):
    """The convolutional base (no top), named "backbone"; offline and bad files are one-line errors."""
    constructor = getattr(keras.applications, spec.application)
    name = "backbone" if not drop_blocks else spec.name
    try:
        # quiet: get_file's "Downloading data from" line; Keras' per-layer warnings for a wrong file
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            base = constructor(include_top=False, weights=weights, input_shape=(*size, 3), name=name)
    except Exception as error:
        if weights == "imagenet" and "URL fetch failure" in str(error):
            raise InputError(_offline_message(spec, str(error))) from None
        if weights not in (None, "imagenet"):
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            reason = first_line[:160].rstrip(":. ")
            raise InputError(f"--weights {weights}: not {spec.name} weights without its top ({reason})") from None
        raise
    if drop_blocks:
        cut = base.get_layer(f"pool{DENSE_BLOCKS + 1 - int(drop_blocks)}_pool")
        base = keras.Model(base.input, cut.output, name="backbone")
    return base


def _offline_message(spec: Backbone, error: str) -> str:
    found = re.search(r"/([^/\s:]+\.h5)", error)
    file_name = found.group(1) if found else f"the {spec.application} no-top weights"
    return (f"{spec.name}: cannot download the ImageNet weights (no network?); train from scratch with "
            f"--weights none, or pass --weights PATH to a local copy of {file_name}")


def build(spec: Backbone, input_shape, n_classes, *, weights="imagenet", input_size=None, resize=True, head="avg",
          dense=256, dropout=0.5, drop_blocks=0) -> keras.Model:
    weights = parse_weights(weights)
    size = target_size(spec, input_shape, input_size, resize)
    inputs = keras.Input(tuple(input_shape))
    x = inputs
    if input_shape[-1] == 1:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    if tuple(size) != tuple(input_shape[:2]):
        x = layers.Resizing(*size, name="resize")(x)
    x = BackbonePreprocess(spec.module, name="preprocess")(x)
    base = base_network(spec, size, weights, int(drop_blocks))
    pretrained = weights is not None
    if pretrained:
        base.trainable = False  # the first phase trains the head only
    else:
        settle_batch_norm(base)
    x = base(x, training=False) if pretrained else base(x)
    x = {"avg": layers.GlobalAveragePooling2D, "max": layers.GlobalMaxPooling2D, "flatten": layers.Flatten}[head]()(x)
    if int(dense):
        x = layers.Dense(int(dense), activation="relu")(x)
        if float(dropout):
            x = layers.Dropout(float(dropout))(x)
    return keras.Model(inputs, classifier(n_classes)(x), name=spec.name)


def settle_batch_norm(base, momentum: float = FROM_SCRATCH_BN_MOMENTUM) -> None:
    """Batch norm that can settle within a small dataset's few hundred steps.

    keras.applications builds batch norm with momentum 0.99 (MobileNetV2: 0.999),
    tuned for ImageNet's million images: its moving statistics take ~1,000 steps
    to forget their initial values. Trained from scratch on 700 cats and dogs
    (20 steps an epoch), MobileNetV2 then predicted one class for every
    validation image after 15 epochs (0.50). Only for --weights none: a
    pretrained base keeps ImageNet's statistics, frozen."""
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = momentum


def find_backbone(model):
    """The "backbone" layer inside a built model (also behind augmentation layers), or None."""
    for layer in model.layers:
        if layer.name == "backbone":
            return layer
        if isinstance(layer, keras.Model):
            found = find_backbone(layer)
            if found is not None:
                return found
    return None


def _register(spec: Backbone) -> None:
    summary = f"{spec.application} base (keras.applications) and a new head; at least {spec.min_size}px"
    details = {"summary": summary, "source": spec.source, "pretrained": True, "min_size": spec.min_size,
               "check": partial(check, spec), "limits": LIMITS}
    if spec.name == "densenet121":
        def builder(input_shape, n_classes, *, weights="imagenet", input_size=None, resize=True, head="avg",
                    dense=256, dropout=0.5, drop_blocks=0):
            return build(spec, input_shape, n_classes, weights=weights, input_size=input_size, resize=resize,
                         head=head, dense=dense, dropout=dropout, drop_blocks=drop_blocks)
    else:
        def builder(input_shape, n_classes, *, weights="imagenet", input_size=None, resize=True, head="avg",
                    dense=256, dropout=0.5):
            return build(spec, input_shape, n_classes, weights=weights, input_size=input_size, resize=resize,
                         head=head, dense=dense, dropout=dropout)
    register(spec.name, **details)(builder)


for _spec in BACKBONES:
    _register(_spec)
