"""Search spaces written in YAML, turned into hyperopt expressions or a grid.

    model: kaggle_ensemble          # fixed settings: any `kcnn train` option
    preset: kaggle28                # or architecture option; a preset's recipe
    epochs: 5                       # goes under them
    space:                          # searched settings
      dropout1: {uniform: [0.0, 0.5]}
      dense1: {choice: [128, 256, 512]}
      optimizer:                    # a choice of groups: each option is a
        choice:                     # mapping of settings, with their own ranges
          - {optimizer: adam, lr: {choice: [0.001, 0.01, 0.1]}}
          - {optimizer: sgd, lr: {loguniform: [0.001, 0.1]}}

Distributions: choice [values], uniform [low, high], loguniform [low, high] (in
natural units), quniform [low, high, q], randint [low, high), normal [mean, sd].
Every name is checked against the train options and the model's own options
before anything runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaggle_cnn.config import TrainConfig
from kaggle_cnn.errors import InputError
from kaggle_cnn.fileio import read_yaml
from kaggle_cnn.training.presets import preset_settings
from kaggle_cnn.training.settings import allowed_options, check_name, check_value

DISTRIBUTIONS = {"choice": None, "uniform": 2, "loguniform": 2, "quniform": 3, "randint": 2, "normal": 2}


@dataclass(frozen=True)
class Dist:
    """One searched setting: a distribution and its arguments."""

    kind: str
    args: tuple
    label: str  # unique within the space, shown in results


@dataclass(frozen=True)
class SearchSpace:
    fixed: dict[str, Any]  # settings every trial shares (model included)
    tree: dict[str, Any]  # name -> Dist, or plain value; a choice's options may be groups (dicts)
    source: str  # the file, for messages

    @property
    def model(self) -> str:
        return self.fixed["model"]


def load_space(path: str | Path, model: str | None = None) -> SearchSpace:
    """Read and check a space file; `model` (from --model) overrides the file's."""
    path, document = read_yaml(path, "space")
    if not isinstance(document, dict) or not isinstance(document.get("space"), dict) or not document["space"]:
        raise InputError(f"{path}: expected a mapping with a non-empty 'space:' section")
    fixed = {k: v for k, v in document.items() if k != "space"}
    if "preset" in fixed:  # a preset's recipe under the file's own fixed settings
        fixed = {**preset_settings(str(fixed.pop("preset"))), **fixed}
    if model is not None:
        fixed["model"] = model
    fixed.setdefault("model", TrainConfig.model)
    if "model" in document["space"]:
        raise InputError(f"{path}: search one model at a time; set 'model:' outside 'space:' (or --model)")
    allowed = allowed_options(fixed["model"])
    for name, value in fixed.items():
        check_name(name, allowed, path)
        check_value(name, value, path)
    tree = {name: _parse(value, name, allowed, path) for name, value in document["space"].items()}
    for name in document["space"]:
        check_name(name, allowed | {name} if _is_group_choice(document["space"][name]) else allowed, path)
    return SearchSpace(fixed, tree, str(path))


def _is_group_choice(value: Any) -> bool:
    return isinstance(value, dict) and list(value) == ["choice"] and isinstance(value["choice"], list) and any(
        isinstance(option, dict) and not _is_distribution(option) for option in value["choice"])


