"""What shapes one training attempt: plain data, no TensorFlow, so the CLI, the
search and the store can all read and write it cheaply.

The checks of every setting live here, in one table (SETTING_CHECKS): a value is
checked the same way whether it came from an option, a --config file, --set, a
search trial or TrainConfig(...) itself, and the message names where it came from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from numbers import Integral, Real
from typing import Any

from kaggle_cnn.errors import InputError

# kcnn's names -> Keras classes (the seven that Keras offers for image classifiers)
OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop", "nadam": "Nadam",
              "adamax": "Adamax", "adagrad": "Adagrad", "adadelta": "Adadelta"}
# How the learning rate moves over an attempt (kaggle_cnn.training.schedules).
SCHEDULES = ("cosine", "plateau", "constant")
AUTO = "auto"  # --epochs auto: train until validation stops improving
# What runs are judged, kept and voted by (kaggle_cnn.evaluation.metric_registry has their definitions).
# map@K is a family: map@5 is mean average precision at 5 (any whole K >= 1, checked by the registry).
METRICS = ("accuracy", "logloss", "f1_macro", "roc_auc", "qwk", "f1_micro", "f1_samples", "f2_samples", "mean_auc", "rmse", "mae",
           "map@K")
# The metrics that grade each (image, tag) yes/no decision of a multi-label answer.
DECISION_METRICS = ("f1_micro", "f1_samples", "f2_samples")
# Regression's metrics: errors of a number per image (they imply --regression).
NUMERIC_METRICS = ("rmse", "mae")
# Probabilities are clipped to [PROBABILITY_CLIP, 1 - PROBABILITY_CLIP] before a log and in a written
# submission, as Kaggle's log-loss graders clip them: a confident wrong 0 would cost an infinite loss.
PROBABILITY_CLIP = 1e-15

# Where a value came from, for messages: a file's path names itself; these do not.
OPTIONS = "options"  # typed as command-line options: "--lr nan"
SET = "--set"  # NAME=VALUE options: "--set dropout=abc"
API = "TrainConfig"  # the Python API: "TrainConfig: epochs 0"

MAX_SEED = 2**32 - 1  # numpy's SeedSequence and Keras take seeds below 2**32


# -- checks of single values ---------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """What one setting accepts. kind: int, number (finite), choice, text or flag;
    bounds are inclusive unless *_open; `optional` accepts None (null); an int or a
    number with `choices` also takes those words ("auto")."""

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False
    choices: tuple = ()

    def __call__(self, name: str, value: Any, source: str, typed: str | None = None) -> Any:
        """The value as the setting holds it (an int, a float, ...), or a one-line
        InputError naming `source`, the setting and the value (`typed`: the text as typed)."""
        if value is None and self.optional:
            return None
        checked = self.convert(value)
        if checked is None:
            raise InputError(f"{setting_text(source, name, value, typed)}: must be {self.describe()}")
        return checked

    def convert(self, value: Any) -> Any:
        """The value as the setting holds it, or None when it is not one this takes."""
        if self.kind in ("int", "number") and isinstance(value, str) and value in self.choices:
            return value
        if self.kind == "flag":
            return value if isinstance(value, bool) else None
        if self.kind == "text":
            return value if isinstance(value, str) and value.strip() else None
        if self.kind == "choice":
            return value if isinstance(value, str) and value in self.choices else None
        if self.kind == "metric":
            return value if metric_family(value) else None
        if isinstance(value, bool) or not isinstance(value, Real):  # bool is not a number here
            return None
        if not isinstance(value, Integral) and not math.isfinite(value):
            return None
        if self.kind == "int":
            if not isinstance(value, Integral) and not float(value).is_integer():
                return None
            value = int(value)
        else:
            try:
                value = float(value)
            except OverflowError:  # an int beyond any float
                return None
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return None
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return None
        return value

    def _bounds(self) -> tuple[str | None, str | None]:
        def shown(bound: float | None) -> str | None:
            return None if bound is None else f"{bound:g}" if self.kind == "number" else str(bound)

        return shown(self.low), shown(self.high)

    def interval(self) -> str:
        """The bounds as --help shows them: "x>=1", "0<x<1", or "" when there are none."""
        low, high = self._bounds()
        left = "" if low is None else f"{low}{'<' if self.low_open else '<='}"
        right = "" if high is None else f"{'<' if self.high_open else '<='}{high}"
        if low is not None and high is None:
            return f"x{'>' if self.low_open else '>='}{low}"
        return f"{left}x{right}" if left or right else ""

    def describe(self) -> str:
        """What the setting takes, as a message ends: "an integer of at least 1"."""
        if self.kind == "flag":
            return "true or false"
        if self.kind == "text":
            return "a non-empty text"
        if self.kind in ("choice", "metric"):
            return f"one of {', '.join(map(str, self.choices))}"
        what = "an integer" if self.kind == "int" else "a finite number"
        words = f", or {' or '.join(self.choices)}" if self.choices else ""
        return self._numbers(what) + words

    def _numbers(self, what: str) -> str:
        low, high = self._bounds()
        if low is not None and high is not None:
            if self.kind == "int":
                return f"{what} from {low} to {high}"
            return f"{what} in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        if low is not None:
            return f"{what} {'greater than' if self.low_open else 'of at least'} {low}"
        if high is not None:
            return f"{what} {'less than' if self.high_open else 'of at most'} {high}"
        return what


def integer(low: int | None = None, high: int | None = None, *, optional: bool = False,
            words: tuple[str, ...] = ()) -> Check:
    """An integer within the bounds, or one of `words` (e.g. "auto")."""
    return Check("int", low, high, optional=optional, choices=words)


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False,
           optional: bool = False) -> Check:
    return Check("number", low, high, low_open, high_open, optional)


def choice(*values: str) -> Check:
    return Check("choice", choices=tuple(values))


def metric_family(name: Any) -> str | None:
    """The METRICS entry a metric name belongs to: the name itself, or map@K for any
    map@... (its K is checked by kaggle_cnn.evaluation.metric_registry); None for
    a name that is none of them."""
    if not isinstance(name, str):
        return None
    if name in METRICS:
        return name
    family = name.split("@", 1)[0] + "@K" if "@" in name else None
    return family if family in METRICS else None


def text(*, optional: bool = False) -> Check:
    return Check("text", optional=optional)


def flag() -> Check:
    return Check("flag")


RATE = number(0, 1, high_open=True)  # a dropout rate: 1 would drop everything


def parse_text(value: str) -> Any:
    """A number typed as text ("5", "1e-3", "nan", "1e400" -> inf) as a number; other text as is."""
    for kind in (int, float):
        try:
            return kind(value)
        except (TypeError, ValueError):
            pass
    return value


def setting_text(source: str, name: str, value: Any, typed: str | None = None) -> str:
    """Where a value came from and what it was: "--lr nan", "--set dropout=abc",
    "cfg.yaml: epochs 0", "TrainConfig: lr -1"."""
    if source == OPTIONS:
        return f"--{name.replace('_', '-')} {typed if typed is not None else _plain(value)}"
    if source == SET:
        return f"--set {name}={typed if typed is not None else _plain(value)}"
    shown = repr(str(value)) if isinstance(value, str) else _plain(value)
    return f"{source}: {name} {shown}"


def _plain(value: Any) -> str:
    """A value as YAML writes it: null, true, 0.001, abc."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Real) and not isinstance(value, Integral):
        return repr(float(value))
    return str(value)


