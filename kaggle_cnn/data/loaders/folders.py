"""Image folders: one sub-folder of image files per class, as Keras'
image_dataset_from_directory and the split-folders package lay them out.

    ROOT/<class>/<images>                      flat: 10% of each class (fixed) is held out
                                                 as a labelled test set when every class has
                                                 10 images or more; the rest trains
    ROOT/train/<class>/<images>                split: train/ is required,
    ROOT/val/<class>/<images>                    val/ (or validation/) fixes the validation rows,
    ROOT/test/<class>/<images>                   test/ is labelled (answers known) ...
    ROOT/test/<images>                           ... or unlabelled, Kaggle style

Tiny ImageNet's download (the CIFAR-100 write-up's "imagenet 200") is the split layout with
two twists, both read as it comes: val/ holds val/images/<files> labelled by
val/val_annotations.txt (FILE<tab>CLASS per line), and test/images/ is an
unlabelled test set. Files inside a class folder are found at any depth
(train/<wnid>/images/*.JPEG).

A folder with a train/ sub-folder is read as the split layout (so in the flat
layout no class can be called "train"). Hidden files and folders are ignored;
classes are the folder names, sorted; files are sorted by relative path.

Loading checks every file once without TensorFlow (Pillow and hashlib only, so
`kcnn data PATH` stays quick): its bytes are hashed for the fingerprint and
decoded with Pillow; files TensorFlow could not read are skipped and listed in
Dataset.skipped, never dropped silently. The pixels themselves are decoded by
TensorFlow, on demand, through ImageFiles: a folder of images never has to fit
in memory.

`split_folder` (`kcnn data split`) turns a flat folder into the split layout.
"""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kaggle_cnn.config import check_image_size
from kaggle_cnn.data.loaders.arrays import is_array_file
from kaggle_cnn.data.loaders.image_lookup import (
    ImageIndex,
    check_all,
    files_under,
    image_files,
    match_ids,
    visible,
)
from kaggle_cnn.data.loaders.images import ImageEntry
from kaggle_cnn.data.loaders.sample import SAMPLE_NAME, read_sample
from kaggle_cnn.errors import InputError, one_line

SUBMISSION_HEADER = ("file", "label")
VAL_NAMES = ("val", "validation")
# A flat folder (no test/) keeps this share of each class back as its labelled test set.
HOLDOUT_FRACTION = 0.1
HOLDOUT_SEED = 0
HOLDOUT_MIN_PER_CLASS = 10  # smaller classes: nothing is held out
# Tiny ImageNet: val/ labelled by this file rather than by class folders.
VAL_ANNOTATIONS = "val_annotations.txt"
# A test/ folder holding just this sub-folder is unlabelled (Tiny ImageNet's test/images/).
UNLABELLED_TEST_FOLDER = "images"
# The layouts, for messages.
LAYOUT_HELP = "expected ROOT/<class>/<images> or ROOT/train/<class>/<images> (with optional val/ and test/)"


# -------------------------------------------------------------------- scanning


@dataclass
class FolderScan:
    """What is in an image folder: the images kept per part, and what was skipped."""

    root: Path
    source: str  # as the user gave it, for messages
    layout: str  # "flat" or "split"
    classes: list[str]
    parts: dict[str, list[ImageEntry]]  # "train", "val", "test" -> kept images, sorted by path
    test_labelled: bool = False
    val_name: str = "val"
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def where(self, relative: str = "") -> str:
        return str(Path(self.source) / relative) if relative else self.source


def _subfolders(folder: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(folder) if visible(e.name) and e.is_dir())


def _direct_files(folder: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(folder) if visible(e.name) and not e.is_dir())


def is_image_folder(folder: Path) -> bool:
    """Anything that is a folder and not a Kaggle CSV folder is read as an image folder
    (the caller has ruled out CIFAR batches)."""
    return folder.is_dir() and not any(
        (folder / f"{name}{ext}").is_file() for name in ("train.csv", "test.csv") for ext in ("", ".gz"))


def folder_classes(folder: Path) -> list[str]:
    """The classes of an image folder, from its folder names alone: no image is opened."""
    top = _subfolders(folder)
    return _subfolders(folder / "train") if "train" in top else top


