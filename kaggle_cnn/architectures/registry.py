"""The architecture registry: a name -> builder map, as timm does it.

A builder takes the input shape and class count (both from the data) plus its own
keyword options and returns an uncompiled keras.Model. Compiling, seeding and
fitting belong to kaggle_cnn.training, so every architecture trains the same way.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kaggle_cnn.config import RATE, Check, flag, integer, number, text
from kaggle_cnn.errors import InputError, one_line

# Modules whose import registers the built-in architectures. Imported lazily:
# they import Keras (and so TensorFlow), which commands like `vote` never need.
_BUILTIN_MODULES = (
    "kaggle_cnn.architectures.small_cnns", "kaggle_cnn.architectures.classic", "kaggle_cnn.architectures.kaggle28",
    "kaggle_cnn.architectures.backbones", "kaggle_cnn.architectures.small_resnet",
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
    # option name -> Check (kaggle_cnn.config), for options whose default does not
    # say what they take (see option_checks)
    limits: Mapping[str, Check] | None = None


_REGISTRY: dict[str, Architecture] = {}


def register(name: str, *, summary: str = "", source: str = "", **details) -> Callable[[Callable], Callable]:
    """Decorator: make `builder` available as `kcnn train --model name`; `details`
    are Architecture's other fields (pretrained, min_size, check, limits)."""

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


def option_checks(name: str) -> dict[str, Check]:
    """What each of the architecture's options takes: its declared limits, else what
    its default says (a bool: true or false; an int: a count, width or size of at
    least 1; a float: a dropout rate in [0, 1) or any finite number; text: text)."""
    architecture = get(name)
    declared = dict(architecture.limits or {})
    checks = {}
    for option, default in options(name).items():
        check_ = declared.get(option) or _check_from_default(option, default)
        if check_ is None:
            raise TypeError(f"{name}: option {option} needs a declared check in limits= (its default is {default!r})")
        checks[option] = check_
    return checks


def _check_from_default(option: str, default: Any) -> Check | None:
    if isinstance(default, bool):
        return flag()
    if isinstance(default, int):
        return integer(1)
    if isinstance(default, float):
        return RATE if "dropout" in option or option.endswith("rate") else number()
    if isinstance(default, str):
        return text()
    return None


def check_options(name: str, given: Mapping[str, Any], source: str | Mapping[str, str] | None = None) -> dict:
    """The architecture's options `given`, checked and normalised; a one-line
    InputError names the source (one for all, or one per option; default the model)
    and the option. Names the model does not have are refused too."""
    checks = option_checks(name)
    checked = {}
    for option, value in given.items():
        where = source.get(option, name) if isinstance(source, Mapping) else (source or name)
        if option not in checks:
            known = ", ".join(checks) or "none"
            raise InputError(f"{where}: {name} has no option {option!r} (its options: {known})")
        checked[option] = checks[option](option, value, where)
    return checked


def check(name: str, input_shape: tuple[int, ...], n_classes: int, **options) -> None:
    """Refuse options this architecture cannot build with, and images it cannot
    take, before anything is written."""
    architecture = get(name)
    options = check_options(name, options)
    if architecture.check is not None:
        architecture.check(tuple(input_shape), int(n_classes), **options)
    if not architecture.pretrained:  # backbones resize their input up to what they take
        shapes_only_build(name, input_shape, n_classes, **options)


def build(name: str, input_shape: tuple[int, ...], n_classes: int, **options):
    """Build a fresh, uncompiled model for this data."""
    return get(name).builder(tuple(input_shape), int(n_classes), **check_options(name, options))


def shapes_only_build(name: str, input_shape: tuple[int, ...], n_classes: int, **options):
    """The model with its layers and shapes but no weight values (Keras defers
    them), so any size costs no memory: for counting parameters and for checking
    that the images fit. Images too small for the network are a one-line InputError."""
    from kaggle_cnn.backend import load_keras

    keras = load_keras()
    try:
        with _weights_deferred(keras):
            return build(name, input_shape, n_classes, **options)
    except ValueError as error:
        shape = "x".join(str(d) for d in input_shape)
        if _too_small(str(error)):
            raise InputError(f"{name} cannot take {shape} images: its convolutions and pooling shrink them below "
                             f"1 pixel; load them larger (--image-size) or pick a model that fits (kcnn models "
                             f"--image-shape {shape})") from None
        raise InputError(f"{name} cannot be built for {shape} images: {one_line(error, 200)}") from None


_TOO_SMALL = ("negative", "would be zero", "size would be 0", "less than or equal to 0")


def _too_small(message: str) -> bool:
    return any(words in message.lower() for words in _TOO_SMALL)


@contextlib.contextmanager
def _weights_deferred(keras):
    """Variables made in a StatelessScope get no values until Keras initialises
    them; Keras keeps a list of them for that, and the list as it was is put back
    afterwards so that nothing ever gives these values."""
    try:
        from keras.src.backend.common import global_state
    except ImportError:  # a Keras without it: a plain build (weights allocated)
        yield
        return
    pending = global_state.get_global_attribute("uninitialized_variables")
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute("uninitialized_variables", pending)


def load_model(path):
    """A saved model.keras, with kcnn's own layers (e.g. a backbone's preprocessing)
    registered first; for predicting, so without its training loss and optimizer."""
    from kaggle_cnn.backend import load_keras

    _load_builtins()
    return load_keras().saving.load_model(path, compile=False)
