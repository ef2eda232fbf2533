"""The settings of one training configuration: where they come from (TrainConfig's
defaults, a YAML config file such as `kcnn search --export` writes, options, and
NAME=VALUE architecture options), and the checks every name and value gets
wherever it came from: kaggle_cnn.config's table for TrainConfig's own fields,
kaggle_cnn.architectures for the model's options."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from kaggle_cnn.config import (
    OPTIONS,
    SET,
    TRAIN_CHECKS,
    TRAIN_OPTIONS,
    TrainConfig,
    check_setting,
)
from kaggle_cnn.errors import InputError
from kaggle_cnn.fileio import MalformedYaml, parse_yaml, read_yaml, write_yaml
from kaggle_cnn.training.checks import pretrained_models
from kaggle_cnn.training.presets import preset_settings


def model_shortcuts(model: str, dropout: float | None, weights: str | None, drop_blocks: int | None) -> dict:
    """--dropout, --weights and --drop-blocks as architecture options, refused (one
    line) where the model has nothing they could set."""
    from kaggle_cnn.architectures import get, options

    settings = {}
    if dropout is not None:
        dropout = check_setting("dropout", dropout, OPTIONS)
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


def train_config(given: Mapping[str, Any], *, config_file: str | os.PathLike | None = None,
                 explicit: Collection[str] = (), set_options: Sequence[str] = (), dropout: float | None = None,
                 weights: str | None = None, drop_blocks: int | None = None, preset: str | None = None) -> TrainConfig:
    """One attempt's settings, checked against the model: TrainConfig's defaults
    (the default recipe), then a preset's settings, then a YAML config file's, then
    `given` (those named in `explicit` were typed by the user and win over the
    preset and the file; the others are defaults they override), then NAME=VALUE
    architecture options and the --dropout/--weights/--drop-blocks shortcuts.

    Every value is checked where it came from: a bad one is a one-line InputError
    naming the file, option or --set item ("cfg.yaml: epochs 0: must be ...")."""

    settings, sources = _gather(given, config_file, explicit, set_options, preset)
    shortcuts = model_shortcuts(settings.get("model", TrainConfig.model), dropout, weights, drop_blocks)
    settings.update(shortcuts)
    sources.update(dict.fromkeys(shortcuts, OPTIONS))
    return TrainConfig.from_settings(check_settings(settings, sources))


def _gather(given: Mapping[str, Any], config_file: str | os.PathLike | None, explicit: Collection[str],
            set_options: Sequence[str], preset: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings before the shortcuts and the checks, and where each came from."""
    settings = preset_settings(preset) if preset else {}
    sources = dict.fromkeys(settings, f"preset {preset}")
    if config_file:
        from_file = _read_config(config_file)  # checked below, with the model it ends up with
        settings.update(from_file)
        sources.update(dict.fromkeys(from_file, str(config_file)))
    for name, value in given.items():
        if name not in settings or name in explicit:
            settings[name], sources[name] = value, OPTIONS
    for item in set_options:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--set {item!r}: expected NAME=VALUE, e.g. --set dropout1=0.2")
        try:
            value = parse_yaml(text, f"--set {item}")
        except MalformedYaml:  # plain text (an alias or a deep nesting is refused, as in a file)
            value = text
        settings[name.strip()], sources[name.strip()] = value, SET
    return settings, sources


def train_configs(given: Mapping[str, Any], *, models: str | Sequence[str] | None = None,
                  presets: str | Sequence[str] | None = None, config_file: str | os.PathLike | None = None,
                  explicit: Collection[str] = (), set_options: Sequence[str] = (), dropout: float | None = None,
                  weights: str | None = None, drop_blocks: int | None = None) -> list[TrainConfig]:
    """One configuration per listed model or preset, in the order a training plan
    cycles over them. `models` and `presets` are comma-separated text (what
    `--model a,b` and `--preset p,q` pass) or sequences of names: one list, or two
    of the same length, paired in order; a single name goes with every entry of
    the other list, and a name listed twice trains twice as often. Everything else
    is as train_config says, for every entry, except that an architecture option
    (from --set, a config file, a preset, or --dropout/--weights/--drop-blocks)
    goes to the listed models that take it, and is refused only when none does."""
    from kaggle_cnn.architectures import get

    model_names = name_list("--model", models, "cnn1,basic_cnn")
    preset_names = name_list("--preset", presets, "default,kaggle28")
    for name in model_names:
        try:
            get(name)
        except InputError as error:
            raise InputError(f"--model {','.join(model_names)}: {error}") from None
    if len(model_names) > 1 and len(preset_names) > 1 and len(model_names) != len(preset_names):
        raise InputError(f"--model {','.join(model_names)} and --preset {','.join(preset_names)}: "
                         f"{len(model_names)} models and {len(preset_names)} presets; list one of them, or both "
                         f"of the same length (paired in order)")
    count = max(len(model_names), len(preset_names), 1)
    entries = [(model_names[i % len(model_names)] if model_names else None,
                preset_names[i % len(preset_names)] if preset_names else None) for i in range(count)]

    def entry_given(model: str | None) -> tuple[dict[str, Any], set[str]]:
        if model is None:
            return dict(given), set(explicit)
        return {**given, "model": model}, {*explicit, "model"}

    if count == 1:
        (model, preset), = entries
        own, typed = entry_given(model)
        return [train_config(own, config_file=config_file, explicit=typed, set_options=set_options,
                             dropout=dropout, weights=weights, drop_blocks=drop_blocks, preset=preset)]
    gathered = []
    for model, preset in entries:
        own, typed = entry_given(model)
        gathered.append(_gather(own, config_file, typed, set_options, preset))
    return _shared_options(gathered, {"dropout": dropout, "weights": weights, "drop_blocks": drop_blocks})


