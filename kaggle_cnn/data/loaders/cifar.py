"""CIFAR-10 / CIFAR-100 "python version" batches: a folder holding
data_batch_1..5 (or `train`) and test_batch (or `test`), each a pickled dict
with b"data" (N x 3072, channels first) and b"labels" (or b"fine_labels"), and
optionally batches.meta / meta naming the classes (seeds 001 and 003).

These files are pickles: only open batches from a source you trust, as with
the official download.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from kaggle_cnn.data.dataset import Dataset
from kaggle_cnn.errors import InputError

TRAIN_FILES = ("data_batch_*", "train")
TEST_FILES = ("test_batch", "test")
META_FILES = ("batches.meta", "meta")


def is_cifar_folder(folder: Path) -> bool:
    return any(folder.glob("data_batch_*")) or ((folder / "train").is_file() and (folder / "test").is_file()
                                                and (folder / "meta").is_file())


def load_cifar_folder(folder: Path, *, source: str) -> Dataset:
    from kaggle_cnn.data.loaders.npz import from_arrays

    train_paths = sorted(p for pattern in TRAIN_FILES for p in folder.glob(pattern) if p.is_file())
    test_path = next((folder / n for n in TEST_FILES if (folder / n).is_file()), None)
    if test_path is None:
        raise InputError(f"{folder}: CIFAR batches without test_batch")
    x_parts, y_parts = zip(*(_read_batch(p) for p in train_paths))
    x_test, _ = _read_batch(test_path)  # the test labels are the answers: not the model's to see
    labels = np.concatenate(y_parts)
    names = _class_names(folder)
    if names is not None:
        if labels.max() >= len(names):
            raise InputError(f"{folder}: label {labels.max()} but the meta file names {len(names)} classes")
        labels = np.asarray(names, dtype=object)[labels].astype(str)
    arrays = {"x_train": np.concatenate(x_parts), "y_train": labels, "x_test": x_test}
    return from_arrays(folder.name, arrays, image_shape=None, source=source, kind="cifar_batches")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise InputError(f"{path}: not a CIFAR batch ({type(error).__name__})") from None
    if not isinstance(batch, dict) or b"data" not in batch:
        raise InputError(f"{path}: not a CIFAR batch (no data)")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise InputError(f"{path}: data is {data.shape}, expected rows of 3072 values (32x32x3)")
    labels = batch.get(b"labels", batch.get(b"fine_labels"))
    if labels is None or len(labels) != len(data):
        raise InputError(f"{path}: labels missing or not one per image")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # stored channels first
    return images, np.asarray(labels, dtype=np.int64)


def _class_names(folder: Path) -> list[str] | None:
    meta = next((folder / n for n in META_FILES if (folder / n).is_file()), None)
    if meta is None:
        return None
    with open(meta, "rb") as handle:
        content = pickle.load(handle, encoding="bytes")
    names = content.get(b"label_names", content.get(b"fine_label_names"))
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names] if names else None
