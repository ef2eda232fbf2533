"""Images stored as numeric arrays: a `.npy` file per id (SETI Breakthrough Listen's
cadences), or the bands of a JSON record (kaggle_cnn.data.loaders.json_records).

An array is one image of 2 dimensions (one channel) or 3. A 3-d array is read as
channels first (C, H, W) when its first axis is small (at most CHANNELS_FIRST_MAX)
and its last axis is not, else as channels last (H, W, C): SETI's 6 x 273 x 256 is
6 channels of 273 x 256, a 64 x 64 x 3 array is 3 channels of 64 x 64.

Values are brought to [0, 1] by one linear map decided from the training arrays,
then applied to train and test alike (test values outside it are clipped): kept
as they are when every training value lies in [0, 1], divided by 255 when they
are whole numbers in 0..255, else mapped from the training minimum..maximum
(float arrays of any range, as radio spectrograms and radar decibels are). One
map for all arrays keeps their intensities comparable, which a per-array scale
would not.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kaggle_cnn.errors import InputError, one_line

ARRAY_EXTENSIONS = (".npy",)
CHANNELS_FIRST_MAX = 8
DIGEST_CHARS = 16
NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class ArrayStats:
    """What the one-time check of an array found."""

    shape: tuple[int, ...]  # as stored
    low: float
    high: float
    whole: bool  # every value a whole number


@dataclass(frozen=True)
class ArrayLayout:
    """How every array of a set becomes an (H, W, C) float32 image in [0, 1]."""

    channels_first: bool
    low: float  # value mapped to 0
    span: float  # value range mapped to 0..1

    def to_image(self, array: np.ndarray) -> np.ndarray:
        array = np.asarray(array, dtype=np.float32)
        if array.ndim == 2:
            array = array[..., None]
        elif self.channels_first:
            array = np.moveaxis(array, 0, -1)
        image = (array - np.float32(self.low)) / np.float32(self.span)
        return np.clip(image, 0.0, 1.0, out=image)


def is_array_file(path: str) -> bool:
    return path.lower().endswith(ARRAY_EXTENSIONS)


def holds_arrays(folder: Path) -> bool:
    """Whether a .npy file lies anywhere below `folder` (hidden folders aside)."""
    for _, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if any(is_array_file(name) for name in files):
            return True
    return False


def channels_first(shape: tuple[int, ...]) -> bool:
    return len(shape) == 3 and shape[0] <= CHANNELS_FIRST_MAX < shape[-1]


def image_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(H, W, C) of an array of this shape."""
    if len(shape) == 2:
        return shape[0], shape[1], 1
    if channels_first(shape):
        return shape[1], shape[2], shape[0]
    return shape[0], shape[1], shape[2]


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def array_problem(array: np.ndarray) -> str | None:
    """Why an array cannot be an image, or None."""
    if array.dtype.kind not in "biuf":
        return f"holds {array.dtype} values, not numbers"
    if array.ndim not in (2, 3):
        return (f"has {array.ndim} dimension{'s' * (array.ndim != 1)} ({shape_text(array.shape)}); "
                "an image array has 2 (H x W) or 3")
    if 0 in array.shape:
        return f"is empty ({shape_text(array.shape)})"
    return None


def stats(array: np.ndarray) -> ArrayStats | str:
    """ArrayStats of an array, or why it cannot be an image (non-finite values too)."""
    problem = array_problem(array)
    if problem:
        return problem
    low, high = float(np.min(array)), float(np.max(array))
    if not (np.isfinite(low) and np.isfinite(high)):
        return "holds NaN or infinite values"
    whole = array.dtype.kind in "biu" or bool(np.array_equal(array, np.floor(array)))
    return ArrayStats(tuple(int(n) for n in array.shape), low, high, whole)


def check_array(absolute: str, target=None) -> tuple | str:
    """(digest, (H, W), grey, needs Pillow, ArrayStats) of a .npy file, as check_file
    gives an image's, else why it cannot be used: the file is read once, hashed and
    parsed from the same bytes (training reads it again, memory-mapped, batch by batch)."""
    try:
        with open(absolute, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return f"cannot read: {one_line(error.strerror or error, 80)}"
    if not data.startswith(NPY_MAGIC):  # np.load would take it for a pickle
        return "not a valid .npy file (no .npy header)"
    digest = hashlib.sha256(data).hexdigest()[:DIGEST_CHARS]
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except EOFError:
        return "not a valid .npy file (cut short)"
    except ValueError as error:
        if "allow_pickle" in str(error) or "Python objects" in str(error):
            return "holds an object array (Python objects, not numbers)"
        return f"not a valid .npy file ({one_line(error, 80)})"
    if not isinstance(array, np.ndarray):
        return "not a valid .npy file"
    found = stats(array)
    if isinstance(found, str):
        return found
    height, width, channels = image_shape(found.shape)
    return digest, (height, width), channels == 1, False, found


def read_array(path: bytes, layout: ArrayLayout) -> np.ndarray:
    """One .npy file as an (H, W, C) float32 image (inside tf.data, as Pillow's reader is)."""
    return layout.to_image(np.load(path.decode(), mmap_mode="r", allow_pickle=False))


def array_layout(train: list[ArrayStats]) -> ArrayLayout:
    """The one map of a set's arrays to [0, 1], decided from the training arrays."""
    low, high = min(s.low for s in train), max(s.high for s in train)
    first = channels_first(train[0].shape)
    if low >= 0 and high <= 1:
        return ArrayLayout(first, 0.0, 1.0)
    if low >= 0 and high <= 255 and all(s.whole for s in train):
        return ArrayLayout(first, 0.0, 255.0)
    return ArrayLayout(first, low, (high - low) or 1.0)


def same_shapes(named: list[tuple[str, tuple[int, ...]]], source: str, resized: bool) -> None:
    """Every array the shape of the first (with --image-size: the same channels, in the
    same order); else refused, naming both files and shapes."""
    first_name, first = named[0]
    kind = lambda shape: (len(shape), channels_first(shape), image_shape(shape)[2])  # noqa: E731
    for name, shape in named:
        differs = kind(shape) != kind(first) if resized else shape != first
        if differs:
            fix = ("; pass --image-size N or HxW to resize them" if not resized and kind(shape) == kind(first)
                   else "; every array image needs the same channels, in the same order" if resized
                   else "; every array image needs the same shape")
            raise InputError(f"{source}: arrays differ in shape ({first_name} is {shape_text(first)}, "
                             f"{name} is {shape_text(shape)}){fix}")


def describe_layout(shape: tuple[int, ...], layout: ArrayLayout) -> str:
    """One line for `kcnn data`: the arrays' shape, channels order and scale."""
    height, width, channels = image_shape(shape)
    order = ("one channel" if len(shape) == 2 else
             f"channels first: {channels} channels of {height}x{width}" if layout.channels_first else
             f"channels last: {channels} channels of {height}x{width}")
    return f"array images {shape_text(shape)} ({order}); values {describe_scale(layout)}"


def describe_scale(layout: ArrayLayout) -> str:
    if (layout.low, layout.span) == (0.0, 1.0):
        return "kept as they are (0..1)"
    if (layout.low, layout.span) == (0.0, 255.0):
        return "divided by 255"
    return f"mapped from {layout.low:g}..{layout.low + layout.span:g} (the training range) to 0..1"
