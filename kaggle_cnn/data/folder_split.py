"""`kcnn data split`: copy a folder of class folders into train/, val/ and test/,
stratified per class, so its validation and test images are fixed once."""

from __future__ import annotations

import collections
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kaggle_cnn import fileio
from kaggle_cnn.data.loaders.folders import scan_folder
from kaggle_cnn.errors import InputError

PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitResult:
    destination: Path
    classes: list[str]
    counts: dict[str, dict[str, int]]  # part -> class -> files copied
    skipped: tuple[tuple[str, str], ...]


def parse_ratios(text: str) -> tuple[float, ...]:
    """"0.8,0.1,0.1" -> (0.8, 0.1, 0.1); checked by split_folder."""
    try:
        return tuple(float(p) for p in str(text).split(","))
    except ValueError:
        raise InputError(f"--ratio {text!r}: expected 2 or 3 numbers separated by commas, e.g. 0.8,0.1,0.1") \
            from None


def split_folder(src: str | os.PathLike, dst: str | os.PathLike,
                 ratios: Sequence[float] | str = (0.8, 0.1, 0.1), seed: int = 0) -> SplitResult:
    """Copy a flat class folder into DST/train|val|test/<class>/, stratified per class.

    Two ratios make train/ and val/ only ("0.8,0.2" as text works too). Unreadable files are left behind and
    reported. The copy is built in a hidden sibling folder and renamed onto DST
    at the end, so an interrupted split leaves nothing half-made.
    """
    from sklearn.model_selection import train_test_split

    src, dst = Path(src), Path(dst)
    ratios = _check_ratios(parse_ratios(ratios) if isinstance(ratios, str) else ratios)
    if not src.exists():
        raise InputError(f"{src}: no such folder")
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise InputError(f"{dst}: already exists and is not empty; choose a new destination")
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise InputError(f"{dst}: inside the source folder {src}; choose a destination outside it")
    scan = scan_folder(src, source=str(src))
    if scan.layout != "flat":
        raise InputError(f"{src}: already split (has train/); kcnn data split takes ROOT/<class>/<images>")
    images = scan.parts["train"]
    paths = np.array([i.path for i in images], dtype=object)
    labels = np.array([i.label for i in images], dtype=object)
    parts = PARTS[: len(ratios)]
    assigned: dict[str, np.ndarray] = {}
    try:
        rest_paths, rest_labels = paths, labels
        remaining = 1.0
        for part, ratio in zip(parts[:-1], ratios[:-1]):
            share = ratio / remaining
            taken, rest_paths, _, rest_labels = train_test_split(
                rest_paths, rest_labels, train_size=share, random_state=seed, stratify=rest_labels)
            assigned[part] = taken
            remaining -= ratio
        assigned[parts[-1]] = rest_paths
    except ValueError:
        # sklearn refuses when a class is too small to reach every part
        sizes = collections.Counter(labels.tolist())
        smallest = min(scan.classes, key=lambda c: (sizes[c], c))
        raise InputError(f"{scan.where(smallest)}: {sizes[smallest]} readable image{'s' * (sizes[smallest] != 1)} "
                         f"are too few to split by {_ratio_text(ratios)}; every class needs a file in every part") \
            from None
    counts = {part: collections.Counter(p.split("/", 1)[0] for p in assigned[part]) for part in parts}
    for c in scan.classes:
        for part in parts:
            if not counts[part][c]:
                total = sum(counts[p][c] for p in parts)
                raise InputError(f"{scan.where(c)}: {total} readable image{'s' * (total != 1)} leave {part}/ "
                                 f"without one at ratio {_ratio_text(ratios)}; every class needs a file in "
                                 "every part")
    with fileio.atomic_folder(dst) as temporary:
        for part in parts:
            for relative in sorted(assigned[part]):
                target = temporary / part / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / relative, target)
        for part in parts:  # a class folder in every part even if a class were empty
            for c in scan.classes:
                (temporary / part / c).mkdir(parents=True, exist_ok=True)
    return SplitResult(destination=dst, classes=list(scan.classes),
                       counts={part: {c: int(counts[part][c]) for c in scan.classes} for part in parts},
                       skipped=tuple(scan.skipped))


def _check_ratios(ratios: Sequence[float]) -> tuple[float, ...]:
    """Two or three shares (train, val[, test]), each above 0, adding up to 1."""
    try:
        values = tuple(float(r) for r in ratios)
    except (TypeError, ValueError):
        raise InputError(f"--ratio {ratios!r}: expected 2 or 3 numbers, e.g. 0.8,0.1,0.1") from None
    if len(values) not in (2, 3):
        raise InputError(f"--ratio {_ratio_text(values)}: give 2 (train,val) or 3 (train,val,test) numbers, "
                         f"not {len(values)}")
    empty = next((part for part, value in zip(PARTS, values) if not value > 0), None)
    if empty is not None:
        share = values[PARTS.index(empty)]
        raise InputError(f"--ratio {_ratio_text(values)}: the {empty} share is {share:g}; every part needs a "
                         f"share above 0 (use two numbers, train,val, for no test/)")
    if abs(sum(values) - 1) > 1e-6:
        raise InputError(f"--ratio {_ratio_text(values)}: the shares must add up to 1, not {sum(values):g}")
    return values


def _ratio_text(values: Sequence[float]) -> str:
    return ",".join(f"{v:g}" for v in values)
