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
    "kaggle_cnn.architectures.seed001", "kaggle_cnn.architectures.seed003", "kaggle_cnn.architectures.seed004",
)


@dataclass(frozen=True)
class Architecture:
    name: str
    builder: Callable
    summary: str
    source: str


_REGISTRY: dict[str, Architecture] = {}


def register(name: str, *, summary: str = "", source: str = "") -> Callable[[Callable], Callable]:
    """Decorator: make `builder` available as `kcnn train --model name`."""

    def decorate(builder: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} is registered twice")
        _REGISTRY[name] = Architecture(name, builder, summary or (builder.__doc__ or "").strip().split("\n")[0], source)
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


def build(name: str, input_shape: tuple[int, ...], n_classes: int, **options):
    """Build a fresh, uncompiled model for this data."""
    return get(name).builder(tuple(input_shape), int(n_classes), **options)
