"""Checks that refuse a training configuration before anything is written:
unknown names, options the architecture cannot build with, fine-tuning without a
pretrained base; and the command-line shortcuts that set architecture options."""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from typing import Any

from kaggle_cnn.config import TrainConfig, check_optimizer
from kaggle_cnn.errors import InputError


def check_config(config: "TrainConfig", image_shape, n_classes: int) -> None:
    """Refuse a config that cannot train on this data: unknown names, options the
    architecture cannot build with, fine-tuning without a pretrained base."""
    from kaggle_cnn.architectures import check, get
    from kaggle_cnn.architectures.backbones import parse_weights
    architecture = get(config.model)
    check_optimizer(config.optimizer)
    if config.augment:
        from kaggle_cnn.training.augment import parse_augment

        parse_augment(config.augment)
    if config.fine_tune_epochs < 0 or (config.unfreeze is not None and config.unfreeze < 1):
        raise InputError("--fine-tune-epochs must be at least 0 and --unfreeze at least 1")
    if config.unfreeze is not None and not config.fine_tune_epochs:
        raise InputError("--unfreeze only applies with --fine-tune-epochs")
    if config.fine_tune_epochs:
        if not architecture.pretrained:
            raise InputError(f"--fine-tune-epochs: {config.model} has no pretrained base to fine-tune "
                             f"(pretrained backbones: {', '.join(pretrained_models())})")
        if parse_weights(config.model_options.get("weights", "imagenet")) is None:
            raise InputError(f"--fine-tune-epochs: {config.model} --weights none trains the whole network from the "
                             "start; fine-tuning needs --weights imagenet or a weights file")
    check(config.model, image_shape, n_classes, **config.model_options)


def pretrained_models() -> list[str]:
    from kaggle_cnn.architectures import get, names

    return [name for name in names() if get(name).pretrained]


def model_shortcuts(model: str, dropout: float | None, weights: str | None, drop_blocks: int | None) -> dict:
    """--dropout, --weights and --drop-blocks as architecture options, refused (one
    line) where the model has nothing they could set."""
    from kaggle_cnn.architectures import get, options

    settings = {}
    if dropout is not None:
        rates = [name for name in options(model) if "dropout" in name]
        if not rates:
            raise InputError(f"--dropout: {model} has no dropout layers (its options: {', '.join(options(model))})")
        settings.update(dict.fromkeys(rates, dropout))
    if weights is not None:
        if not get(model).pretrained:
            raise InputError(f"--weights: {model} has no pretrained base; backbones are {', '.join(pretrained_models())}")
        from kaggle_cnn.architectures.backbones import parse_weights

        settings["weights"] = parse_weights(weights) or "none"  # a file's absolute path, for run.json
    if drop_blocks is not None:
        if "drop_blocks" not in options(model):
            raise InputError(f"--drop-blocks: {model} has no dense blocks to drop (densenet121 has)")
        settings["drop_blocks"] = drop_blocks
    return settings




def train_config(given: dict[str, Any], *, config_file: str | os.PathLike | None = None,
                 explicit: Collection[str] = (), set_options: Sequence[str] = (), dropout: float | None = None,
                 weights: str | None = None, drop_blocks: int | None = None) -> TrainConfig:
    """One attempt's settings, checked against the model: a YAML config file's
    settings, then `given` (those named in `explicit` were typed by the user and win
    over the file; the others are defaults the file overrides), then NAME=VALUE
    architecture options and the --dropout/--weights/--drop-blocks shortcuts."""
    import yaml

    from kaggle_cnn.search.space import check_settings, load_config

    settings = load_config(config_file) if config_file else {}
    for name, value in given.items():
        if name not in settings or name in explicit:
            settings[name] = value
    for item in set_options:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--set {item!r}: expected NAME=VALUE, e.g. --set dropout1=0.2")
        settings[name.strip()] = yaml.safe_load(text)
    settings.update(model_shortcuts(settings.get("model", TrainConfig.model), dropout, weights, drop_blocks))
    check_settings(settings, "--set" if set_options else "options")
    return TrainConfig.from_settings(settings)
