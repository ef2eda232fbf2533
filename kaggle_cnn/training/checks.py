"""Checks that refuse a training configuration before anything is written:
unknown names, options the architecture cannot build with, fine-tuning without a
pretrained base."""

from __future__ import annotations

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
