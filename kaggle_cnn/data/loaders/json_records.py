"""A JSON list of records whose array fields are images, as the Statoil/C-CORE
Iceberg Classifier Challenge ships its radar bands:

    ROOT/train.json              [{"id": ..., "band_1": [5625 floats], "band_2": [...],
                                   "inc_angle": ..., "is_iceberg": 0 or 1}, ...]
    ROOT/test.json               the same records without the label (either may be gzipped: .json.gz)
    ROOT/sample_submission.csv   id,is_iceberg: the test ids' order and the header

The image fields (`--image-fields band_1,band_2`; by default every field that
holds a list in the first training record) are stacked as channels, in the
order given. A flat list is a square image (5625 values: 75 x 75); a list of
lists is H x W as it stands. The label is --label-column, else the sample's
column when the records have it, else a usual label name; the id is --id-column
or a usual id name. Values are scaled to [0, 1] as .npy arrays are
(kaggle_cnn.data.loaders.arrays): one map from the training values. Other fields
(Statoil's inc_angle) are left out, and `kcnn data` says so.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np

from kaggle_cnn.data.dataset import Dataset
from kaggle_cnn.data.loaders.arrays import ArrayStats, array_layout, describe_scale
from kaggle_cnn.data.loaders.csv_files import find_file, list_columns
from kaggle_cnn.data.loaders.kaggle_csv import LABEL_CANDIDATES
from kaggle_cnn.data.loaders.labelled_images import ID_CANDIDATES
from kaggle_cnn.data.loaders.sample import SAMPLE_NAME, read_sample
from kaggle_cnn.errors import InputError, one_line
from kaggle_cnn.labels import normalise_label, sorted_labels

TRAIN_NAME, TEST_NAME = "train.json", "test.json"
KIND = "json_records"


def is_json_records(folder: Path) -> bool:
    return find_file(folder, TRAIN_NAME) is not None


def parse_image_fields(value) -> list[str] | None:
    """`band_1,band_2` (or a list, as run.json gives it back) -> the field names."""
    if value is None:
        return None
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else [str(n) for n in value]
    if not names or any(not n for n in names) or len(set(names)) != len(names):
        raise InputError(f"--image-fields {value!r}: expected distinct field names separated by commas, "
                         "e.g. band_1,band_2")
    return names


def load_json_records(folder: Path, *, source: str, image_fields=None, label_column: str | None = None,
                      id_column: str | None = None) -> Dataset:
    train_path = find_file(folder, TRAIN_NAME)
    train = _records(train_path)
    fields = parse_image_fields(image_fields) or _array_fields(train_path, train[0])
    id_field = _id_field(train_path, train[0], id_column)
    sample_path = find_file(folder, SAMPLE_NAME)
    label = _label_field(train_path, train[0], id_field, fields, label_column, sample_path)
    _ids(train_path, train, id_field)  # every training id present and unique
    classes, y = _labels(train_path, train, label)
    x_train, shape = _images(train_path, train, fields, None)

    test_path = find_file(folder, TEST_NAME)
    test = _records(test_path) if test_path else []
    test_ids = _ids(test_path, test, id_field) if test else []
    sample = read_sample(sample_path, classes) if sample_path else None
    if sample is not None:
        test = _in_sample_order(sample, test, test_ids, test_path)
        test_ids = list(sample.ids)
    x_test, _ = _images(test_path, test, fields, shape) if test else (np.zeros((0, *shape), np.float32), shape)

    low, high = float(x_train.min()), float(x_train.max())
    layout = array_layout([ArrayStats(x_train.shape, low, high, bool(np.array_equal(x_train, np.floor(x_train))))])
    for x in (x_train, x_test):
        np.clip((x - np.float32(layout.low)) / np.float32(layout.span), 0.0, 1.0, out=x)
    ignored = [f for f in train[0] if f not in (*fields, id_field, label)]
    notes = (f"{train_path.name}: {len(train)} records (id field {id_field}, label {label}); image fields "
             f"{', '.join(fields)} stacked as channels" + (f"; {', '.join(ignored)} left out" if ignored else ""),
             f"test: {len(test_ids)} records of {test_path.name}" + (f" in {SAMPLE_NAME}'s order" if sample else "")
             if test_path else f"test: no {TEST_NAME}",
             f"array images {shape[0]}x{shape[1]}, {shape[2]} channel{'s' * (shape[2] != 1)} (one per image field); "
             f"values {describe_scale(layout)}")
    return Dataset(
        x_train=x_train, y_train=y, classes=classes, x_test=x_test, test_ids=test_ids,
        submission_header=sample.header if sample else (id_field, label),
        submission_kind=sample.kind if sample else "label",
        source=source, kind=KIND, layout_notes=notes,
    )


def json_classes(folder: Path, *, label_column: str | None = None, id_column: str | None = None) -> list:
    """The classes, read from train.json's labels alone."""
    train_path = find_file(folder, TRAIN_NAME)
    train = _records(train_path)
    id_field = _id_field(train_path, train[0], id_column)
    label = _label_field(train_path, train[0], id_field, [], label_column, find_file(folder, SAMPLE_NAME))
    return _labels(train_path, train, label)[0]


def _records(path: Path) -> list[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            records = json.load(handle)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path.name}: cannot be read as JSON ({one_line(error, 100)})") from None
    if not isinstance(records, list) or not records:
        found = "an empty list" if records == [] else f"a JSON {type(records).__name__}"
        raise InputError(f"{path.name}: expected a list of records (JSON objects), found {found}")
    wrong = next((n for n, r in enumerate(records, start=1) if not isinstance(r, dict)), None)
    if wrong is not None:
        raise InputError(f"{path.name} record {wrong}: a JSON {type(records[wrong - 1]).__name__}, not an object")
    return records


