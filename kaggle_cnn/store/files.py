"""Reading the workspace's own files back, trusting none of them.

Other tools, teammates and crashes touch a workspace: a run.json may be cut off,
index.csv overwritten, a probability file truncated. Every read of a workspace
file goes through here and any damage becomes one InputError naming the file and
what to do about it (`kcnn doctor` lists and repairs what can be derived).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn.errors import InputError, one_line

DOCTOR = "run `kcnn doctor` to see what is broken"

# Names that become files or folders of the workspace (runs, votes, studies):
# letters, digits, '_', '-', '.', '=' and '+'; never a path, never hidden (hidden
# names are the toolkit's temporary files).
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_=+-][A-Za-z0-9_.=+-]*$")
RUN_ID_LIMIT = 200  # a search trial's id holds its study's name


def is_plain_name(text: str, limit: int) -> bool:
    return 0 < len(text) <= limit and _PLAIN_NAME.match(text) is not None


def check_run_id(run_id: str) -> str:
    """A run id is a name in this workspace, nothing else: no '/', no '..'."""
    text = str(run_id)
    if not is_plain_name(text, RUN_ID_LIMIT):
        raise InputError(f"run id {text!r}: not a run name (a run is named by its folder in models/, e.g. cnn1-s0-a000)")
    return text


def read_record(path: str | os.PathLike, required: Iterable[str] = ()) -> dict[str, Any]:
    """A JSON object the toolkit wrote (run.json, a split, a vote's sidecar)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: missing ({DOCTOR})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: damaged, not valid JSON ({one_line(error, 80)}); {DOCTOR}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: damaged, expected a JSON object; {DOCTOR}")
    missing = [key for key in required if key not in data]
    if missing:
        raise InputError(f"{path}: damaged, no {missing[0]!r}; {DOCTOR}")
    return data


def value_at(record: dict[str, Any], path: Path, *keys: str, kind: type | tuple = object) -> Any:
    """record[k1][k2]..., refused as damage when absent or of the wrong type."""
    value: Any = record
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise InputError(f"{path}: damaged, no {'.'.join(keys)}; {DOCTOR}")
        value = value[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind in (int, float, (int, float)):
        raise InputError(f"{path}: damaged, {'.'.join(keys)} is {one_line(repr(value), 40)}; {DOCTOR}")
    return value


def read_array(path: str | os.PathLike, *, rows: int | None = None, columns: int | None = None,
               probabilities: bool = True) -> np.ndarray:
    """A stored .npy array (never a pickle), with the shape the run promises and,
    for probabilities, finite values in [0, 1]."""
    path = Path(path)
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: missing ({DOCTOR})") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise InputError(f"{path}: damaged, not a stored array ({one_line(error, 80)}); {DOCTOR}") from None
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.number):
        raise InputError(f"{path}: damaged, holds {getattr(array, 'dtype', type(array))} values, not numbers; {DOCTOR}")
    expected = (rows, columns)
    if array.ndim != 2 or any(want is not None and got != want for got, want in zip(array.shape, expected)):
        shape = "x".join("?" if n is None else str(n) for n in expected)
        raise InputError(f"{path}: damaged, shape {'x'.join(map(str, array.shape))} where {shape} was stored; {DOCTOR}")
    if probabilities and array.size and not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1):
        raise InputError(f"{path}: damaged, probabilities outside [0, 1] or not finite; {DOCTOR}")
    return array


def file_sha256(path: str | os.PathLike) -> str:
    """The checksum that ties a vote's sidecar to the CSV it describes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
