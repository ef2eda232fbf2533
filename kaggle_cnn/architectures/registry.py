"""The architecture registry: a name -> builder map, as timm does it.

A builder takes the input shape and class count (both from the data) plus its own
keyword options and returns an uncompiled keras.Model. Compiling, seeding and
fitting belong to kaggle_cnn.training, so every architecture trains the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from kaggle_cnn.errors import InputError

# Modules whose import registers the built-in architectures. Imported lazily:
# they import Keras (and so TensorFlow), which commands like `vote` never need.
_BUILTIN_MODULES = (
    "kaggle_cnn.architectures.small_cnns", "kaggle_cnn.architectures.classic", "kaggle_cnn.architectures.kaggle28",
    "kaggle_cnn.architectures.backbones",
)


@dataclass(frozen=True)
class Architecture:
    name: str
    builder: Callable
    summary: str
    source: str
    pretrained: bool = False  # a keras.applications backbone that can start from ImageNet weights
    min_size: int = 1  # smallest input side the network accepts (backbones resize up to it)
    # check(input_shape, n_classes, **options): refuse bad options with an InputError
    # before a workspace is touched (and fetch what the build will need)
    check: Callable | None = None


_REGISTRY: dict[str, Architecture] = {}


def register(name: str, *, summary: str = "", source: str = "", **details) -> Callable[[Callable], Callable]:
    """Decorator: make `builder` available as `kcnn train --model name`; `details`
    are Architecture's other fields (pretrained, min_size, check)."""

    def decorate(builder: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} is registered twice")
        first_line = (builder.__doc__ or "").strip().split("\n")[0]
        _REGISTRY[name] = Architecture(name, builder, summary or first_line, source, **details)
        return builder

    return decorate


def _load_builtins() -> None:
    from kaggle_cnn.backend import load_keras

    load_keras()
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def get(name: str) -> Architecture:
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown model {name!r}; choose one of: {', '.join(sorted(_REGISTRY))}") from None


def options(name: str) -> dict[str, object]:
    """The builder's own keyword options and their defaults (what a search may tune)."""
    import inspect

    signature = inspect.signature(get(name).builder)
    return {p.name: p.default for p in signature.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def check(name: str, input_shape: tuple[int, ...], n_classes: int, **options) -> None:
    """Refuse options this architecture cannot build with, before anything is written."""
    architecture = get(name)
    if architecture.check is not None:
        architecture.check(tuple(input_shape), int(n_classes), **options)


def build(name: str, input_shape: tuple[int, ...], n_classes: int, **options):
    """Build a fresh, uncompiled model for this data."""
    return get(name).builder(tuple(input_shape), int(n_classes), **options)


def load_model(path):
    """A saved model.keras, with kcnn's own layers (e.g. a backbone's preprocessing) registered first."""
    from kaggle_cnn.backend import load_keras

    _load_builtins()
    return load_keras().saving.load_model(path)
