"""The in-memory competition every other part of kaggle_cnn works from.

A Dataset is what a loader hands to training, voting and metrics: images already
scaled and shaped for a CNN, labels as indices plus the exact original label
values (so a submission writes back what the competition expects), and the test
ids in submission order. Its fingerprint lets the store refuse to vote together
runs trained on different data.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from kaggle_cnn.errors import InputError

ImageShape = tuple[int, int, int]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded competition: train images and labels, test images and ids.

    eq=False because comparing arrays element-wise is rarely what a caller wants;
    compare fingerprints instead.
    """

    # float32 (n, H, W, C) in [0, 1]; for image folders an ImageFiles
    # (kaggle_cnn.data.folders), which decodes on demand and streams through tf.data
    x_train: np.ndarray
    y_train: np.ndarray  # int64 indices into `classes`
    classes: list  # sorted original label values: all int, or all str
    x_test: np.ndarray  # float32 (m, H, W, C), rows in submission order
    test_ids: list[str]  # ids exactly as written in the source, submission order
    submission_header: tuple[str, str]  # (id column, label column)
    source: str  # path as given, or "demo"
    kind: str  # "kaggle_csv", "npz", "cifar_batches" or "image_folder"
    # How to load it again (absolute path, column options): recorded in run.json
    # so that `kcnn predict` can rebuild a run's validation and test inputs.
    load_options: dict = field(default_factory=dict)
    # Rows of x_train that the data itself sets aside for validation (an image
    # folder's val/): the workspace's split then uses exactly these.
    val_rows: np.ndarray | None = None
    # Known answers for the test rows (an image folder's labelled test/), in order.
    test_labels: list | None = None
    # Files the loader left out, as (path, reason): reported, never silently dropped.
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def image_shape(self) -> ImageShape:
        """(H, W, C) of one image."""
        h, w, c = self.x_train.shape[1:]
        return int(h), int(w), int(c)

    @property
    def n_classes(self) -> int:
        """Number of distinct labels in the training set."""
        return len(self.classes)

    def fingerprint(self) -> str:
        """16 hex chars identifying the data, independent of where it was loaded from.

        Labels are hashed as their values (not indices) so relabelling changes the
        fingerprint; each section is tagged and length-prefixed so that moving
        bytes from one section to another cannot give the same digest.
        """
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        # cached_property writes straight into __dict__, so it works on a frozen
        # dataclass and the (large) hash is computed at most once.
        digest = hashlib.sha256()

        def section(tag: str, payload: bytes) -> None:
            digest.update(f"{tag}:{len(payload)}:".encode())
            digest.update(payload)

        section("shape", json.dumps(list(self.image_shape)).encode())
        section("x_train", _image_bytes(self.x_train))
        labels = [self.classes[int(i)] for i in np.asarray(self.y_train)]
        section("y_train", json.dumps(labels).encode())
        section("x_test", _image_bytes(self.x_test))
        section("test_ids", json.dumps(list(self.test_ids)).encode())
        return digest.hexdigest()[:16]


def _image_bytes(images) -> bytes:
    """What identifies a set of images: the pixels of an array, or the file
    contents' digests (and decoding settings) of an ImageFiles."""
    if hasattr(images, "fingerprint_payload"):
        return images.fingerprint_payload()
    return np.ascontiguousarray(images, dtype=np.float32).tobytes()


_SHAPE_SPLIT = re.compile(r"\s*[xX,]\s*")


def parse_image_shape(text: str) -> ImageShape:
    """Parse "28x28x1", "28,28,1", "32x32x3" or "28x28" (C=1) into (H, W, C)."""
    parts = _SHAPE_SPLIT.split(str(text).strip())
    if len(parts) == 2:
        parts.append("1")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise InputError(
            f"image shape {text!r}: expected HxWxC with positive integers, e.g. 28x28x1 or 32x32x3"
        )
    h, w, c = (int(p) for p in parts)
    return h, w, c


