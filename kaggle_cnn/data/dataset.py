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
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from kaggle_cnn.config import ImageShape, parse_image_shape  # noqa: F401  (parse_image_shape: re-exported)
from kaggle_cnn.errors import InputError
from kaggle_cnn.labels import SINGLE_LABEL, is_multi_label, is_numeric_target


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded competition: train images and labels, test images and ids.

    eq=False because comparing arrays element-wise is rarely what a caller wants;
    compare fingerprints instead.
    """

    # float32 (n, H, W, C) in [0, 1]; for image folders an ImageFiles
    # (kaggle_cnn.data.loaders.folders), which decodes on demand and streams through tf.data
    x_train: np.ndarray
    y_train: np.ndarray  # int64 indices into `classes`; multi-label: bool rows x classes (labels.is_multi_label);
    # regression and ordinal: float64 targets, one per row, and `classes` is the target column's name alone
    classes: list  # sorted original label values: all int, or all str
    x_test: np.ndarray  # float32 (m, H, W, C), rows in submission order
    test_ids: list[str]  # ids exactly as written in the source, submission order
    submission_header: tuple[str, ...]  # (id column, label column), or (id column, one column per class)
    source: str  # path as given, or "demo"
    kind: str  # "kaggle_csv", "npz", "cifar_batches", "image_folder", "labelled_images" or "json_records"
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
    # What a submission holds (kaggle_cnn.store.submissions.KINDS): a label, a
    # probability per class column, one probability column (two classes), or the
    # K likeliest labels ("top_k").
    submission_kind: str = "label"
    # "top_k": how many labels, likeliest first, each submission row holds (the sample's).
    top_k: int | None = None
    # What the loader found, one line each, for `kcnn data` (a labels CSV's columns,
    # how many ids matched an image file, where the test ids came from).
    layout_notes: tuple[str, ...] = ()
    # labels.SINGLE_LABEL, MULTI_LABEL (any number of labels per row), REGRESSION or ORDINAL (a number per row).
    task: str = SINGLE_LABEL

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
        if is_numeric_target(self.y_train):  # a number per row, under the target column's name
            labels = [self.classes[0], *map(float, self.y_train), self.task]
        elif is_multi_label(self.y_train):  # each row's tags; a single-label row stays one value
            labels = [[self.classes[int(i)] for i in np.flatnonzero(row)] for row in self.y_train]
        else:
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
