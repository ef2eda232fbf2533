"""Presets: named recipes, so that any comparison is one flag (`--preset NAME`).

A preset is a set of settings like a --config file's. What is set wins in this
order: TrainConfig's defaults (the default recipe), then the preset, then a
--config file, then the options typed, then --set.
"""

from __future__ import annotations

from typing import Any

from kaggle_cnn.errors import InputError

# The recipe TrainConfig's defaults make (small_resnet, AdamW, a cosine with warm-up):
# benchmarks/RESULTS.md says why each part.
DEFAULT = "default"

PRESETS: dict[str, dict[str, Any]] = {
    DEFAULT: {},
    # kaggle_ensemble as the 28x28 Kaggle write-up trained it 30 times: Adam 1e-3,
    # batch 128, 40 epochs, ReduceLROnPlateau(factor 0.2, patience 5, min_lr 0.001).
    # Its min_lr equals the starting rate, so the rate never drops: kept as published.
    "kaggle28": {"model": "kaggle_ensemble", "epochs": 40, "batch_size": 128, "lr": 1e-3, "optimizer": "adam",
                 "weight_decay": None, "schedule": "plateau", "reduce_lr_factor": 0.2, "reduce_lr_patience": 5,
                 "min_lr": 1e-3, "augment": None, "label_smoothing": 0.0, "warmup_epochs": 0.0},
    # The cats-vs-dogs write-up's transfer learning: VGG16 from ImageNet at 150x150, a
    # Flatten head with dense 512, 10 frozen epochs, then 5 fine-tuning at 1e-6, with
    # its ImageDataGenerator augmentation.
    "cats_dogs_vgg16": {"model": "vgg16", "input_size": 150, "head": "flatten", "dense": 512, "dropout": 0.0,
                        "epochs": 10, "batch_size": 32, "lr": 1e-3, "optimizer": "adam", "weight_decay": None,
                        "schedule": "plateau", "label_smoothing": 0.0, "warmup_epochs": 0.0,
                        "fine_tune_epochs": 5, "fine_tune_lr": 1e-6,
                        "augment": "rotation=40,shift=0.2,shear=0.2,zoom=0.2,hflip"},
}

SUMMARIES = {
    DEFAULT: "small_resnet, AdamW 3e-3, a cosine with 1 epoch of warm-up, 12 epochs (the default)",
    "kaggle28": "kaggle_ensemble as the 28x28 Kaggle write-up trained it: Adam 1e-3, batch 128, 40 epochs, plateau",
    "cats_dogs_vgg16": "VGG16 from ImageNet at 150x150, 10 frozen epochs then 5 fine-tuning at 1e-6, augmented",
}


def preset_settings(name: str) -> dict[str, Any]:
    """The settings a preset sets over TrainConfig's defaults (its model's options included)."""
    if name not in PRESETS:
        raise InputError(f"--preset {name!r}: choose one of {', '.join(PRESETS)}")
    return dict(PRESETS[name])


def preset_summaries() -> dict[str, str]:
    return dict(SUMMARIES)


def preset_changes(name: str | None, typed: dict[str, Any]) -> list[str]:
    """What options typed beside a preset change in it, one note each:
    "--lr 0.01 replaces preset kaggle28's lr 0.001"."""
    preset = preset_settings(name) if name else {}
    return [f"--{key.replace('_', '-')} {typed[key]} replaces preset {name}'s {key} {preset[key]}"
            for key in typed if key in preset and typed[key] != preset[key]]


if set(PRESETS) != set(SUMMARIES):
    raise RuntimeError("every preset needs a summary")
