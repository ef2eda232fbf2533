"""The settings of one training configuration: where they come from (TrainConfig's
defaults, a YAML config file such as `kcnn search --export` writes, options, and
NAME=VALUE architecture options), and the checks every name and value gets
wherever it came from."""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from kaggle_cnn.config import TRAIN_OPTIONS, TrainConfig, check_optimizer
from kaggle_cnn.errors import InputError
from kaggle_cnn.fileio import read_yaml, write_text
from kaggle_cnn.training.checks import pretrained_models


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


def load_config(path: str | Path) -> dict[str, Any]:
    """A `kcnn train --config` file (what `kcnn search --export` writes): flat settings."""
    path, settings = read_yaml(path, "config")
    if not isinstance(settings, dict) or any(isinstance(v, dict) for v in settings.values()):
        raise InputError(f"{path}: expected a flat mapping of train options, e.g. 'epochs: 5'")
    check_settings(settings, str(path))
    return settings


def check_settings(settings: dict[str, Any], source: str) -> None:
    """Every name a train option or the model's own option; known optimizers only."""
    allowed = allowed_options(settings.get("model", "kaggle_ensemble"))
    for name, value in settings.items():
        check_name(name, allowed, source)
        check_value(name, value, source)


def save_config(path: str | Path, settings: dict[str, Any]) -> Path:
    import yaml

    write_text(path, yaml.safe_dump(settings, sort_keys=False))
    return Path(path)


def check_value(name: str, value: Any, path: Path | str) -> None:
    if name == "optimizer":
        check_optimizer(value, f"{path}: ")


def allowed_options(model: str) -> set[str]:
    from kaggle_cnn.architectures import options

    return TRAIN_OPTIONS | set(options(model))


def check_name(name: str, allowed: set[str], path: Path | str) -> None:
    if name not in allowed:
        raise InputError(f"{path}: unknown option {name!r}; options here are: {', '.join(sorted(allowed))}")
