"""What shapes one training attempt: plain data, no TensorFlow, so the CLI, the
search and the store can all read and write it cheaply."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# kcnn's names -> Keras classes: seed 002 compared all seven
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "nadam": "Nadam", "adamax": "Adamax",
              "adagrad": "Adagrad", "adadelta": "Adadelta"}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes one attempt, recorded in run.json."""

    model: str = "kaggle_ensemble"
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"  # one of OPTIMIZERS (seed 002's table); sgd uses momentum 0.9
    weight_decay: float | None = None  # decoupled weight decay, as Keras optimizers apply it
    patience: int | None = None  # early stopping on validation loss, best weights restored
    augment: str | None = None  # e.g. "rotation=10,zoom=0.1": preprocessing layers (kaggle_cnn.augment)
    # seed 004 used ReduceLROnPlateau(monitor='val_loss', factor=0.2, patience=5,
    # min_lr=0.001) with Adam(lr=0.001): a min_lr equal to the starting rate never
    # lets it act, so ours stops at 1e-5 instead.
    reduce_lr_factor: float = 0.2
    reduce_lr_patience: int = 5
    min_lr: float = 1e-5
    # Transfer learning (pretrained backbones): after `epochs` with the base frozen,
    # unfreeze it (all of it, or its last `unfreeze` layers) and train on at a low
    # rate. Seed 001 used 1e-6 after 1e-3; 1e-5 is the Keras guide's usual choice.
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