def _takes_dropout(model: str) -> bool:
    from kaggle_cnn.architectures import options

    return any("dropout" in name for name in options(model))


def _takes_weights(model: str) -> bool:
    from kaggle_cnn.architectures import get

    return get(model).pretrained


def _takes_drop_blocks(model: str) -> bool:
    from kaggle_cnn.architectures import options

    return "drop_blocks" in options(model)


# Which models the --dropout, --weights and --drop-blocks shortcuts set something in, and how a refusal says it.
SHORTCUT_TAKERS = {"dropout": (_takes_dropout, "has dropout layers"),
                   "weights": (_takes_weights, "has a pretrained base"),
                   "drop_blocks": (_takes_drop_blocks, "has dense blocks to drop")}


def _shared_options(gathered: list[tuple[dict[str, Any], dict[str, str]]],
                    shortcuts: dict[str, Any]) -> list[TrainConfig]:
    """Several entries' settings, each architecture option given to the entries
    whose model takes it; one no entry takes is refused as for one model."""
    models = []
    for settings, sources in gathered:
        model = check_value("model", settings.get("model", TrainConfig.model), sources.get("model", OPTIONS))
        allowed_options(model)  # an unknown model (from a file or a preset): one line
        models.append(model)
    allowed = {model: allowed_options(model) for model in models}
    anywhere = set().union(*allowed.values())
    for settings, sources in gathered:
        for name in settings:
            check_name(name, anywhere, sources.get(name, OPTIONS))
    listed = ", ".join(dict.fromkeys(models))
    for name, value in shortcuts.items():
        takes, what = SHORTCUT_TAKERS[name]
        if value is not None and not any(takes(model) for model in models):
            raise InputError(f"--{name.replace('_', '-')}: none of {listed} {what}")
    configs = []
    for (settings, sources), model in zip(gathered, models):
        own = {name: value for name, value in settings.items() if name in allowed[model]}
        extra = model_shortcuts(model, *(value if SHORTCUT_TAKERS[name][0](model) else None
                                         for name, value in shortcuts.items()))
        own.update(extra)
        configs.append(TrainConfig.from_settings(check_settings(own, {**sources, **dict.fromkeys(extra, OPTIONS)})))
    return configs


def name_list(option: str, names: str | Sequence[str] | None, example: str) -> list[str]:
    """`--model a,b,c` (text, or a sequence of names) as a list; none given: []. An
    empty name (`--model ""`, `--model a,,b`) is refused."""
    if names is None:
        return []
    listed = [str(name).strip() for name in (names.split(",") if isinstance(names, str) else names)]
    if not listed or not all(listed):
        shown = names if isinstance(names, str) else ",".join(listed)
        raise InputError(f"{option} {shown!r}: an empty name in the list; give names separated by commas, "
                         f"e.g. {option} {example}")
    return listed


def load_config(path: str | Path) -> dict[str, Any]:
    """A `kcnn train --config` file (what `kcnn search --export` writes): flat
    settings, checked and normalised."""
    return check_settings(_read_config(path), str(path))


def _read_config(path: str | os.PathLike) -> dict[str, Any]:
    path, settings = read_yaml(path, "config")
    if not isinstance(settings, dict) or any(isinstance(v, dict) for v in settings.values()):
        raise InputError(f"{path}: expected a flat mapping of train options, e.g. 'epochs: 5'")
    return settings


def check_settings(settings: Mapping[str, Any], source: str | Mapping[str, str]) -> dict[str, Any]:
    """Every name a train option or the model's own option, every value what it
    takes: the settings checked and normalised. `source` (one for all, or one per
    name) is what the messages name."""
    from kaggle_cnn.architectures import check_options

    def where(name: str) -> str:
        return source.get(name, OPTIONS) if isinstance(source, Mapping) else source

    model = settings.get("model", TrainConfig.model)
    if "model" in settings:
        model = check_value("model", model, where("model"))
    allowed = allowed_options(model)
    checked = {}
    for name, value in settings.items():
        check_name(name, allowed, where(name))
        if name in TRAIN_OPTIONS:
            checked[name] = check_value(name, value, where(name))
    options = {name: value for name, value in settings.items() if name not in TRAIN_OPTIONS}
    checked.update(check_options(model, options, {name: where(name) for name in options}))
    return {name: checked[name] for name in settings}


def save_config(path: str | Path, settings: dict[str, Any]) -> Path:
    write_yaml(path, settings)
    return Path(path)


def check_value(name: str, value: Any, path: Path | str) -> Any:
    """A TrainConfig field's value, checked as kaggle_cnn.config's table says (and
    returned normalised); other names (the model's options) are returned as they are."""
    if name in TRAIN_CHECKS:
        return TRAIN_CHECKS[name](name, value, str(path))
    return value


def allowed_options(model: str) -> set[str]:
    from kaggle_cnn.architectures import options

    return TRAIN_OPTIONS | set(options(model))


def check_name(name: str, allowed: set[str], path: Path | str) -> None:
    if name not in allowed:
        raise InputError(f"{path}: unknown option {name!r}; options here are: {', '.join(sorted(allowed))}")