def resolve_image_shape(
    width: int, image_shape: ImageShape | None, where: str, what: str = "pixel columns"
) -> ImageShape:
    """Turn a flat row width into (H, W, C), from the given shape or by inference.

    Inference only accepts square images (grey, or RGB stored channel-last as
    H*W*3 values) because anything else is ambiguous; the user can then say.
    """
    if image_shape is not None:
        h, w, c = image_shape
        if h * w * c != width:
            raise InputError(
                f"{where}: image shape {h}x{w}x{c} needs {h * w * c} values per image, "
                f"but there are {width} {what}"
            )
        return int(h), int(w), int(c)
    for channels in (1, 3):
        if width % channels == 0:
            side = math.isqrt(width // channels)
            if side > 0 and side * side * channels == width:
                return side, side, channels
    raise InputError(
        f"{where}: {width} {what} do not form a square image; pass --image-shape HxWxC"
    )


def load_dataset(
    path: str | os.PathLike | None = None,
    *,
    label_column: str | None = None,
    id_column: str | None = None,
    image_shape: ImageShape | None = None,
    image_size: tuple[int, int] | None = None,
) -> Dataset:
    """Load a competition: None -> the packaged demo, a folder -> Kaggle CSVs (or
    CIFAR python batches, or class folders of image files), *.npz -> npz.

    image_size (H, W) resizes the images of an image folder (needed when their
    sizes differ); a list, as run.json gives it back, is accepted too.
    """
    if image_size is not None:
        from kaggle_cnn.data.folders import check_image_size

        image_size = check_image_size(image_size)
    dataset = _load(path, label_column, id_column, image_shape, image_size)
    options = {
        "path": None if path is None else str(Path(path).resolve()),
        "label_column": label_column, "id_column": id_column,
        "image_shape": list(image_shape) if image_shape else None,
    }
    if image_size is not None:  # only when given: other kinds' recorded options stay as they were
        options["image_size"] = list(image_size)
    return replace(dataset, load_options=options)


def _load(path, label_column, id_column, image_shape, image_size=None) -> Dataset:
    """Dispatch on the kind of path (None: the packaged demo, a Kaggle folder, CIFAR
    batches, or any other folder: class folders of image files).

    The loaders are imported here, not at module level, so that importing
    kaggle_cnn.data stays cheap (pandas is only needed once data is read).
    """
    from kaggle_cnn.data.cifar import is_cifar_folder, load_cifar_folder
    from kaggle_cnn.data.demo import demo_path
    from kaggle_cnn.data.folders import is_image_folder, load_image_folder
    from kaggle_cnn.data.kaggle_csv import load_kaggle_folder
    from kaggle_cnn.data.npz import load_npz

    source = "demo" if path is None else os.fspath(path)
    target = demo_path() if path is None else Path(source)
    if not target.exists():
        raise InputError(f"{source}: no such file or folder")
    images = target.is_dir() and not is_cifar_folder(target) and is_image_folder(target)
    if image_size is not None and not images:
        raise InputError(f"{source}: --image-size applies to image folders (one sub-folder of images per class)")
    if target.is_dir():
        if images:
            if label_column is not None or id_column is not None or image_shape is not None:
                raise InputError(f"{source}: --label-column, --id-column and --image-shape apply to CSV folders "
                                 "and .npz; an image folder takes its labels from the class folders "
                                 "(use --image-size to resize)")
            return load_image_folder(target, image_size=image_size, source=source)
        if is_cifar_folder(target):
            if label_column is not None or id_column is not None or image_shape is not None:
                raise InputError(f"{source}: CIFAR batches have fixed labels and 32x32x3 images; drop the column options")
            return load_cifar_folder(target, source=source)
        return load_kaggle_folder(target, label_column=label_column, id_column=id_column, image_shape=image_shape,
                                  source=source)
    if target.name.lower().endswith(".npz"):
        if label_column is not None or id_column is not None:
            raise InputError(
                f"{source}: --label-column and --id-column apply to CSV folders, not .npz"
            )
        return load_npz(target, image_shape=image_shape, source=source)
    raise InputError(
        f"{source}: expected a Kaggle competition folder (train.csv, test.csv), a folder of class "
        "sub-folders of images, or a .npz file"
    )
