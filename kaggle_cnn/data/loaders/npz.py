"""Load a competition stored as one .npz: x_train, y_train, x_test and optional ids.

This is the quick way in for data that is already arrays (Keras datasets, a
CIFAR subset). Errors name the file and the key at fault.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from kaggle_cnn.data.dataset import Dataset, ImageShape, resolve_image_shape
from kaggle_cnn.data.loaders.pixel_scale import scale_to_unit
from kaggle_cnn.errors import InputError, one_line
from kaggle_cnn.labels import normalise_labels

REQUIRED_KEYS = ("x_train", "y_train", "x_test")
ID_KEYS = ("ids", "test_ids")
SUBMISSION_HEADER = ("id", "label")


def load_npz(path: Path, *, image_shape: ImageShape | None = None, source: str) -> Dataset:
    """Read and validate an .npz competition into a Dataset."""
    return from_arrays(path.name, _read_arrays(path), image_shape=image_shape, source=source, kind="npz")


def from_arrays(name: str, arrays: dict[str, np.ndarray], *, image_shape: ImageShape | None, source: str,
                kind: str) -> Dataset:
    """Validate x_train, y_train, x_test (and optional ids) into a Dataset; `name`
    is the file the messages point at."""
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise InputError(
            f"{name}: missing key {missing[0]!r} "
            f"(keys found: {', '.join(sorted(arrays)) or 'none'})"
        )
    x_train = _images(name, "x_train", arrays["x_train"], image_shape)
    x_test = _images(name, "x_test", arrays["x_test"], image_shape)
    if x_train.shape[1:] != x_test.shape[1:]:
        raise InputError(
            f"{name}: x_train images are {_shape_text(x_train)} but x_test images are "
            f"{_shape_text(x_test)}"
        )
    classes, y_train = _labels(name, arrays["y_train"], len(x_train))
    test_ids = _ids(name, arrays, len(x_test))
    return Dataset(
        x_train=x_train,
        y_train=y_train,
        classes=classes,
        x_test=x_test,
        test_ids=test_ids,
        submission_header=SUBMISSION_HEADER,
        source=source,
        kind=kind,
    )


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an .npz is a zip archive (possibly empty)
_NPY_MAGIC = b"\x93NUMPY"


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """All arrays, loaded eagerly; pickles are refused since an .npz should not run code."""
    # Check the magic first: np.load treats anything unknown as a pickle, which
    # would make a stray CSV look like "pickled data".
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
    except OSError as exc:
        raise InputError(f"{path.name}: cannot read ({one_line(exc)})") from None
    if magic.startswith(_NPY_MAGIC):
        raise InputError(f"{path.name}: a single .npy array, not an .npz archive")
    if not magic.startswith(_ZIP_MAGIC):
        raise InputError(f"{path.name}: not a readable .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as exc:
        if "pickle" in str(exc):
            raise InputError(
                f"{path.name}: holds pickled object arrays; "
                "save labels and ids as int or str arrays"
            ) from None
        raise InputError(f"{path.name}: not a readable .npz file ({one_line(exc)})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path.name}: not a readable .npz file ({one_line(exc)})") from None


def _shape_text(x: np.ndarray) -> str:
    return "x".join(str(d) for d in x.shape[1:])


def _images(
    name: str, key: str, raw: np.ndarray, image_shape: ImageShape | None
) -> np.ndarray:
    """float32 (n, H, W, C) in [0, 1], checked for NaN and range, scaled by this array's own values."""
    where = f"{name}, key {key}"
    if raw.dtype.kind not in "biuf":
        raise InputError(f"{where}: images must be numbers, got dtype {raw.dtype}")
    if raw.ndim not in (2, 3, 4) or len(raw) == 0:
        raise InputError(
            f"{where}: expected images shaped (n, H, W), (n, H, W, C) or flat (n, pixels) "
            f"with n > 0, got shape {raw.shape}"
        )
    if 0 in raw.shape:
        raise InputError(f"{where}: shape {raw.shape} has a dimension of size 0; images need at least one pixel")
    x = raw.astype(np.float32)  # always a copy, so scaling in place is safe
    if x.ndim == 2:
        shape = resolve_image_shape(x.shape[1], image_shape, where, "pixel values per image")
        x = x.reshape((len(x), *shape))
    elif x.ndim == 3:
        x = x[..., np.newaxis]
    if image_shape is not None and tuple(x.shape[1:]) != tuple(image_shape):
        raise InputError(
            f"{where}: images are {_shape_text(x)}, not the given image shape "
            f"{'x'.join(str(d) for d in image_shape)}"
        )
    bad = np.isnan(x)
    if bad.any():
        raise InputError(f"{where}: NaN in image {int(np.argwhere(bad)[0][0])}")
    bad = (x < 0) | (x > 255)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{where}: value {x[index]:g} in image {index[0]} is outside 0..255")
    scale_to_unit(x, lambda index, problem: f"{where}, image {index[0]}: {problem}")
    return x


def _labels(name: str, raw: np.ndarray, n_images: int) -> tuple[list, np.ndarray]:
    """Sorted class values (ints, or strings if stored as strings) and int64 indices."""
    where = f"{name}, key y_train"
    y = raw.reshape(-1) if raw.ndim == 2 and raw.shape[1:] == (1,) else raw
    if y.ndim != 1:
        raise InputError(
            f"{where}: labels must be one per image (shape (n,)), got shape {raw.shape}"
        )
    if len(y) != n_images:
        raise InputError(f"{where}: {len(y)} labels for {n_images} images in x_train")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise InputError(f"{where}: float labels must be whole numbers; use ints or strings")
        y = y.astype(np.int64)
    elif y.dtype.kind == "S":
        y = np.char.decode(y, "utf-8")
    if y.dtype.kind == "U":
        y = np.array(normalise_labels(y), dtype=str)
    elif y.dtype.kind not in "iuU":
        raise InputError(f"{where}: labels must be integers or strings, got dtype {y.dtype}")
    uniques, inverse = np.unique(y, return_inverse=True)
    classes = [int(v) for v in uniques] if uniques.dtype.kind in "iu" else [str(v) for v in uniques]
    if len(classes) < 2:
        raise InputError(f"{where}: only {len(classes)} class ({classes[0]!r}); need at least 2")
    return classes, np.asarray(inverse, dtype=np.int64).reshape(-1)


def _ids(name: str, arrays: dict[str, np.ndarray], n_test: int) -> list[str]:
    """Test ids as text, "1".."m" when the archive has none."""
    key = next((k for k in ID_KEYS if k in arrays), None)
    if key is None:
        return [str(i) for i in range(1, n_test + 1)]
    where = f"{name}, key {key}"
    raw = arrays[key]
    if raw.ndim != 1 or len(raw) != n_test:
        raise InputError(
            f"{where}: expected {n_test} ids (one per x_test image), got shape {raw.shape}"
        )
    if raw.dtype.kind == "S":
        raw = np.char.decode(raw, "utf-8")
    if raw.dtype.kind not in "iuU":
        raise InputError(f"{where}: ids must be integers or strings, got dtype {raw.dtype}")
    ids = [str(v) for v in raw.tolist()]
    seen: dict[str, int] = {}
    for index, value in enumerate(ids):
        if value in seen:
            raise InputError(f"{where}: duplicate id {value!r} at index {index}")
        seen[value] = index
    return ids
