"""What shapes one training attempt: plain data, no TensorFlow, so the CLI, the
search and the store can all read and write it cheaply."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from numbers import Integral
from typing import Any

from kaggle_cnn.errors import InputError

# kcnn's names -> Keras classes (the seven that Keras offers for image classifiers)
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "nadam": "Nadam", "adamax": "Adamax",
              "adagrad": "Adagrad", "adadelta": "Adadelta"}


def check_optimizer(name: str, where: str = "") -> None:
    """Refuse an optimizer kcnn does not know (one line, naming where it came from)."""
    if name not in OPTIMIZERS:
        raise InputError(f"{where}optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes one attempt, recorded in run.json."""

    model: str = "kaggle_ensemble"
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"  # one of OPTIMIZERS; sgd uses momentum 0.9
    weight_decay: float | None = None  # decoupled weight decay, as Keras optimizers apply it
    patience: int | None = None  # early stopping on validation loss, best weights restored
    augment: str | None = None  # e.g. "rotation=10,zoom=0.1": preprocessing layers (kaggle_cnn.training.augment)
    # The 28x28 Kaggle write-up used ReduceLROnPlateau(monitor='val_loss', factor=0.2,
    # patience=5, min_lr=0.001) with Adam(lr=0.001): a min_lr equal to the starting
    # rate never lets it act, so ours stops at 1e-5 instead.
    reduce_lr_factor: float = 0.2
    reduce_lr_patience: int = 5
    min_lr: float = 1e-5
    # Transfer learning (pretrained backbones): after `epochs` with the base frozen,
    # unfreeze it (all of it, or its last `unfreeze` layers) and train on at a low
    # rate. 1e-5 is the Keras guide's usual choice (the cats-vs-dogs recipe used 1e-6).
    fine_tune_epochs: int = 0
    fine_tune_lr: float = 1e-5
    unfreeze: int | None = None
    model_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> "TrainConfig":
        """Flat settings (a search trial, a --config file): the fields of this class
        go to it, everything else to the architecture's own options."""
        own = {k: v for k, v in settings.items() if k in TRAIN_OPTIONS}
        return cls(**own, model_options={k: v for k, v in settings.items() if k not in TRAIN_OPTIONS})


# The settings that are TrainConfig's own; every other setting is an architecture option.
TRAIN_OPTIONS = frozenset(f.name for f in fields(TrainConfig)) - {"model_options"}


# -- option values that several commands share: image shapes and sizes -----------------

ImageShape = tuple[int, int, int]
_DIMENSIONS = re.compile(r"\s*[xX,]\s*")


def parse_image_shape(text: str) -> ImageShape:
    """Parse "28x28x1", "28,28,1", "32x32x3" or "28x28" (C=1) into (H, W, C)."""
    parts = _DIMENSIONS.split(str(text).strip())
    if len(parts) == 2:
        parts.append("1")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise InputError(
            f"image shape {text!r}: expected HxWxC with positive integers, e.g. 28x28x1 or 32x32x3"
        )
    h, w, c = (int(p) for p in parts)
    return h, w, c


def parse_image_size(text: str) -> tuple[int, int]:
    """"64" -> (64, 64); "64x48" -> (64, 48), height x width."""
    parts = _DIMENSIONS.split(str(text).strip())
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise InputError(f"image size {text!r}: expected N or HxW with positive integers, e.g. 64 or 64x48")
    return int(parts[0]), int(parts[1])


def check_image_size(value: Any) -> tuple[int, int]:
    """An image size given as "HxW", N, or (H, W) (a list too, as run.json gives it back)."""
    if isinstance(value, str):
        return parse_image_size(value)
    if isinstance(value, Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        h, w = value
    except (TypeError, ValueError):
        raise InputError(f"image size {value!r}: expected (height, width)") from None
    if not all(isinstance(v, Integral) and not isinstance(v, bool) and v > 0 for v in (h, w)):
        raise InputError(f"image size {_size_text(value)}: height and width must be positive integers")
    return int(h), int(w)


def _size_text(value: Any) -> str:
    try:
        return "x".join(str(v) for v in value)
    except TypeError:
        return repr(value)
