"""Atomic writes of files and folders: a temporary name in the same folder, then
a rename.

A reader (or a later command after a kill -9) sees either the old file or the
whole new one, never half of it. Every file and folder the toolkit writes goes
through here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kaggle_cnn.errors import InputError, one_line

# Every temporary name the toolkit writes starts with this, so the repair after a
# kill removes its own leftovers and nothing else (a teammate's `.notes.csv` stays).
TMP_PREFIX = ".kcnn-tmp-"


def _umask() -> int:
    """The process's umask (reading it means setting it: put straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


# What open() and mkdir() would give new files and folders (mkstemp gives 0o600, mkdtemp 0o700).
_FILE_MODE = 0o666 & ~_umask()
_FOLDER_MODE = 0o777 & ~_umask()


def temporary_prefix(path: str | os.PathLike) -> str:
    """The start of the temporary name a write of `path` uses beside it."""
    return f"{TMP_PREFIX}{Path(path).name}."


def check_file_target(path: str | os.PathLike, option: str = "") -> Path:
    """A place a file can be written: not a folder, and not under a file. Options
    that name an output check it before any work, so nothing is spent in vain."""
    path = Path(path)
    name = f"{option} {path}" if option else str(path)
    if path.is_dir():
        raise InputError(f"{name}: is a folder; give a file name")
    parent = next((p for p in path.parents if p.exists() or p.is_symlink()), None)
    if parent is not None and not parent.is_dir():
        raise InputError(f"{name}: {parent} is not a folder")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` on success.

    The temporary name keeps the final suffix so that writers which insist on an
    extension (numpy's .npy, Keras' .keras) accept it.
    """
    path = check_file_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path.stem), suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _FILE_MODE)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new temporary folder beside `path` to fill; rename it onto `path` on
    success, remove it on failure (Ctrl-C included).

    An empty folder already at `path` is replaced; anything in it makes the
    rename fail, so nothing is ever overwritten.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = Path(tempfile.mkdtemp(prefix=temporary_prefix(path), dir=path.parent))
    try:
        yield tmp_path
        os.chmod(tmp_path, _FOLDER_MODE)
        if path.is_dir() and not path.is_symlink():
            path.rmdir()  # an empty folder only; rename cannot replace a folder everywhere
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            shutil.rmtree(tmp_path, ignore_errors=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_csv(path: str | os.PathLike, frame: "Any", **to_csv_options: Any) -> None:
    """Write a pandas DataFrame atomically (index off unless asked), as RFC 4180 says:
    records end in CRLF, and a field holding a comma, a quote, a CR or an LF is
    quoted. Python's csv writer quotes a line-break character only when the record
    terminator contains it, so with LF alone a file name holding a CR would be
    written bare and split its row in two for every reader."""
    import csv

    to_csv_options.setdefault("index", False)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n", encoding="utf-8", **to_csv_options)


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays, Paths: the types our records contain."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


# Configs and search spaces are a screenful of settings: these limits refuse a file
# that would take the machine's memory (a "billion laughs" of aliases, a nesting
# that exhausts the stack) without refusing any real one.
YAML_MAX_BYTES = 1_000_000
YAML_MAX_DEPTH = 32


class MalformedYaml(InputError):
    """Text that is not YAML at all (as opposed to YAML refused for its size or shape)."""


def read_yaml(path: str | os.PathLike, what: str) -> tuple[Path, Any]:
    """(path, document) of a YAML file; a missing, malformed or oversized file is a one-line InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {what} file")
    if path.stat().st_size > YAML_MAX_BYTES:
        raise InputError(f"{path}: {path.stat().st_size:,} bytes, too large for a {what} file "
                         f"(at most {YAML_MAX_BYTES:,})")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise MalformedYaml(f"{path}: not valid YAML ({one_line(error, 120)})") from None
    return path, parse_yaml(text, str(path))


def write_yaml(path: str | os.PathLike, data: Any) -> None:
    """`data` as YAML, atomically; a value used twice is written out twice, never as
    an alias, so that read_yaml reads back what it wrote."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    write_text(path, yaml.dump(data, Dumper=Dumper, sort_keys=False))


def parse_yaml(text: str, where: str) -> Any:
    """A YAML document (safe types only); `where` starts the one-line InputError for
    one that is malformed, nested deeper than YAML_MAX_DEPTH, or uses anchors and
    aliases (&name, *name): a config has no use for them, and they are how a small
    file expands into gigabytes or refers to itself."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader):  # checked before anything is built
            line = event.start_mark.line + 1 if event.start_mark else "?"
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise InputError(f"{where} line {line}: YAML anchors and aliases (&name, *name) are not "
                                 "accepted; write the value out")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > YAML_MAX_DEPTH:
                    raise InputError(f"{where} line {line}: nested deeper than {YAML_MAX_DEPTH} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.load(text, Loader=loader)  # a safe loader: plain types only
    except yaml.YAMLError as error:
        raise MalformedYaml(f"{where}: not valid YAML ({one_line(error, 120)})") from None
