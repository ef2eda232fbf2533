"""hyperas-style templates, run on hyperopt directly (hyperas no longer imports
under Keras 3).

A template is a Python file with `data()` returning arrays and
`create_model(...)` (taking what `data()` returns) whose body holds markers:

    model.add(Dense({{choice([256, 512])}}))
    model.add(Dropout({{uniform(0, 1)}}))
    optimizer={{choice(['adam', 'sgd'])}}

and which returns `{'loss': ..., 'status': STATUS_OK, 'model': model}`.
Markers: choice([...]), uniform(a, b), loguniform(a, b) and quniform(a, b, q)
(as in hyperas and hyperopt, loguniform's bounds are logarithms), normal(m, s).
Each marker is labelled by what it sits in: the keyword it is passed as
(`optimizer`), else the layer call it is an argument of (`Dense`, `Dropout`; a
capitalised name, however deeply nested), else the innermost call; numbered when
repeated (`Dropout_2`). The whole file runs as a module, so its imports
and helper functions keep working (hyperas itself drops helper functions).
"""

from __future__ import annotations

import ast
import math
import re
import traceback
import types
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaggle_cnn.errors import InputError, one_line
from kaggle_cnn.search.space import Dist, SearchSpace

MARKER = re.compile(r"\{\{(.*?)\}\}", re.S)
SPACE_NAME = "__kcnn_space__"
WHAT_A_TEMPLATE_IS = "a template is a Python file with {{choice(...)}} markers"
_KINDS = {"choice": None, "uniform": 2, "loguniform": 2, "quniform": 3, "normal": 2}


@dataclass
class Template:
    path: Path
    space: SearchSpace
    module: types.ModuleType

    def data(self) -> tuple:
        try:
            result = self.module.data()
        except InputError:
            raise
        except Exception as error:  # the template's own code: one line saying where it failed
            raise InputError(_failure(self.path, error, "data()")) from None
        return result if isinstance(result, tuple) else (result,)

    def evaluate(self, params: dict[str, Any], data: tuple) -> dict[str, Any]:
        """Call create_model with these marker values; check what it returns."""
        setattr(self.module, SPACE_NAME, params)
        result = self.module.create_model(*data)
        if not isinstance(result, dict) or "loss" not in result:
            raise InputError(f"{self.path}: create_model must return a dict with 'loss' (and 'status', 'model'); "
                             f"it returned {type(result).__name__}{' without loss' if isinstance(result, dict) else ''}")
        return result


def load_template(path: str | Path) -> Template:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such template")
    source = _read(path)
    markers = list(MARKER.finditer(source))
    if not markers:
        raise InputError(f"{path}: not a template: no {{{{choice(...)}}}} / {{{{uniform(...)}}}} markers to search")
    labels = _labels(source, markers, path)
    tree = {label: _dist(match.group(1), label, _line(source, match.start()), path) for label, match in zip(labels, markers)}
    code = _compile(_replace(source, markers, labels), path)
    module = _run_module(code, path, set(labels))
    for needed in ("data", "create_model"):
        if not callable(getattr(module, needed, None)):
            raise InputError(f"{path}: no {needed}() function (a template defines data() and create_model(...))")
    space = SearchSpace({"model": f"template:{path.stem}"}, tree, str(path))
    return Template(path, space, module)


def _line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _labels(source: str, markers: list[re.Match], path: Path) -> list[str]:
    """The keyword or call each marker sits in, numbered from the second on."""
    seen: Counter[str] = Counter()
    labels = []
    for match in markers:
        base = _context(source[: match.start()]) or "param"
        seen[base] += 1
        labels.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return labels


def _context(before: str) -> str | None:
    """The keyword a marker is passed as; else the innermost enclosing call whose
    name is capitalised (a layer: Dense, Dropout), else the innermost call."""
    keyword = re.search(r"(\w+)\s*=\s*$", before)
    if keyword:
        return keyword.group(1)
    calls, depth = [], 0
    for i in range(len(before) - 1, -1, -1):
        char = before[i]
        if char in ")]}":
            depth += 1
        elif char in "([{":
            if depth:
                depth -= 1
            elif char == "(":
                name = re.search(r"([A-Za-z_][\w.]*)\s*$", before[:i])
                if name:
                    calls.append(name.group(1).split(".")[-1])
    layer = next((c for c in calls if c[:1].isupper()), None)
    return layer or (calls[0] if calls else None)


