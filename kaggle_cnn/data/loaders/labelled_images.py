"""A labels CSV beside folders of image files: how most Kaggle image competitions ship.

    ROOT/train.csv               id,label    (or train_labels.csv, labels.csv, trainLabels.csv)
    ROOT/train/<id>[.jpg]        (or train_images/, images/, train_imgs/)
    ROOT/test/<images>           (or test_images/, test_imgs/, or the same images/ folder)
    ROOT/sample_submission.csv   the test ids (spelling and order) and the submission's header

The label is one column (id,has_cactus; id_code,diagnosis; id,breed) or one-hot
columns (image_id,healthy,multiple_diseases,rust,scab) read as one label whose
classes are the column names. Multi-label competitions (any number of labels per
image) come as one-hot columns with rows of several 1s (RANZCR CLiP: StudyInstanceUID
and 11 label columns), multi-label without asking, or as space-separated tags in
one column (Planet: image_name,tags), multi-label when they look like tags
(labels.looks_like_tags) or with `multi_label` (--multi-label);
their targets are a boolean matrix, rows x labels. An id names its file with or without the extension
(image_lookup.ImageIndex). The test ids and their order come from the sample
submission, else from test.csv's id column, else from the test folder's files
(those no labels row names), spelled as the labels CSV spells its ids.

Every file is checked once, without TensorFlow, as an image folder's are
(image_lookup.check_all): an unreadable training image is skipped and listed, an
unreadable test image stops the load (the submission needs every test id). The
pixels are decoded on demand through ImageFiles' tf.data pipeline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import numpy as np
import pandas as pd

from kaggle_cnn.config import check_image_size
from kaggle_cnn.data.dataset import Dataset
from kaggle_cnn.data.loaders.arrays import describe_layout, holds_arrays, is_array_file
from kaggle_cnn.data.loaders.csv_files import (
    file_line,
    find_file,
    list_columns,
    read_header,
    read_table,
)
from kaggle_cnn.data.loaders.image_lookup import (
    IMAGE_EXTENSIONS,
    ImageIndex,
    check_all,
    image_files,
    match_ids,
)
from kaggle_cnn.data.loaders.images import ImageEntry
from kaggle_cnn.data.loaders.kaggle_csv import LABEL_CANDIDATES, encode_labels, read_ids
from kaggle_cnn.data.loaders.label_columns import one_hot_labels, tag_labels
from kaggle_cnn.data.loaders.layout_notes import layout_notes
from kaggle_cnn.data.loaders.numeric_targets import read_numeric_targets
from kaggle_cnn.data.loaders.sample import Sample, find_sample, read_sample
from kaggle_cnn.errors import InputError
from kaggle_cnn.labels import MULTI_LABEL, SINGLE_LABEL, looks_like_tags

LABELS_NAMES = ("train.csv", "train_labels.csv", "labels.csv", "trainLabels.csv", "train_v2.csv")
TRAIN_FOLDERS = ("train", "train_images", "images", "train_imgs", "train-jpg")
TEST_FOLDERS = ("test", "test_images", "test_imgs", "test-jpg", "images")
ID_CANDIDATES = ("id", "Id", "ID", "id_code", "image_id", "ImageId", "image", "image_name", "file", "filename")
KIND = "labelled_images"


@dataclass(frozen=True)
class Layout:
    """Where a labelled-images competition keeps its parts (absolute paths)."""

    labels: Path
    train: Path
    test: Path | None
    sample: Path | None
    test_csv: Path | None
    source: str
    # Several test folders (Planet's test-jpg/ and test-jpg-additional/): `test` is
    # the folder holding them, and these are their names.
    test_parts: tuple[str, ...] = ()

    def test_folders(self) -> str:
        """The test folder(s) as messages name them: `test/`, or `test-jpg/ and test-jpg-additional/`."""
        if self.test_parts:
            return " and ".join(f"{part}/" for part in self.test_parts)
        return f"{self.inside(self.test)}/"

    def name(self, path: Path) -> str:
        """A path as messages show it: below the competition folder as the user gave it."""
        inside = self.inside(path)
        return str(Path(self.source) / inside) if inside != str(path) else inside

    def inside(self, path: Path) -> str:
        """A path relative to the competition folder when it is inside it, else absolute."""
        try:
            return path.relative_to(Path(self.source).resolve()).as_posix()
        except ValueError:
            return str(path)


def find_layout(folder: Path, source: str, *, labels: str | None = None, train_images: str | None = None,
                test_images: str | None = None) -> Layout | None:
    """The labels CSV and image folders of `folder`, or None when it is not this
    layout (a Digit Recognizer folder has train.csv but no image folder). Given
    paths are looked up inside the competition folder first, then as given."""
    given = labels or train_images or test_images
    labels_path = _given(folder, labels, "--labels", file=True) if labels else _first_labels(folder)
    train = (_given(folder, train_images, "--train-images") if train_images
             else _first_images(folder, TRAIN_FOLDERS, labels_path))
    if labels_path is None or train is None:
        if given:
            missing = "a labels CSV (--labels)" if labels_path is None else "a folder of training images (--train-images)"
            raise InputError(f"{source}: found no {missing}; looked for {', '.join(LABELS_NAMES if labels_path is None else TRAIN_FOLDERS)}")
        return None
    if test_images:
        test = _given(folder, test_images, "--test-images")
    else:
        test = next((f for f in (_first_images(folder, (n,)) for n in TEST_FOLDERS if n != train.name) if f), None)
        test = test or (train if train.name == "images" else None)  # Plant Pathology: one folder for both
    resolved = lambda path: path.resolve() if path is not None else None  # noqa: E731
    more = _more_test_folders(test) if test is not None and test != train else []
    return Layout(labels=labels_path.resolve(), train=train, test=test.parent if more else test,
                  sample=resolved(find_sample(folder)), test_csv=resolved(find_file(folder, "test.csv")),
                  source=source, test_parts=(test.name, *more) if more else ())


def _more_test_folders(test: Path) -> list[str]:
    """Folders beside the test folder that continue it (Planet's test-jpg-additional/
    beside test-jpg/): named after it with a dash, holding images."""
    return sorted(entry.name for entry in test.parent.iterdir()
                  if entry.name.startswith(f"{test.name}-") and _first_images(test.parent, (entry.name,)))


def _given(folder: Path, value: str, option: str, file: bool = False) -> Path:
    for candidate in (folder / value, Path(value)):
        if candidate.is_file() if file else candidate.is_dir():
            return candidate.resolve()
    raise InputError(f"{option} {value}: no such {'file' if file else 'folder'} in {folder} or here")


def _first_labels(folder: Path) -> Path | None:
    return next((found for name in LABELS_NAMES if (found := find_file(folder, name))), None)


def _first_images(folder: Path, names: tuple[str, ...], labels_path: Path | None = None) -> Path | None:
    """The first of `names` that is a folder holding image files directly (a class
    folder layout's train/ holds folders, and is left to the image-folder loader),
    .npy arrays at any depth (SETI's train/<first character of the id>/<id>.npy),
    or images in sub-folders that the labels CSV names by file (Hotel-ID's
    train_images/<chain>/<image>)."""
    for name in names:
        candidate = folder / name
        if candidate.is_dir() and (any(e.name.lower().endswith(IMAGE_EXTENSIONS) and e.is_file()
                                       for e in os.scandir(candidate)) or holds_arrays(candidate)
                                   or (labels_path is not None and _names_nested_files(labels_path, candidate))):
            return candidate.resolve()
    return None


def _names_nested_files(labels_path: Path, folder: Path) -> bool:
    """Whether a column of the labels CSV's first rows names files below `folder`
    by their file names: then the sub-folders are not classes but storage."""
    try:
        head = pd.read_csv(labels_path, nrows=20, dtype=str, keep_default_na=False)
    except (ValueError, OSError, pd.errors.ParserError):
        return False  # the labels CSV's own reader names what is wrong with it
    if head.empty:
        return False
    index = ImageIndex(folder, folder.name)
    return any(index.names_files(head[column]) for column in head.columns)



# -------------------------------------------------------------------- loading


def load_labelled_images(layout: Layout, *, label_column: str | None = None, id_column: str | None = None,
                         image_size: tuple[int, int] | None = None, multi_label: bool = False,
                         tabular_columns: str | None = None, numeric: str | None = None) -> Dataset:
    """Match, check and load a labels CSV and its image folders into a Dataset of ImageFiles.
    `multi_label`: the label column holds space-separated tags (one-hot rows of
    several 1s are multi-label without it). `tabular_columns` ("a,b" or "auto"):
    table columns joined to each image (kaggle_cnn.data.loaders.with_table). `numeric`
    (labels.REGRESSION or ORDINAL): the label column is a number per image (loaders.numeric_targets)."""
    if image_size is not None:
        image_size = check_image_size(image_size)
    labels_path = layout.labels
    train_index = ImageIndex(layout.train, layout.name(layout.train))
    id_col, ids, label_cols, one_hot, classes, y, multi = _read_labels(labels_path, label_column, id_column,
                                                                       multi_label, _sample_columns(layout),
                                                                       train_index, numeric)

    train_files = match_ids(train_index, ids, lambda row: f"{labels_path.name} line {file_line(labels_path, row)}")
    test_index = train_index if layout.test == layout.train else \
        ImageIndex(layout.test, layout.test_folders() if layout.test_parts else layout.name(layout.test),
                   layout.test_parts) if layout.test else None
    sample = read_sample(layout.sample, classes, multi_label=multi) if layout.sample else None
    test_ids, test_files, from_where = _test_images(layout, sample, test_index, set(train_files), ids)

    # Paths are kept relative to the competition folder (or the folder holding every part).
    root = Path(os.path.commonpath([Path(layout.source).resolve(), layout.train, *([layout.test] if layout.test else [])]))
    relative = lambda folder, files: [(folder.relative_to(root) / f).as_posix() for f in files]  # noqa: E731
    train_paths, test_paths = relative(layout.train, train_files), relative(layout.test or root, test_files)
    train_entries, skipped = _checked_train(root, train_paths, image_size)
    test_entries = _checked_test(layout, root, test_paths, image_size, from_where)
    skipped += _unlisted(layout, root, train_index, test_index, set(train_files), set(test_files), sample)

    x_train, x_test = image_files(root, [[entry for entry, _ in train_entries], test_entries], image_size,
                                  layout.source)
    submission_header, submission_kind = _submission_layout(sample, id_col, label_cols, one_hot, multi)
    notes = layout_notes(layout, id_col, label_cols, one_hot, len(ids), len(train_entries), test_index, len(test_ids),
                   from_where, skipped, multi)
    if x_train.array is not None:
        notes += (describe_layout(train_entries[0][0].array.shape, x_train.array),)
    dataset = Dataset(
        x_train=x_train,
        y_train=y[[row for _, row in train_entries]],
        classes=classes,
        x_test=x_test,
        test_ids=test_ids,
        submission_header=submission_header,
        submission_kind="value" if numeric else submission_kind,  # one number (or grade) per id
        top_k=sample.top_k if sample and not numeric else None,
        source=layout.source,
        kind=KIND,
        skipped=tuple(sorted(skipped)),
        layout_notes=notes,
        task=MULTI_LABEL if multi else numeric or SINGLE_LABEL,
    )
    if tabular_columns is None:
        return dataset
    from kaggle_cnn.data.loaders.with_table import join_table

    return join_table(dataset, layout, tabular_columns, id_col, label_cols, [row for _, row in train_entries],
                      sample.row if sample else lambda position: from_where)


def labelled_classes(layout: Layout, *, label_column: str | None = None, id_column: str | None = None,
                     multi_label: bool = False) -> list:
    """The classes, read from the labels CSV (and the training folder's file names): no image is opened."""
    index = ImageIndex(layout.train, layout.name(layout.train))
    return _read_labels(layout.labels, label_column, id_column, multi_label, _sample_columns(layout), index).classes


def labelled_task(layout: Layout, *, label_column: str | None = None) -> str:
    """MULTI_LABEL or SINGLE_LABEL, as the labels CSV reads without the option."""
    index = ImageIndex(layout.train, layout.name(layout.train))
    labels = _read_labels(layout.labels, label_column, None, False, _sample_columns(layout), index)
    return MULTI_LABEL if labels.multi_label else SINGLE_LABEL


def _sample_columns(layout: Layout) -> list[str]:
    """The sample submission's columns after its id (none without a sample)."""
    return read_header(layout.sample)[1:] if layout.sample else []


class _Labels(NamedTuple):
    """What a labels CSV says, before any image is looked for."""

    id_col: str
    ids: list[str]
    label_cols: list[str]  # one label column, or the one-hot columns
    one_hot: bool
    classes: list
    y: np.ndarray  # int64 indices into classes, one per row; multi-label: bool rows x classes
    multi_label: bool


def _read_labels(path: Path, label_column: str | None, id_column: str | None, multi_label: bool = False,
                 sample_columns: list[str] = (), images: ImageIndex | None = None,
                 numeric: str | None = None) -> _Labels:
    header = read_header(path)
    table = read_table(path, text_columns=header)
    if len(table) == 0:
        raise InputError(f"{path.name}: no data rows after the header")
    id_col = _id_column(path, header, id_column, table, images)
    ids = read_ids(path, table, id_col)
    if numeric and label_column is None and len(sample_columns) == 1 and sample_columns[0] in header:
        label_column = sample_columns[0]  # PetFinder's train.csv also holds metadata columns: the sample's target
    label_cols, one_hot = _label_columns(path, header, id_col, label_column, sample_columns)
    if numeric:
        if one_hot:
            raise InputError(f"{path.name}: columns {list_columns(label_cols)}; --{numeric} needs one target "
                             "column (pass --label-column)")
        return _Labels(id_col, ids, label_cols, False, [label_cols[0]],
                       read_numeric_targets(path, table, label_cols[0], numeric), False)
    if one_hot:
        classes, y = one_hot_labels(path, table, label_cols, multi_label)
        multi_label = y.ndim == 2
    elif multi_label or looks_like_tags(table[label_cols[0]].dropna()):
        classes, y = tag_labels(path, table, label_cols[0])
        multi_label = True
    else:
        classes, y = encode_labels(path, table, label_cols[0])
    return _Labels(id_col, ids, label_cols, one_hot, classes, y, multi_label)


def _id_column(path: Path, header: list[str], wanted: str | None, table: pd.DataFrame | None = None,
               images: ImageIndex | None = None) -> str:
    """The given column; else a usual id name (or the first column), unless its values
    name no image files and exactly one other column's all do: the column naming the
    files is the id (whale-categorization's Image,Id, where Id is the whale)."""
    if wanted is not None:
        if wanted not in header:
            raise InputError(f"{path.name}: no id column {wanted!r} (columns: {list_columns(header)})")
        return wanted
    usual = next((c for c in ID_CANDIDATES if c in header), header[0])
    if images is None or table is None or images.names_files(table[usual].dropna()):
        return usual
    naming = [c for c in header if c != usual and table[c].notna().all() and images.names_files(table[c])]
    return naming[0] if len(naming) == 1 else usual


def _label_columns(path: Path, header: list[str], id_col: str, wanted: str | None,
                   sample_columns: list[str] = ()) -> tuple[list[str], bool]:
    """([label column], False), or (the one-hot columns, True): the given column, the
    only other column, a usual label name, the sample's one answer column, the sample's
    columns when it has one per class (RANZCR CLiP's train.csv also holds a PatientID
    the sample has not), or else every other column if all hold 0/1."""
    others = [c for c in header if c != id_col]
    if wanted is not None:
        if wanted not in header or wanted == id_col:
            raise InputError(f"{path.name}: no label column {wanted!r} (columns: {list_columns(header)})")
        return [wanted], False
    if not others:
        raise InputError(f"{path.name}: only an id column ({id_col}); a labels CSV needs a label column too")
    if len(others) == 1:
        return others, False
    named = next((c for c in LABEL_CANDIDATES if c in others), None)
    if named:
        return [named], False
    in_sample = [c for c in others if c in sample_columns]
    if len(in_sample) == 1:  # Hotel-ID: train.csv image,chain,hotel_id; the sample answers hotel_id
        return in_sample, False
    return (in_sample, True) if len(in_sample) > 1 else (others, True)


def _test_images(layout: Layout, sample: Sample | None, index: ImageIndex | None, train_files: set[str],
                 train_ids: list[str]) -> tuple[list[str], list[str], str]:
    """(test ids, their files relative to the test folder, where the ids came from)."""
    if sample is not None or layout.test_csv is not None:
        if sample is not None:
            ids, where, describe = sample.ids, sample.path.name, sample.row
        else:
            path = layout.test_csv
            table = read_table(path, text_columns=read_header(path))
            id_col = _id_column(path, list(table.columns), None)
            ids, where = read_ids(path, table, id_col), path.name
            describe = lambda row: f"{path.name} line {file_line(path, row)}"  # noqa: E731
        if index is None:
            raise InputError(f"{where}: names {len(ids)} test images, but there is no test image folder "
                             f"(looked for {', '.join(TEST_FOLDERS)}); pass --test-images")
        return list(ids), match_ids(index, list(ids), describe), where
    if index is None:
        return [], [], ""
    files = [f for f in index.files if f not in train_files]
    with_extension = index.spelled_with_extension(train_ids[0])
    ids = [f if with_extension else str(PurePosixPath(f).with_suffix("")) for f in files]
    if "/" not in train_ids[0]:  # ids name files, not paths (SETI's test/a/a1b2.npy is id a1b2)
        names = [PurePosixPath(i).name for i in ids]
        ids = names if len(set(names)) == len(names) else ids
    return ids, files, f"{index.where}/"


def _checked_train(root: Path, paths: list[str], size) -> tuple[list, list[tuple[str, str]]]:
    """([(entry, labels row)] of the readable training images, [(path, why)] of the others)."""
    kept, skipped = [], []
    for row, (path, result) in enumerate(zip(paths, check_all(root, paths, size))):
        if isinstance(result, str) and is_array_file(path):  # arrays are made, not photographed: a bad one is a mistake
            raise InputError(f"{path}: {result}")
        if isinstance(result, str):
            skipped.append((path, result))
        else:
            kept.append((ImageEntry(path, None, *result), row))
    if not kept:
        raise InputError(f"{root}: no readable training image ({len(paths)} skipped, e.g. {skipped[0][0]}: "
                         f"{skipped[0][1]})")
    return kept, skipped


def _checked_test(layout: Layout, root: Path, paths: list[str], size, where: str) -> list[ImageEntry]:
    entries = []
    for path, result in zip(paths, check_all(root, paths, size)):
        if isinstance(result, str):
            raise InputError(f"{layout.name(root / path)}: test image named in {where} cannot be used ({result})")
        entries.append(ImageEntry(path, None, *result))
    return entries


def _unlisted(layout: Layout, root: Path, train_index: ImageIndex, test_index: ImageIndex | None,
              train_files: set[str], test_files: set[str], sample: Sample | None) -> list[tuple[str, str]]:
    """Images in the folders that no labels row (train) or test id names: listed, not fatal."""
    test_list = sample.path.name if sample else "test.csv"
    no_row, not_listed = f"no row in {layout.labels.name}", f"not in {test_list}"
    if test_index is train_index:  # one folder for both
        reasons = [(train_index, layout.train, train_files | test_files, f"{no_row} nor in {test_list}")]
    else:
        reasons = [(train_index, layout.train, train_files, no_row)]
        if test_index is not None:
            reasons.append((test_index, layout.test, test_files, not_listed))
    skipped = []
    for index, folder, used, reason in reasons:
        prefix = folder.relative_to(root)
        skipped += [((prefix / f).as_posix(), reason) for f in index.files if f not in used]
    return skipped


def _submission_layout(sample: Sample | None, id_col: str, label_cols: list[str], one_hot: bool, multi: bool):
    if sample is not None:
        return sample.header, sample.kind
    if multi and not one_hot:
        return (id_col, label_cols[0]), "tags"  # the labels CSV's own layout: tags joined by spaces
    if one_hot:
        return (id_col, *label_cols), "class_columns"  # the labels CSV's own one-hot layout, as probabilities
    return (id_col, label_cols[0]), "label"