def scan_folder(folder: Path, *, source: str | None = None, target: tuple[int, int] | None = None,
                workers: int | None = None) -> FolderScan:
    """Find the layout, list the files and check each one (in parallel threads:
    hashing and Pillow's decoders release the GIL)."""
    source = source if source is not None else str(folder)
    if not folder.is_dir():
        raise InputError(f"{source}: not a folder")
    top = _subfolders(folder)
    split = "train" in top
    scan = FolderScan(root=folder.resolve(), source=source, layout="split" if split else "flat", classes=[],
                      parts={"train": [], "val": [], "test": []})
    # (part, relative class folder or test folder, label: a class, None (unlabelled),
    # or {file: class} for an annotated val/): what to read.
    groups: list[tuple[str, str, str | dict[str, str] | None]] = []
    for name in _direct_files(folder):
        if not (split and name == SAMPLE_NAME):
            scan.skipped.append((name, "outside the class folders"))
    if not split:
        if not top:
            raise InputError(f"{source}: no class sub-folders; {LAYOUT_HELP}")
        scan.classes = top
        groups += [("train", c, c) for c in top]
    else:
        vals = [n for n in VAL_NAMES if n in top]
        if len(vals) > 1:
            raise InputError(f"{source}: both val/ and validation/; keep one of them")
        for name in top:
            if name not in ("train", "test", *VAL_NAMES):
                scan.skipped.append((f"{name}/", "folder beside train/ that is not val/ or test/"))
        scan.classes = _class_folders(scan, "train")
        groups += [("train", f"train/{c}", c) for c in scan.classes]
        if vals:
            scan.val_name = vals[0]
            annotated = _val_annotations(scan)
            if annotated is not None:
                groups.append(("val", scan.val_name, annotated))
            else:
                groups += [("val", f"{scan.val_name}/{c}", c) for c in _class_folders(scan, scan.val_name)]
        if "test" in top:
            test_classes = _subfolders(folder / "test")
            if test_classes == [UNLABELLED_TEST_FOLDER] and UNLABELLED_TEST_FOLDER not in scan.classes:
                test_classes = []  # Tiny ImageNet's test/images/: unlabelled, read at any depth
            scan.test_labelled = bool(test_classes)
            if test_classes:
                _known_classes(scan, "test", test_classes)
                for name in _direct_files(folder / "test"):
                    scan.skipped.append((f"test/{name}", "outside the class folders"))
                groups += [("test", f"test/{c}", c) for c in test_classes]
            else:
                groups.append(("test", "test", None))
    if len(scan.classes) < 2:
        where = scan.where("train") if split else source
        raise InputError(f"{where}: only one class folder ({scan.classes[0]!r}); "
                         "a classifier needs at least two classes")

    listing = _listing(scan, groups)
    results = check_all(folder, [relative for _, _, relative, _ in listing], target, workers)
    kept_per_group: collections.Counter = collections.Counter()
    files_per_group: collections.Counter = collections.Counter()
    for (part, group, relative, label), result in zip(listing, results):
        files_per_group[group] += 1
        if isinstance(result, str) and is_array_file(relative):  # a bad array is a mistake to fix, not a bad photo
            raise InputError(f"{scan.where(relative)}: {result}")
        if isinstance(result, str):
            scan.skipped.append((relative, result))
            continue
        kept_per_group[group] += 1
        scan.parts[part].append(ImageEntry(relative, label, *result))
    for c in scan.classes:
        group = c if not split else f"train/{c}"
        if not kept_per_group[group]:
            count = files_per_group[group]
            detail = "it is empty" if not count else f"{count} file{'s' * (count != 1)} skipped"
            raise InputError(f"{scan.where(group)}: no readable image ({detail})")
    for images in scan.parts.values():
        images.sort(key=lambda image: image.path)
    scan.skipped.sort()
    return scan


def _listing(scan: FolderScan, groups) -> list[tuple[str, str, str, str | None]]:
    """(part, group, relative path, label) for every file to check. An annotated
    val/ gives each file its class here, so its annotations file and the images it
    does not list are reported, not decoded."""
    listing = []
    for part, base, label in groups:
        for name in files_under(scan.root / base):
            relative = f"{base}/{name}"
            if isinstance(label, dict):
                if name == VAL_ANNOTATIONS:
                    continue
                annotated = label.get(name, label.get(name.rsplit("/", 1)[-1]))
                if annotated is None:
                    scan.skipped.append((relative, f"not listed in {base}/{VAL_ANNOTATIONS}"))
                    continue
                listing.append((part, base, relative, annotated))
            else:
                listing.append((part, base, relative, label))
    return listing


def _class_folders(scan: FolderScan, part: str) -> list[str]:
    """The class folders of train/ (there must be some) or val/ (only classes train/ has)."""
    folder = scan.root / part
    classes = _subfolders(folder)
    for name in _direct_files(folder):
        scan.skipped.append((f"{part}/{name}", "outside the class folders"))
    if part == "train":
        if not classes:
            raise InputError(f"{scan.where('train')}: no class sub-folders; {LAYOUT_HELP}")
        return classes
    _known_classes(scan, part, classes)
    return classes


def _val_annotations(scan: FolderScan) -> dict[str, str] | None:
    """{file: class} from val/val_annotations.txt (Tiny ImageNet), or None without one.

    Each line is FILE<tab>CLASS[<tab>anything], FILE relative to val/images/ (or
    to val/); every class must be one of train/'s."""
    path = scan.root / scan.val_name / VAL_ANNOTATIONS
    if not path.is_file():
        return None
    where = scan.where(f"{scan.val_name}/{VAL_ANNOTATIONS}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{where}: cannot be read as text ({one_line(error, 80)})") from None
    labels: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in (line.split("\t") if "\t" in line else line.split())]
        if len(fields) < 2 or not fields[0] or not fields[1]:
            raise InputError(f"{where}, line {number}: expected FILE<tab>CLASS, got {one_line(line, 60)!r}")
        name, label = fields[0], fields[1]
        if label not in scan.classes:
            raise InputError(f"{where}, line {number}: class {label!r} is not in train/ "
                             f"({len(scan.classes)} classes, e.g. {', '.join(scan.classes[:3])})")
        if labels.get(name, label) != label:
            raise InputError(f"{where}, line {number}: {name} is listed again with another class "
                             f"({labels[name]!r}, then {label!r})")
        labels[name] = label
    if not labels:
        raise InputError(f"{where}: no annotations; expected lines of FILE<tab>CLASS")
    return labels


