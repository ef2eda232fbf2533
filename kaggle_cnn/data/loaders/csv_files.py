"""Reading a competition's CSV files: one-line errors that name the file, line
(header = line 1) and column, because the person fixing it is looking at that
file in an editor. Files may be gzip-compressed (train.csv.gz ...)."""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import pandas as pd

from kaggle_cnn.errors import InputError, one_line

_MAX_LISTED_COLUMNS = 8


def find_file(folder: Path, name: str) -> Path | None:
    """The plain file if present, else its .gz twin; plain wins as the likelier edited copy."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Turn whatever pandas/gzip raise on a bad file into a one-line InputError."""
    name = path.name
    try:
        yield
    except pd.errors.EmptyDataError:
        raise InputError(f"{name}: empty file") from None
    except pd.errors.ParserError as exc:
        raise InputError(_parser_message(name, exc)) from None
    except UnicodeDecodeError:
        raise InputError(f"{name}: not a UTF-8 text CSV file (binary or wrong encoding?)") from None
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise InputError(f"{name}: cannot read ({one_line(exc)})") from None
    except (ValueError, csv.Error) as exc:  # pandas' catch-all for input it cannot tokenise
        raise InputError(f"{name}: cannot parse as CSV ({one_line(exc)})") from None


def _parser_message(name: str, exc: Exception) -> str:
    text = one_line(exc)
    # pandas counts physical lines with the header as line 1, as we do.
    ragged = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if ragged:
        want, line, got = ragged.groups()
        return f"{name} line {line}: {got} fields, but the header has {want}"
    return f"{name}: cannot parse as CSV ({text.removeprefix('Error tokenizing data. ')})"


def read_header(path: Path) -> list[str]:
    """Raw header names, read with the csv module.

    pandas would silently rename duplicate names ("a.1") and builds a Series per
    column, which dominates the cost of small, wide files.
    """
    with reading(path), _open_text(path, errors="strict") as handle:
        line = next((line for line in handle if line.strip()), None)
    if line is None:
        raise InputError(f"{path.name}: empty file")
    if "\x00" in line:
        raise InputError(f"{path.name}: not a text CSV file (binary data in the header)")
    names = next(csv.reader([line]))
    while len(names) > 1 and not names[-1].strip():
        names.pop()  # a trailing comma on every line: pandas drops the extra field too
    if len(names) == 1:
        sep = next((s for s in (";", "\t", "|") if s in names[0]), None)
        if sep is not None:
            raise InputError(
                f"{path.name} line 1: one column only; the file seems separated by {sep!r}, "
                "but a competition CSV must use commas"
            )
    seen: set[str] = set()
    for position, col in enumerate(names, start=1):
        if not col.strip():
            raise InputError(f"{path.name} line 1: column {position} has no name")
        if col in seen:
            raise InputError(f"{path.name} line 1: duplicate column name {col!r}")
        seen.add(col)
    return names


def _open_text(path: Path, errors: str) -> TextIO:
    """Open a CSV as text, gzip-aware, dropping a UTF-8 byte-order mark like pandas does."""
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", errors=errors)
    return open(path, encoding="utf-8-sig", errors=errors)


def read_table(path: Path, text_columns: Sequence[str], only: Sequence[str] | None = None) -> pd.DataFrame:
    """Whole file (or only the columns `only`); text columns kept as exact strings,
    pixel columns left to the C parser."""
    with reading(path):
        return pd.read_csv(
            path,
            usecols=only,
            engine="c",
            dtype={c: str for c in text_columns},
            # Only an empty cell is missing: labels or ids such as "NA" or "null"
            # are real values that must come back unchanged.
            keep_default_na=False,
            na_values=[""],
            # index_col=False: never turn the first column into an index when rows
            # carry a trailing comma; low_memory=False: one dtype per column.
            index_col=False,
            low_memory=False,
        )


def file_line(path: Path, row: int) -> int:
    """Physical line number (header = 1) of data row `row`, skipping blank lines like pandas.

    Only called after a check failed, so re-reading the file here is fine.
    """
    seen = -1  # the first non-blank line is the header
    with _open_text(path, errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if seen == row:
                return number
            seen += 1
    return row + 2


def list_columns(names: Sequence[str]) -> str:
    """A short listing for messages: a few names, each cut to a readable length."""
    shown = ", ".join(n if len(n) <= 30 else n[:27] + "..." for n in names[:_MAX_LISTED_COLUMNS])
    if len(names) > _MAX_LISTED_COLUMNS:
        shown += f", ... ({len(names)} in all)"
    return shown


def cell_error(path: Path, row: int, column: str, problem: str) -> str:
    return f"{path.name} line {file_line(path, int(row))}, column {column}: {problem}"