def check_optimizer(name: str, where: str = "") -> None:
    """Refuse an optimizer kcnn does not know (one line, naming where it came from)."""
    if name not in OPTIMIZERS:
        raise InputError(f"{where}optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")


# -- the table: every TrainConfig field, and the options of a run of attempts ---------------

TRAIN_CHECKS: dict[str, Check] = {
    "model": text(),  # a registered name: kaggle_cnn.architectures says which
    "epochs": integer(1, words=(AUTO,)),
    "max_epochs": integer(1),
    "batch_size": integer(1, optional=True),
    "lr": number(0, low_open=True),
    "optimizer": choice(*OPTIMIZERS),
    "weight_decay": number(0, optional=True),
    "patience": integer(1, optional=True),
    "augment": text(optional=True),  # its own syntax: kaggle_cnn.training.augment
    "mix": text(optional=True),  # mixup=A,cutmix=A: kaggle_cnn.training.mixing
    "schedule": choice(*SCHEDULES),
    "warmup_epochs": number(0),
    "label_smoothing": RATE,
    "ema": flag(),
    "reduce_lr_factor": number(0, 1, low_open=True, high_open=True),
    "reduce_lr_patience": integer(1),
    "min_lr": number(0),
    "fine_tune_epochs": integer(0),
    "fine_tune_lr": number(0, low_open=True),
    "unfreeze": integer(1, optional=True),
    "mixed_precision": flag(),
}

