"""Unzipping a downloaded competition: the archives the Kaggle tool wrote, and the
archives they hold (dogs-vs-cats ships train.zip inside its competition zip).

Every member's path is checked before anything is written: a member that would
land outside the folder (an absolute path, `..`: a "zip slip") refuses the whole
archive, so a hostile zip writes nothing at all.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from kaggle_cnn.errors import InputError

# Zips inside zips inside zips: a competition ships two levels at most; the limit
# keeps an archive that holds itself from unzipping forever. Deeper ones stay zipped.
NESTED_LEVELS = 4


def unpack_all(folder: Path) -> None:
    """Extract the zips in `folder` into it, then the zips they held where each lies;
    every zip is removed once extracted."""
    for archive in sorted(folder.glob("*.zip")):
        extract(archive, folder)
        archive.unlink()
    for _ in range(NESTED_LEVELS):
        nested = sorted(path for path in folder.rglob("*.zip") if path.is_file())
        if not nested:
            return
        for archive in nested:
            extract(archive, nested_destination(archive))
            archive.unlink()


def nested_destination(archive: Path) -> Path:
    """Where a nested zip goes: beside itself when its members share one top folder
    (train.zip holding train/...), else into a folder named after it (train/)."""
    with _open(archive) as zipped:
        tops = {PurePosixPath(name).parts[0] for name in zipped.namelist() if PurePosixPath(name).parts}
        single_folder = len(tops) == 1 and all(
            "/" in name.strip("/") or name.endswith("/") for name in zipped.namelist())
    return archive.parent if single_folder else archive.parent / archive.stem


def extract(archive: Path, destination: Path) -> None:
    """Extract every member of `archive` under `destination`, after checking that
    none would be written outside it."""
    root = destination.resolve()
    with _open(archive) as zipped:
        for name in zipped.namelist():
            target = (root / name).resolve()
            if target != root and root not in target.parents:
                raise InputError(f"{archive.name}: refused, its member {name!r} would be written outside "
                                 f"the competition folder")
        root.mkdir(parents=True, exist_ok=True)
        zipped.extractall(root)


def _open(archive: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except zipfile.BadZipFile as error:
        raise InputError(f"{archive.name}: not a readable zip ({error})") from None
