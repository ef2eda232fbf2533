"""`kcnn doctor`: what is broken in a workspace, and the repairs that can be derived.

Listing touches nothing. With `fix`, the doctor repairs what the workspace itself
can rebuild (its index from the kept runs' records, a member's published CSV from
the run's own copy, a killed command's temporary files, a vote record that no
longer describes its CSV) and moves damaged runs aside into models/broken/, so
every other command stops warning about them. Nothing a user made is deleted.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kaggle_cnn import fileio
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.files import DOCTOR, file_sha256, read_record
from kaggle_cnn.store.run import index_row, read_run
from kaggle_cnn.store.workspace import Workspace


@dataclass
class Finding:
    """One thing wrong: where, what, and what fixing it does (or must be done by hand)."""

    path: Path
    problem: str
    remedy: str
    fixable: bool
    fixed: bool = False

    @property
    def unresolved(self) -> bool:
        return not self.fixed and self.remedy != KEEP


def doctor(workspace: Workspace, *, fix: bool = False) -> list[Finding]:
    """Everything broken in `workspace`, in a fixed order; with `fix`, repaired
    where it can be (findings then say `fixed`)."""
    if not fix:
        return _examine(workspace, busy=workspace.busy())
    with workspace.lock():
        findings = _examine(workspace, busy=False)
        # Damaged runs go aside before the index is rebuilt from the runs left.
        for finding in sorted((f for f in findings if f.fixable), key=lambda f: list(_REPAIRS).index(f.remedy)):
            _REPAIRS[finding.remedy](workspace, finding.path)
            finding.fixed = True
    return findings


def _examine(workspace: Workspace, *, busy: bool) -> list[Finding]:
    findings: list[Finding] = []
    if not busy:  # another command's temporary files are in flight, not left over
        findings += [Finding(p, "left by a command that was killed", REMOVE, True) for p in workspace.leftovers()]
    index_ok = _check_index(workspace, findings)
    indexed = set(workspace.read_index()["run_id"].astype(str)) if index_ok else set()
    for folder in workspace.run_folders():
        _check_run(workspace, folder, indexed if index_ok else None, findings)
    _check_splits(workspace, findings)
    _check_votes(workspace, findings)
    return findings


def _check_index(workspace: Workspace, findings: list[Finding]) -> bool:
    try:
        workspace.read_index()
        return True
    except InputError as error:
        findings.append(Finding(workspace.index_path, _reason(error, workspace.index_path), REBUILD_INDEX, True))
        return False


def _check_run(workspace: Workspace, folder: Path, indexed: set[str] | None, findings: list[Finding]) -> None:
    if not (folder / "run.json").exists():
        findings.append(Finding(folder, "not a kept run (no run.json); kcnn ignores it", KEEP, False))
        return
    try:
        run = read_run(folder)
        run.val_proba()
        run.test_proba()
    except InputError as error:
        findings.append(Finding(folder, _reason(error, folder), MOVE_ASIDE, True))
        return
    member = workspace.member_submission(run.run_id)
    if not member.exists() and (folder / "submission.csv").is_file():
        findings.append(Finding(member, f"run {run.run_id} has no published submission", PUBLISH, True))
    if indexed is not None and run.run_id not in indexed:
        findings.append(Finding(workspace.index_path, f"run {run.run_id} has no index row", ADD_ROW, True))


def _check_splits(workspace: Workspace, findings: list[Finding]) -> None:
    if not workspace.splits_dir.is_dir():
        return
    for path in sorted(workspace.splits_dir.glob("*.json")):
        try:
            workspace.find_split(path.stem)
        except InputError as error:
            findings.append(Finding(path, _reason(error, path), RESTORE_SPLIT, False))


def _check_votes(workspace: Workspace, findings: list[Finding]) -> None:
    if not workspace.ensemble_dir.is_dir():
        return
    for sidecar in sorted(workspace.ensemble_dir.glob("*.json")):
        csv_path = sidecar.with_suffix(".csv")
        try:
            recorded = read_record(sidecar).get("csv_sha256")
        except InputError as error:
            findings.append(Finding(sidecar, _reason(error, sidecar), REMOVE, True))
            continue
        if not csv_path.exists():
            findings.append(Finding(sidecar, f"describes {csv_path.name}, which is gone", REMOVE, True))
        elif recorded is not None and recorded != file_sha256(csv_path):
            findings.append(Finding(sidecar, f"describes an earlier {csv_path.name} (the vote was cut short "
                                             "or the CSV was replaced)", REMOVE, True))


def _reason(error: InputError, path: Path) -> str:
    """The error's message without the advice to run the doctor, nor the path the
    finding names already."""
    text = str(error)
    for advice in (f"; {DOCTOR}", f" ({DOCTOR})", "; `kcnn doctor --fix` rebuilds it from the kept runs"):
        text = text.replace(advice, "")
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


# -- repairs ------------------------------------------------------------------------------

REMOVE = "remove"
REBUILD_INDEX = "rebuild from the kept runs (rows of discarded attempts are lost; the damaged file is kept beside it)"
MOVE_ASIDE = "move the run to models/broken/ (with its published submission)"
PUBLISH = "copy the run's own submission.csv into submissions/"
ADD_ROW = "add the run's row to the index"
KEEP = "nothing (leave it, or move it out of models/)"
RESTORE_SPLIT = "restore it from a backup; until then runs of that dataset vote without validation figures"


def _remove(workspace: Workspace, path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _rebuild_index(workspace: Workspace, path: Path) -> None:
    os.replace(path, _free_name(path.with_name("index.damaged.csv")))
    for run in workspace.runs():
        workspace.append_index(index_row(run.record))


def _move_aside(workspace: Workspace, folder: Path) -> None:
    broken = workspace.models_dir / "broken"
    broken.mkdir(exist_ok=True)
    target = _free_name(broken / folder.name)
    member = workspace.member_submission(folder.name)
    os.replace(folder, target)
    if member.exists():
        os.replace(member, target / "published_submission.csv")


def _publish(workspace: Workspace, member: Path) -> None:
    with fileio.atomic_path(member) as tmp:
        shutil.copyfile(workspace.run_dir(member.stem) / "submission.csv", tmp)


def _add_rows(workspace: Workspace, path: Path) -> None:
    indexed = set(workspace.read_index()["run_id"].astype(str))
    for run in workspace.runs():
        if run.run_id not in indexed:
            workspace.append_index(index_row(run.record))


def _free_name(path: Path) -> Path:
    """`path`, or path.1, path.2, ... when taken: moving aside never overwrites."""
    candidate, number = path, 0
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}.{number}")
    return candidate


# In the order they are applied.
_REPAIRS = {REMOVE: _remove, MOVE_ASIDE: _move_aside, PUBLISH: _publish, REBUILD_INDEX: _rebuild_index,
            ADD_ROW: _add_rows}