def _is_distribution(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in DISTRIBUTIONS


def _parse(value: Any, label: str, allowed: set[str], path: Path) -> Any:
    if not _is_distribution(value):
        if isinstance(value, dict):
            raise InputError(f"{path}: {label}: expected a value or one of {', '.join(DISTRIBUTIONS)}, got keys {list(value)}")
        return value
    kind, args = next(iter(value.items()))
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise InputError(f"{path}: {label}: choice needs a non-empty list of values")
        return Dist("choice", tuple(_parse_option(o, f"{label}[{i}]", allowed, path) for i, o in enumerate(args)), label)
    if not isinstance(args, list) or len(args) != DISTRIBUTIONS[kind] or not all(isinstance(a, (int, float)) for a in args):
        raise InputError(f"{path}: {label}: {kind} takes {DISTRIBUTIONS[kind]} numbers, got {args!r}")
    if kind != "normal" and args[0] > args[1]:
        raise InputError(f"{path}: {label}: {kind} low {args[0]} is above high {args[1]}")
    if kind == "randint" and int(args[1]) <= int(args[0]):
        raise InputError(f"{path}: {label}: randint [{args[0]}, {args[1]}) holds no integer: it draws from low up "
                         "to, not including, high; give a high above low")
    if kind == "loguniform" and args[0] <= 0:
        raise InputError(f"{path}: {label}: loguniform needs a positive low, got {args[0]}")
    if kind == "normal" and args[1] <= 0:
        raise InputError(f"{path}: {label}: normal needs a positive standard deviation")
    return Dist(kind, tuple(args), label)


def _parse_option(option: Any, label: str, allowed: set[str], path: Path) -> Any:
    """A choice option: a plain value, a distribution, or a group of settings."""
    if isinstance(option, dict) and not _is_distribution(option):
        for name, value in option.items():
            check_name(name, allowed, path)
            if not _is_distribution(value):
                check_value(name, value, path)
        return {name: _parse(value, f"{label}.{name}", allowed, path) for name, value in option.items()}
    return _parse(option, label, allowed, path)


# -- hyperopt -------------------------------------------------------------------------


def to_hyperopt(space: SearchSpace) -> dict[str, Any]:
    return {name: _hp(node) for name, node in space.tree.items()}


def _hp(node: Any) -> Any:
    from hyperopt import hp

    if isinstance(node, dict):
        return {name: _hp(value) for name, value in node.items()}
    if not isinstance(node, Dist):
        return node
    a = node.args
    if node.kind == "choice":
        return hp.choice(node.label, [_hp(option) for option in a])
    if node.kind == "uniform":
        return hp.uniform(node.label, a[0], a[1])
    if node.kind == "loguniform":
        return hp.loguniform(node.label, math.log(a[0]), math.log(a[1]))
    if node.kind == "quniform":
        return hp.quniform(node.label, a[0], a[1], a[2])
    if node.kind == "randint":
        return hp.randint(node.label, int(a[0]), int(a[1]))
    return hp.normal(node.label, a[0], a[1])


# -- grid -----------------------------------------------------------------------------


class Grid:
    """Every combination of choice values, in file order: the last setting varies
    fastest, and a choice's options come in the order written (a group's own
    combinations in turn). Points are computed from their index, so a grid of
    10^12 points costs no more memory than one of 4."""

    def __init__(self, space: SearchSpace):
        self.tree = space.tree
        self._sizes: dict[int, int] = {}  # id(node) -> how many points it spans
        self.size = self._size(space.tree, space.source)

    def point(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.size:
            raise IndexError(f"grid point {index} of {self.size}")
        return self._at(self.tree, index)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.point(index)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        index = 0
        while index < self.size:
            yield self.point(index)
            index += 1

    def _size(self, node: Any, source: str) -> int:
        if isinstance(node, dict):
            size = math.prod(self._size(value, source) for value in node.values())
        elif not isinstance(node, Dist):
            return 1
        elif node.kind != "choice":
            raise InputError(f"{source}: {node.label}: a grid needs choice values, not {node.kind}; "
                             "use --algo tpe or rand")
        else:
            size = sum(self._size(option, source) for option in node.args)
        self._sizes[id(node)] = size
        return size

    def _at(self, node: Any, index: int) -> Any:
        """The index-th combination of `node`: mixed-radix digits for a group (the last
        name the lowest digit), the option spanning `index` for a choice."""
        if isinstance(node, dict):
            values = {}
            for name in reversed(list(node)):
                index, digit = divmod(index, self._sizes.get(id(node[name]), 1))
                values[name] = self._at(node[name], digit)
            return {name: values[name] for name in node}
        if not isinstance(node, Dist):
            return node
        for option in node.args:
            size = self._sizes.get(id(option), 1)
            if index < size:
                return self._at(option, index)
            index -= size
        raise IndexError(index)  # unreachable: sizes add up


def grid(space: SearchSpace) -> Grid:
    """The space's grid (refused when a setting is not a choice); its points are made
    one at a time, when asked for."""
    return Grid(space)


# -- from a sample to train settings ----------------------------------------------------


def settings(space: SearchSpace, sample: dict[str, Any]) -> dict[str, Any]:
    """Fixed settings plus a sample, groups flattened, integral floats made ints."""
    merged = dict(space.fixed)
    for name, value in sample.items():
        if isinstance(value, dict):
            merged.update({k: _plain(v) for k, v in value.items()})
        else:
            merged[name] = _plain(value)
    return merged


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars from hyperopt
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**31:
        return int(value)
    return value