def _array_fields(path: Path, first: dict) -> list[str]:
    fields = [name for name, value in first.items() if isinstance(value, list)]
    if not fields:
        raise InputError(f"{path.name} record 1: no field holds an array (fields: {list_columns(list(first))}); "
                         "pass --image-fields")
    return fields


def _id_field(path: Path, first: dict, wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in first:
            raise InputError(f"{path.name} record 1: no id field {wanted!r} (fields: {list_columns(list(first))})")
        return wanted
    found = next((name for name in ID_CANDIDATES if name in first), None)
    if found is None:
        raise InputError(f"{path.name} record 1: no id field (looked for {', '.join(ID_CANDIDATES[:4])}, ...); "
                         "pass --id-column")
    return found


def _label_field(path: Path, first: dict, id_field: str, fields: list[str], wanted: str | None,
                 sample_path: Path | None) -> str:
    if wanted is not None:
        if wanted not in first or wanted == id_field:
            raise InputError(f"{path.name} record 1: no label field {wanted!r} (fields: {list_columns(list(first))})")
        return wanted
    others = [name for name in first if name not in (id_field, *fields) and not isinstance(first[name], list)]
    if sample_path is not None:
        from kaggle_cnn.data.loaders.csv_files import read_header

        named = [c for c in read_header(sample_path)[1:] if c in others]
        if len(named) == 1:
            return named[0]
    found = next((name for name in LABEL_CANDIDATES if name in others), None)
    if found is None:
        raise InputError(f"{path.name} record 1: no label field (fields: {list_columns(list(first))}); "
                         "pass --label-column")
    return found


def _field(path: Path, records: list[dict], number: int, name: str):
    record = records[number]
    if name not in record:
        raise InputError(f"{path.name} record {number + 1}: no field {name!r}")
    return record[name]


def _ids(path: Path, records: list[dict], id_field: str) -> list[str]:
    ids, seen = [], set()
    for number in range(len(records)):
        value = _field(path, records, number, id_field)
        if value is None or isinstance(value, (list, dict)) or str(value) == "":
            raise InputError(f"{path.name} record {number + 1}, field {id_field}: {json.dumps(value)[:40]} is no id")
        if str(value) in seen:
            raise InputError(f"{path.name} record {number + 1}, field {id_field}: duplicate id {str(value)!r}")
        seen.add(str(value))
        ids.append(str(value))
    return ids


def _labels(path: Path, records: list[dict], label: str) -> tuple[list, np.ndarray]:
    text = []
    for number in range(len(records)):
        value = _field(path, records, number, label)
        if value is None or isinstance(value, (list, dict)) or str(value).strip() == "":
            raise InputError(f"{path.name} record {number + 1}, field {label}: {json.dumps(value)[:40]} is no label")
        text.append(normalise_label(value))
    classes: list = sorted_labels(text)
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[t] for t in text], dtype=np.int64)
    if all(c.lstrip("-").isdigit() and str(int(c)) == c for c in classes):
        classes = [int(c) for c in classes]
    return classes, y


def _images(path: Path, records: list[dict], fields: list[str], shape: tuple | None) -> tuple[np.ndarray, tuple]:
    """(n, H, W, channels) float32 of the records' image fields, and (H, W, C)."""
    images = None
    first = None  # (record number, field, shape) every array is compared with
    for number in range(len(records)):
        for channel, name in enumerate(fields):
            array = _array(path, number, name, _field(path, records, number, name))
            if first is None:
                first = (number, name, array.shape)
                shape = shape or (*array.shape, len(fields))
                if tuple(shape[:2]) != array.shape:
                    raise InputError(f"{path.name} record {number + 1}, field {name}: {_size(array.shape)}, "
                                     f"but the training images are {_size(shape[:2])}")
                images = np.empty((len(records), *shape), dtype=np.float32)
            elif array.shape != first[2]:
                raise InputError(f"{path.name} record {number + 1}, field {name}: {_size(array.shape)}, but record "
                                 f"{first[0] + 1}'s {first[1]} is {_size(first[2])}; every image field needs the "
                                 "same size")
            images[number, ..., channel] = array
    return images, tuple(shape)


def _size(shape: tuple) -> str:
    return f"{shape[0] * shape[1]} values ({shape[0]}x{shape[1]})"


def _array(path: Path, number: int, name: str, value) -> np.ndarray:
    """One field as an (H, W) float32 array: a flat list made square, or a list of lists."""
    where = f"{path.name} record {number + 1}, field {name}"
    if not isinstance(value, list):
        raise InputError(f"{where}: {json.dumps(value)[:40]} is not an array")
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise InputError(f"{where}: not an array of numbers (a text, null or list of another length inside)") from None
    if array.ndim == 1:
        side = math.isqrt(array.size)
        if side * side != array.size or not side:
            raise InputError(f"{where}: {array.size} values do not form a square image; give it as a list of rows")
        array = array.reshape(side, side)
    if array.ndim != 2:
        raise InputError(f"{where}: an array of {array.ndim} dimensions; an image field is a flat list or a list "
                         "of rows")
    if not np.isfinite(array).all():
        raise InputError(f"{where}: holds NaN or infinite values")
    return array


def _in_sample_order(sample, test: list[dict], test_ids: list[str], test_path: Path | None) -> list[dict]:
    """test.json's records in the sample's order; a sample id without a record is refused."""
    by_id = dict(zip(test_ids, test))
    for row, sid in enumerate(sample.ids):
        if sid not in by_id:
            raise InputError(sample.cell(row, f"id {sid!r} has no record in {test_path.name if test_path else TEST_NAME}"))
    return [by_id[sid] for sid in sample.ids]
