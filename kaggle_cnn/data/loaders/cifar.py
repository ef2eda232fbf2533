"""CIFAR-10 / CIFAR-100 "python version" batches: a folder holding
data_batch_1..5 (or `train`) and test_batch (or `test`), each a pickled dict
with b"data" (N x 3072, channels first) and b"labels" (or b"fine_labels"), and
optionally batches.meta / meta naming the classes.

The batches are read with a restricted unpickler: numpy arrays, lists, dicts,
bytes, str and numbers, nothing else. A file that asks to load any other Python
object (a function to call, a class to build) is refused before that object is
touched, so a crafted batch cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn.data.dataset import Dataset
from kaggle_cnn.errors import InputError, one_line

TRAIN_FILES = ("data_batch_*", "train")
TEST_FILES = ("test_batch", "test")
META_FILES = ("batches.meta", "meta")
WHAT_IS_READ = "only numpy arrays, lists, dicts, bytes and str are read"


def is_cifar_folder(folder: Path) -> bool:
    return any(folder.glob("data_batch_*")) or ((folder / "train").is_file() and (folder / "test").is_file()
                                                and (folder / "meta").is_file())


def load_cifar_folder(folder: Path, *, source: str) -> Dataset:
    from kaggle_cnn.data.loaders.npz import from_arrays

    train_paths = sorted(p for pattern in TRAIN_FILES for p in folder.glob(pattern) if p.is_file())
    if not train_paths:
        raise InputError(f"{folder}: CIFAR batches without a data_batch_* file")
    test_path = next((folder / n for n in TEST_FILES if (folder / n).is_file()), None)
    if test_path is None:
        raise InputError(f"{folder}: CIFAR batches without test_batch")
    x_parts, y_parts = zip(*(_read_batch(p) for p in train_paths))
    x_test, _ = _read_batch(test_path)  # the test labels are the answers: not the model's to see
    labels = np.concatenate(y_parts)
    names = _class_names(folder)
    if names is not None and len(labels):
        if labels.max() >= len(names):
            raise InputError(f"{folder}: label {labels.max()} but the meta file names {len(names)} classes")
        labels = np.asarray(names, dtype=object)[labels].astype(str)
    arrays = {"x_train": np.concatenate(x_parts), "y_train": labels, "x_test": x_test}
    return from_arrays(folder.name, arrays, image_shape=None, source=source, kind="cifar_batches")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path, "CIFAR batch")
    if not isinstance(batch, dict) or b"data" not in batch:
        raise InputError(f"{path}: not a CIFAR batch (no data)")
    try:
        data = np.asarray(batch[b"data"], dtype=np.uint8)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{path}: data is not an array of pixel values") from None
    if data.ndim != 2 or data.shape[1] != 3072:
        raise InputError(f"{path}: data is {data.shape}, expected rows of 3072 values (32x32x3)")
    labels = batch.get(b"labels", batch.get(b"fine_labels"))
    try:
        labels = None if labels is None else np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{path}: labels are not whole numbers") from None
    if labels is None or labels.shape != (len(data),):
        raise InputError(f"{path}: labels missing or not one per image")
    if len(labels) and labels.min() < 0:
        raise InputError(f"{path}: label {labels.min()} is negative")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # stored channels first
    return images, labels


def _class_names(folder: Path) -> list[str] | None:
    meta = next((folder / n for n in META_FILES if (folder / n).is_file()), None)
    if meta is None:
        return None
    content = _unpickle(meta, "CIFAR meta file")
    if not isinstance(content, dict):
        raise InputError(f"{meta}: not a CIFAR meta file (a {type(content).__name__}, not a dict)")
    names = content.get(b"label_names", content.get(b"fine_label_names"))
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, (bytes, str)) for n in names):
        raise InputError(f"{meta}: not a CIFAR meta file (no label_names: a list of class names)")
    try:
        return [n.decode() if isinstance(n, bytes) else n for n in names]
    except UnicodeDecodeError:
        raise InputError(f"{meta}: class names are not UTF-8 text") from None


# -- a pickle reader that builds data and nothing else ------------------------------------


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """What real batches reference: numpy's array and scalar rebuilders (under both
    of numpy's module names), the plain containers, and the codec Python 3 uses for
    bytes in old pickle protocols."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray, numeric
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    import builtins
    import codecs

    for name in ("bytes", "bytearray", "str", "list", "dict", "tuple", "set", "frozenset", "int", "float"):
        allowed[("builtins", name)] = allowed[("__builtin__", name)] = getattr(builtins, name)
    allowed[("_codecs", "encode")] = codecs.encode
    return allowed


class _DataOnlyUnpickler(pickle.Unpickler):
    def __init__(self, handle, path: Path, what: str):
        super().__init__(handle, encoding="bytes")
        self.path, self.what, self.allowed = path, what, _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        found = self.allowed.get((module, name))
        if found is None:
            raise InputError(f"{self.path}: not a {self.what} (it asks to load {one_line(f'{module}.{name}', 80)}; "
                             f"{WHAT_IS_READ})")
        return found


def _unpickle(path: Path, what: str) -> Any:
    try:
        with open(path, "rb") as handle:
            return _DataOnlyUnpickler(handle, path, what).load()
    except InputError:
        raise
    except OSError as error:
        raise InputError(f"{path}: cannot read ({one_line(error.strerror or error, 80)})") from None
    except Exception as error:  # a truncated or malformed pickle: whatever the unpickler stumbled on
        raise InputError(f"{path}: not a {what} ({type(error).__name__})") from None