def _known_classes(scan: FolderScan, part: str, classes: list[str]) -> None:
    unknown = [c for c in classes if c not in scan.classes]
    if unknown:
        raise InputError(f"{scan.where(f'{part}/{unknown[0]}')}: class {unknown[0]!r} is not in train/ "
                         f"(classes: {', '.join(scan.classes)})")


# -------------------------------------------------------------------- loading


def load_image_folder(folder: Path, *, image_size: tuple[int, int] | None = None, source: str):
    """Scan and check an image folder into a Dataset whose images are ImageFiles."""
    from kaggle_cnn.data.dataset import Dataset

    if image_size is not None:
        image_size = check_image_size(image_size)
    scan = scan_folder(folder, source=source, target=image_size)
    train, val, test, test_labelled = _parts(scan)
    index = {name: i for i, name in enumerate(scan.classes)}
    test, test_ids, sample = _in_sample_order(scan, test, test_labelled)
    x_train, x_test = image_files(scan.root, [train + val, test], image_size, scan.source)
    return Dataset(
        x_train=x_train,
        y_train=np.array([index[i.label] for i in train + val], dtype=np.int64),
        classes=list(scan.classes),
        x_test=x_test,
        test_ids=test_ids,
        submission_header=sample.header if sample else SUBMISSION_HEADER,
        submission_kind=sample.kind if sample else "label",
        top_k=sample.top_k if sample else None,
        source=source,
        kind="image_folder",
        val_rows=np.arange(len(train), len(train) + len(val), dtype=np.int64) if val else None,
        test_labels=[i.label for i in test] if test_labelled else None,
        skipped=tuple(scan.skipped),
    )


def _parts(scan: FolderScan) -> tuple[list[ImageEntry], list[ImageEntry], list[ImageEntry], bool]:
    """(train, val, test, test labelled?). A flat folder has no test images of its
    own, so a fixed, stratified HOLDOUT_FRACTION of each class becomes its
    labelled test set: submissions then hold real predictions, and `kcnn score
    --answers FOLDER` scores them, as the demo's hidden answers do."""
    train, val, test = scan.parts["train"], scan.parts["val"], scan.parts["test"]
    if scan.layout == "split":
        return train, val, test, scan.test_labelled
    from sklearn.model_selection import train_test_split

    labels = [image.label for image in train]
    if min(collections.Counter(labels).values()) < HOLDOUT_MIN_PER_CLASS:
        return train, val, [], False  # too few to spare any: no test set
    kept, held = train_test_split(train, test_size=HOLDOUT_FRACTION, stratify=labels, random_state=HOLDOUT_SEED)
    by_path = lambda images: sorted(images, key=lambda image: image.path)  # noqa: E731
    return by_path(kept), val, by_path(held), True


def _in_sample_order(scan: FolderScan, test: list[ImageEntry], labelled: bool):
    """(test images, their ids, the Sample): with a sample_submission.csv beside
    train/ and an unlabelled test/, the sample's ids, spelling and order, and its
    header (Plant Seedlings: file,species); test images it does not list are left
    out and reported. Otherwise the paths relative to test/ and no Sample."""
    path = scan.root / SAMPLE_NAME
    if scan.layout != "split" or labelled or not path.is_file():
        return test, _test_ids(scan, test), None
    sample = read_sample(path, scan.classes)
    lookup = ImageIndex(scan.root / "test", scan.where("test"))
    files = match_ids(lookup, sample.ids, sample.row)
    kept = {image.path: image for image in test}
    unreadable = dict(scan.skipped)
    ordered = []
    for row, relative in enumerate(files):
        image = kept.get(f"test/{relative}")
        if image is None:
            reason = unreadable.get(f"test/{relative}", "not read")
            raise InputError(sample.cell(row, f"image test/{relative} cannot be used ({reason})"))
        ordered.append(image)
    listed = {image.path for image in ordered}
    scan.skipped.extend((image.path, f"not in {SAMPLE_NAME}") for image in test if image.path not in listed)
    scan.skipped.sort()
    return ordered, list(sample.ids), sample


def _test_ids(scan: FolderScan, test: list[ImageEntry]) -> list[str]:
    """Paths relative to test/ (the split layout), or to the root (a flat folder's hold-out)."""
    prefix = "test/" if scan.layout == "split" else ""
    return [image.path[len(prefix):] for image in test]


def folder_answers(folder: str | os.PathLike) -> tuple[list[str], list[str]] | None:
    """(test ids, labels) of an image folder whose test images are labelled, else None."""
    scan = scan_folder(Path(folder), source=str(folder))
    _, _, test, labelled = _parts(scan)
    return (_test_ids(scan, test), [image.label for image in test]) if labelled else None