def _dist(expression: str, label: str, line: int, path: Path) -> Dist:
    where = f"{path} line {line}"
    try:
        call = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError:
        raise InputError(f"{where}: cannot read marker {{{{{expression.strip()}}}}}") from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in _KINDS):
        raise InputError(f"{where}: marker {{{{{expression.strip()}}}}}: use {', '.join(_KINDS)}")
    kind = call.func.id
    try:
        args = [ast.literal_eval(a) for a in call.args]
    except ValueError:
        raise InputError(f"{where}: {kind}(...) takes literal values") from None
    if kind == "choice":
        if len(args) != 1 or not isinstance(args[0], list) or not args[0]:
            raise InputError(f"{where}: choice takes one non-empty list")
        return Dist("choice", tuple(args[0]), label)
    if len(args) != _KINDS[kind] or not all(isinstance(a, (int, float)) for a in args):
        raise InputError(f"{where}: {kind} takes {_KINDS[kind]} numbers")
    if kind != "normal" and args[0] > args[1]:
        raise InputError(f"{where}: {kind} low {args[0]} is above high {args[1]}")
    if kind == "loguniform":  # hyperas bounds are logarithms; our Dist holds natural units
        return Dist("loguniform", (math.exp(args[0]), math.exp(args[1])), label)
    return Dist(kind, tuple(args), label)


def _replace(source: str, markers: list[re.Match], labels: list[str]) -> str:
    pieces, last = [], 0
    for match, label in zip(markers, labels):
        pieces += [source[last: match.start()], f"{SPACE_NAME}[{label!r}]"]
        last = match.end()
    return "".join(pieces + [source[last:]])


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read ({one_line(error.strerror or error, 80)})") from None
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a template (not UTF-8 text; {WHAT_A_TEMPLATE_IS})") from None
    if "\x00" in source:
        raise InputError(f"{path}: not a template (a binary file; {WHAT_A_TEMPLATE_IS})")
    return source


def _compile(source: str, path: Path) -> types.CodeType:
    try:
        return compile(source, str(path), "exec")
    except SyntaxError as error:
        raise InputError(f"{path} line {error.lineno}: not a template: not valid Python ({one_line(error.msg, 80)}); "
                         f"{WHAT_A_TEMPLATE_IS}") from None
    except ValueError as error:
        raise InputError(f"{path}: not a template: not valid Python ({one_line(error, 80)})") from None


def _failure(path: Path, error: Exception, what: str) -> str:
    """`path line N: what raised Type: message`."""
    return f"{_where(path, error)}: {what} raised {type(error).__name__}: {one_line(error, 160)}"


def _where(path: Path, error: Exception) -> str:
    """`path line N`, N the deepest line of the template itself where `error` passed."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == str(path)]
    return f"{path} line {lines[-1]}" if lines else str(path)


def _run_module(code: types.CodeType, path: Path, labels: set[str]) -> types.ModuleType:
    from hyperopt import STATUS_FAIL, STATUS_OK

    from kaggle_cnn.backend import load_keras

    load_keras()  # templates import Keras: load it here, quietly, first
    module = types.ModuleType(f"kcnn_template_{path.stem}")
    module.__file__ = str(path)
    module.__dict__.update({"STATUS_OK": STATUS_OK, "STATUS_FAIL": STATUS_FAIL, SPACE_NAME: {}})
    try:
        exec(code, module.__dict__)  # the user's own file, as `python model.py` would run it
    except InputError:
        raise
    except Exception as error:
        if isinstance(error, KeyError) and error.args and error.args[0] in labels:
            raise InputError(f"{_where(path, error)}: marker {error.args[0]!r} is outside create_model(...); markers are "
                             "searched values of create_model, set anew for every trial") from None
        raise InputError(_failure(path, error, "the template")) from None
    return module
