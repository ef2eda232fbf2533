"""Checks that refuse a training configuration before anything is written: values
out of range (kaggle_cnn.config's table), unknown names, options the architecture
cannot build with, images too small for it, fine-tuning without a pretrained base."""

from __future__ import annotations

from kaggle_cnn.config import API, TrainConfig, check_train_config
from kaggle_cnn.errors import InputError


def check_config(config: TrainConfig, image_shape, n_classes: int, source: str = API) -> None:
    """Refuse a config that cannot train on this data: bad values, unknown names,
    options the architecture cannot build with, images it cannot take, fine-tuning
    without a pretrained base."""
    from kaggle_cnn.architectures import check, get
    from kaggle_cnn.architectures.backbones import parse_weights

    if not isinstance(config, TrainConfig):
        raise InputError(f"expected a TrainConfig (api.TrainConfig or api.train_config), got {type(config).__name__}")
    check_train_config(config, source)  # made with TrainConfig(...) it passed already; this costs nothing
    architecture = get(config.model)
    if config.augment:
        from kaggle_cnn.training.augment import check_augment

        check_augment(config.augment, image_shape)
    if config.mix:
        from kaggle_cnn.training.mixing import check_mix

        check_mix(config.mix, image_shape)
    if config.ema and (config.patience is not None or (config.auto_epochs and config.schedule == "plateau")):
        raise InputError("--ema does not go with --patience, or with --epochs auto under the plateau schedule: early "
                         "stopping keeps the best epoch's own weights, not their average")
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