# Options of `kcnn train` (and api.train) that are not part of a configuration.
RUN_CHECKS: dict[str, Check] = {
    "seed": integer(0, MAX_SEED),
    "keep_above": number(optional=True),  # None: keep every run;  # its range is the metric's (kaggle_cnn.evaluation.metric_registry.check_threshold)
    "metric": Check("metric", choices=METRICS),  # a name, or map@K's family: metric_family
    "folds": integer(2, optional=True),
    "refit": flag(),
    "val_fraction": number(0, 1, low_open=True, high_open=True, optional=True),
    "repeat": integer(1),
    "until_kept": integer(1, optional=True),
    "max_attempts": integer(1, optional=True),
    "time_budget": number(0, low_open=True, optional=True),  # minutes
    "per_gpu": integer(1, optional=True),
    "dropout": RATE,  # --dropout: every dropout rate of the model
}

SETTING_CHECKS: dict[str, Check] = {**TRAIN_CHECKS, **RUN_CHECKS}


def check_setting(name: str, value: Any, source: str, *, typed: bool = False) -> Any:
    """One setting of SETTING_CHECKS, checked and normalised (e.g. 5.0 -> 5 for an
    integer); `typed`: the value is command-line text, parsed here ("1e400" is inf)."""
    if typed and isinstance(value, str):
        return SETTING_CHECKS[name](name, parse_text(value), source, typed=value)
    return SETTING_CHECKS[name](name, value, source)


def check_train_config(config: TrainConfig | Mapping[str, Any], source: str = API) -> dict[str, Any]:
    """The TrainConfig fields of `config` (a TrainConfig, or flat settings whose
    other names are architecture options), checked and normalised; a one-line
    InputError names `source`, the field and the value."""
    settings = {f.name: getattr(config, f.name) for f in fields(config)} if isinstance(config, TrainConfig) \
        else dict(config)
    for name in ("augment", "mix"):  # --augment none switches a recipe's augmentation off
        if isinstance(settings.get(name), str) and settings[name].strip().lower() == "none":
            settings[name] = None
    checked = {name: TRAIN_CHECKS[name](name, value, source) for name, value in settings.items()
               if name in TRAIN_CHECKS}
    if "model_options" in settings:
        options = settings["model_options"]
        if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
            raise InputError(f"{source}: model_options must map option names to values, got {options!r}")
        checked["model_options"] = dict(options)
    return checked


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes one attempt, recorded in run.json. Every field is
    checked (TRAIN_CHECKS) when a TrainConfig is made: a bad one is an InputError.

    The defaults are the default recipe (`--preset default`); the 28x28 Kaggle
    write-up's recipe is `--preset kaggle28` (kaggle_cnn.training.presets). Why
    each default: benchmarks/RESULTS.md."""

    model: str = "small_resnet"
    epochs: int | str = 12  # or "auto": until validation stops improving, at most max_epochs
    batch_size: int | None = None  # None: 128, smaller for small training sets (training.options)
    lr: float = 3e-3
    optimizer: str = "adamw"  # one of OPTIMIZERS; sgd uses momentum 0.9
    weight_decay: float | None = 0.05  # decoupled weight decay, as Keras optimizers apply it (times the rate)
    patience: int | None = None  # early stopping on validation loss, best weights restored
    augment: str | None = None  # e.g. "shift=0.1,rotation=10": preprocessing layers (kaggle_cnn.training.augment)
    mix: str | None = None  # e.g. "mixup=0.2,cutmix=1": batches of mixed images (kaggle_cnn.training.mixing)
    # The 28x28 Kaggle write-up used ReduceLROnPlateau(monitor='val_loss', factor=0.2,
    # patience=5, min_lr=0.001) with Adam(lr=0.001): a min_lr equal to the starting
    # rate never lets it act, so ours stops at 1e-5 instead. Used with schedule "plateau".
    reduce_lr_factor: float = 0.2
    reduce_lr_patience: int = 5
    min_lr: float = 1e-5
    # Transfer learning (pretrained backbones): after `epochs` with the base frozen,
    # unfreeze it (all of it, or its last `unfreeze` layers) and train on at a low
    # rate. 1e-5 is the Keras guide's usual choice (the cats-vs-dogs recipe used 1e-6).
    fine_tune_epochs: int = 0
    fine_tune_lr: float = 1e-5
    unfreeze: int | None = None
    # Mixed precision: float16 on a GPU, bfloat16 on a CPU, the classifier in float32.
    mixed_precision: bool = False
    # How the rate moves: cosine (from lr down to 0 after a linear warm-up),
    # plateau (ReduceLROnPlateau, the 28x28 write-up's), constant.
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.0
    ema: bool = False  # keep an exponential moving average of the weights and end with it
    max_epochs: int = 40  # the most --epochs auto trains
    model_options: dict[str, Any] = field(default_factory=dict)

    @property
    def auto_epochs(self) -> bool:
        return self.epochs == AUTO

    @property
    def epoch_cap(self) -> int:
        """The most epochs of the first phase: `epochs`, or `max_epochs` with --epochs auto."""
        return self.max_epochs if self.auto_epochs else self.epochs

    @property
    def total_epochs(self) -> int:
        """The most epochs of every phase: training (or the frozen base), then fine-tuning."""
        return self.epoch_cap + self.fine_tune_epochs

    def __post_init__(self) -> None:
        for name, value in check_train_config(self, API).items():
            object.__setattr__(self, name, value)  # normalised: 5.0 epochs -> 5, lr 1 -> 1.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], source: str = API) -> TrainConfig:
        """Flat settings (a search trial, a --config file): the fields of this class
        go to it, everything else to the architecture's own options (which
        kaggle_cnn.architectures checks). A bad field's message names `source`."""
        own = check_train_config({k: v for k, v in settings.items() if k in TRAIN_OPTIONS}, source)
        return cls(**own, model_options={k: v for k, v in settings.items() if k not in TRAIN_OPTIONS})


