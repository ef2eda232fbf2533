"""`download` and `submit`: the steps of the round trip with kaggle.com, in order.

A download goes into a hidden folder beside the target and is renamed to the
target only once it is complete (unzipped, marked), so a failure or Ctrl-C never
leaves a half-written competition behind. A submission is checked as `kcnn check`
checks it before anything is sent.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from kaggle_cnn import fileio
from kaggle_cnn.competition.kaggle_cli import ready_tool, run_tool
from kaggle_cnn.competition.unpack import unpack_all
from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.score import check

MARKER = ".kaggle-competition"  # in a downloaded folder: the competition's name, for `submit --data`
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
DOWNLOAD_TIMEOUT = 6 * 3600  # seconds: tens of gigabytes over a slow line
SUBMIT_TIMEOUT = 30 * 60
STAGING_SUFFIX = "XXXXXXXX"  # what tempfile puts there, as a dry run shows it


@dataclass
class Download:
    """A downloaded competition: its folder, what is in it, the commands that ran."""

    competition: str
    folder: Path
    commands: list[str]
    entries: list[str] = field(default_factory=list)  # top-level names; folders end in "/"
    files: int = 0
    dry_run: bool = False


@dataclass
class Submission:
    """A submission sent (or, in a dry run, checked and ready to send)."""

    competition: str
    submission: Path
    message: str
    rows: int
    checked: list[str]
    command: str
    output: list[str] = field(default_factory=list)  # what the Kaggle tool said
    dry_run: bool = False


def download(competition: str, folder: str | Path | None = None, *, dry_run: bool = False) -> Download:
    """Download a competition's files with the Kaggle tool into `folder` (default
    ./COMPETITION), unzip them (zips inside included) and mark the folder with the
    competition's name. A dry run checks the name and folder only (not the tool or
    credentials, so it works before either is set up) and returns the commands."""
    name = competition_name(competition)
    target = Path(folder) if folder is not None else Path(name)
    _check_target(target)
    if dry_run:
        staging = target.parent / f"{fileio.temporary_prefix(target)}{STAGING_SUFFIX}"
        return Download(name, target, _download_steps(name, staging, target), dry_run=True)
    tool = ready_tool("kcnn download")
    # Ctrl-C included, nothing half-downloaded stays; a target written to since the check above is kept
    with fileio.atomic_folder(target) as staging:
        run_tool(tool, _download_args(name, staging), name, DOWNLOAD_TIMEOUT)
        if not any(staging.iterdir()):
            raise InputError(f"the Kaggle tool downloaded nothing for {name} (it reported no error); "
                             "try again, or check the competition's Data page")
        unpack_all(staging)
        (staging / MARKER).write_text(name + "\n")
    entries, files = _contents(target)
    return Download(name, target, _download_steps(name, staging, target), entries, files)


def submit(submission: str | Path, message: str, *, competition: str | None = None,
           data: str | Path | None = None, dry_run: bool = False) -> Submission:
    """Check `submission` as `kcnn check` does (against DATA/sample_submission.csv and
    DATA's labels when `data` is given), then send it with the Kaggle tool. The
    competition is `competition`, else the one `data` was downloaded from. A dry
    run checks and returns the command without sending anything."""
    if not message.strip():
        raise InputError("--message is empty: say what this submission is (Kaggle lists it beside the score)")
    name = _submission_competition(competition, data)
    tool = None if dry_run else ready_tool("kcnn submit")
    checked = check(submission, data=data)  # against DATA's own sample_submission.csv, when it has one
    # --file=PATH, --message=TEXT: one argument each, so that a message such as "-h"
    # (or a file name starting with "-") cannot read as an option to the tool.
    args = ["competitions", "submit", "-c", name, f"--file={submission}", f"--message={message}"]
    result = Submission(name, Path(submission), message, checked["rows"], checked["checked"],
                        shlex.join(["kaggle", *args]), dry_run=dry_run)
    if tool is not None:
        result.output = run_tool(tool, args, name, SUBMIT_TIMEOUT)
    return result


def competition_name(name: str) -> str:
    """The name as Kaggle's URLs spell it; refused when it could not be one (or would
    read as an option, or a path, to the tool)."""
    if not NAME.fullmatch(name or ""):
        raise InputError(f"{name!r} is not a competition name: use the last part of the competition's URL "
                         "(as in titanic or dogs-vs-cats)")
    return name


def read_marker(data: str | Path) -> str | None:
    """The competition a folder was downloaded from (its marker file), or None."""
    folder = Path(data)
    if not folder.is_dir():
        raise InputError(f"--data {data}: no such folder")
    marker = folder / MARKER
    return competition_name(marker.read_text().strip()) if marker.is_file() else None


def _submission_competition(competition: str | None, data: str | Path | None) -> str:
    marked = read_marker(data) if data is not None else None
    if competition is not None:
        name = competition_name(competition)
        if marked is not None and marked != name:
            raise InputError(f"--competition {name}, but --data {data} was downloaded from {marked}")
        return name
    if marked is not None:
        return marked
    if data is not None:
        raise InputError(f"--data {data} has no {MARKER} file (kcnn download writes it): pass --competition NAME")
    raise InputError("which competition? pass --competition NAME, or --data DIR (a folder kcnn download wrote)")


def _check_target(target: Path) -> None:
    if target.resolve() == Path.cwd().resolve():
        raise InputError(f"{target}: the current folder; name a new folder for the competition")
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        raise InputError(f"{target}: exists and is not empty; name a new folder")


def _download_args(name: str, staging: Path) -> list[str]:
    return ["competitions", "download", "-c", name, "-p", str(staging)]


def _download_steps(name: str, staging: Path, target: Path) -> list[str]:
    """What a download does, as a dry run prints it."""
    return [
        shlex.join(["kaggle", *_download_args(name, staging)]),
        f"unzip every .zip in {staging} (and the zips they hold, where they lie), removing each zip",
        f"write {staging / MARKER} holding {name}",
        f"rename {staging} to {target}",
    ]


def _contents(folder: Path) -> tuple[list[str], int]:
    """Top-level names (folders end in "/", the marker left out) and the file count."""
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir() if p.name != MARKER)
    return entries, sum(1 for p in folder.rglob("*") if p.is_file() and p.name != MARKER)