# The settings that are TrainConfig's own; every other setting is an architecture option.
TRAIN_OPTIONS = frozenset(f.name for f in fields(TrainConfig)) - {"model_options"}
if TRAIN_OPTIONS != set(TRAIN_CHECKS):
    raise RuntimeError(f"TRAIN_CHECKS must cover the TrainConfig fields: {sorted(TRAIN_OPTIONS ^ set(TRAIN_CHECKS))}")


# -- option values that several commands share: image shapes and sizes -----------------

ImageShape = tuple[int, int, int]
_DIMENSIONS = re.compile(r"\s*[xX,]\s*")


def parse_image_shape(text: str) -> ImageShape:
    """Parse "28x28x1", "28,28,1", "32x32x3" or "28x28" (C=1) into (H, W, C)."""
    parts = _DIMENSIONS.split(str(text).strip())
    if len(parts) == 2:
        parts.append("1")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise InputError(
            f"image shape {text!r}: expected HxWxC with positive integers, e.g. 28x28x1 or 32x32x3"
        )
    h, w, c = (int(p) for p in parts)
    return h, w, c


def parse_image_size(text: str) -> tuple[int, int]:
    """"64" -> (64, 64); "64x48" -> (64, 48), height x width."""
    parts = _DIMENSIONS.split(str(text).strip())
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise InputError(f"image size {text!r}: expected N or HxW with positive integers, e.g. 64 or 64x48")
    return int(parts[0]), int(parts[1])


def check_image_size(value: Any) -> tuple[int, int]:
    """An image size given as "HxW", N, or (H, W) (a list too, as run.json gives it back)."""
    if isinstance(value, str):
        return parse_image_size(value)
    if isinstance(value, Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        h, w = value
    except (TypeError, ValueError):
        raise InputError(f"image size {value!r}: expected (height, width)") from None
    if not all(isinstance(v, Integral) and not isinstance(v, bool) and v > 0 for v in (h, w)):
        raise InputError(f"image size {_size_text(value)}: height and width must be positive integers")
    return int(h), int(w)


def _size_text(value: Any) -> str:
    try:
        return "x".join(str(v) for v in value)
    except TypeError:
        return repr(value)
