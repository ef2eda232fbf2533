"""The images of an image folder: ImageFiles (decoded by TensorFlow on demand,
through tf.data, cached in memory when the folder is small enough) and the
one-time check of each file with Pillow (readable by TensorFlow? grey or colour?
its size, and its bytes' digest for the fingerprint)."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np

from kaggle_cnn.data.loaders.arrays import ArrayLayout, ArrayStats, read_array
from kaggle_cnn.errors import one_line

# What tf.io.decode_image reads, as Pillow names the formats.
TF_FORMATS = ("JPEG", "PNG", "BMP", "GIF")
# What Pillow decodes for TensorFlow (Histopathologic's .tif, WebP photos): a set of
# images holding any of these is decoded by Pillow inside the tf.data pipeline.
PILLOW_FORMATS = ("TIFF", "WEBP")
DIGEST_CHARS = 16
# Decoded images up to this size are cached in memory after the first epoch;
# bigger folders are decoded afresh each epoch (streamed).
MEMORY_CACHE_BYTES = 1 << 30

_GREY_MODES = ("1", "L", "LA", "La", "I", "F")
# TensorFlow's BMP decoder ignores palettes and compression: it reads 8-bit grey,
# 24- and 32-bit pixels only.
_BMP_MODES = ("L", "RGB", "RGBA")
_BMP_COMPRESSIONS = (0, 3)  # BI_RGB, BI_BITFIELDS


@functools.cache
def _decoder(size: tuple[int, int], channels: int, pillow: bool = False, array: ArrayLayout | None = None):
    """The one decode used everywhere (training, prediction, x[i]): path -> float32
    (H, W, C) in [0, 1], mapped over a tf.data.Dataset of paths. With `pillow`,
    Pillow reads the files (formats TensorFlow has no decoder for); with `array`,
    numpy reads .npy files, memory-mapped, and `array` scales them."""
    from kaggle_cnn.backend import load_keras

    load_keras()
    import tensorflow as tf

    height, width = size

    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def decode(path):
        # Grey images are decoded as RGB and one channel kept: TensorFlow's BMP and
        # GIF decoders refuse channels=1, and for JPEG/PNG the values are the same.
        if array is not None:
            image = tf.numpy_function(functools.partial(read_array, layout=array), [path], tf.float32,
                                      stateful=False)
            image.set_shape([None, None, channels])
        elif pillow:
            image = tf.numpy_function(functools.partial(_read_with_pillow, channels=channels), [path], tf.uint8,
                                      stateful=False)
            image.set_shape([None, None, channels])
        else:
            image = tf.io.decode_image(tf.io.read_file(path), channels=3 if channels == 1 else channels,
                                       expand_animations=False)
        if channels == 1 and array is None:
            image = image[..., :1]
        shape = tf.shape(image)
        image = tf.cond(
            tf.logical_and(tf.equal(shape[0], height), tf.equal(shape[1], width)),
            lambda: tf.cast(image, tf.float32),
            lambda: tf.image.resize(image, (height, width), method="bilinear"),
        )
        image = tf.ensure_shape(image if array is not None else image / 255.0, (height, width, channels))
        return image

    return decode


def _read_with_pillow(path: bytes, channels: int) -> np.ndarray:
    """uint8 (H, W, C) pixels of one file, grey or RGB, as TensorFlow's decoders give them."""
    from PIL import Image

    with Image.open(path.decode()) as image:
        pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    return pixels[..., None] if channels == 1 else pixels


@dataclass(frozen=True)
class ImageFiles:
    """Images stored as files, used where an (n, H, W, C) float32 array would be.

    Indexing with an int decodes one image; with a slice, int array or boolean
    mask it gives another ImageFiles (nothing decoded). np.asarray(x) decodes all
    of them; x.tf_dataset(...) streams them for Keras.
    """

    root: str  # absolute folder the paths are relative to
    files: tuple[str, ...]  # relative POSIX paths
    digests: tuple[str, ...]  # one per file: sha256 of its bytes, first 16 hex chars
    size: tuple[int, int]  # (H, W) every image is resized to
    channels: int  # 1 or 3
    # (H, W) of each file as stored, for descriptions; not part of the identity.
    source_sizes: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)
    pillow: bool = False  # decoded by Pillow: some files are in PILLOW_FORMATS
    array: ArrayLayout | None = None  # .npy files, read by numpy and scaled so

    def __post_init__(self) -> None:
        if len(self.digests) != len(self.files):
            raise ValueError(f"{len(self.files)} files but {len(self.digests)} digests")
        if self.source_sizes and len(self.source_sizes) != len(self.files):
            raise ValueError(f"{len(self.files)} files but {len(self.source_sizes)} source sizes")

    # -- array-like

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.files), *self.size, self.channels)

    ndim = 4
    dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        return (f"ImageFiles(root={self.root!r}, {len(self)} files, size={self.size[0]}x{self.size[1]}, "
                f"channels={self.channels})")

    def __getitem__(self, index):
        if isinstance(index, Integral) and not isinstance(index, bool):
            position = int(index)
            if not -len(self) <= position < len(self):
                raise IndexError(f"image {position} out of range for {len(self)} images")
            return self.decode(position % len(self))
        if isinstance(index, slice):
            rows = range(len(self))[index]
        else:
            rows = np.asarray(index)
            if rows.dtype == bool:
                if rows.shape != (len(self),):
                    raise IndexError(f"boolean index of shape {rows.shape} for {len(self)} images")
                rows = np.flatnonzero(rows)
            elif rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
                raise IndexError("ImageFiles takes an int, a slice, or a 1-d int or boolean array")
            rows = rows.astype(np.int64)
            if rows.size and (rows.max() >= len(self) or rows.min() < -len(self)):
                raise IndexError(f"index out of range for {len(self)} images")
            rows = rows % max(len(self), 1)
        return self._subset([int(r) for r in rows])

    def _subset(self, rows: Sequence[int]) -> ImageFiles:
        return ImageFiles(
            root=self.root,
            files=tuple(self.files[r] for r in rows),
            digests=tuple(self.digests[r] for r in rows),
            size=self.size,
            channels=self.channels,
            source_sizes=tuple(self.source_sizes[r] for r in rows) if self.source_sizes else (),
            pillow=self.pillow,
            array=self.array,
        )

    def __iter__(self) -> Iterator[np.ndarray]:
        for block in self.blocks():
            yield from block

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if copy is False:
            raise ValueError("ImageFiles decodes its files into a new array; it cannot avoid a copy")
        blocks = list(self.blocks())
        array = np.concatenate(blocks) if blocks else np.zeros(self.shape, dtype=np.float32)
        return array if dtype is None else array.astype(dtype, copy=False)

    # -- decoding

    def paths(self) -> list[str]:
        """Absolute paths, in row order."""
        return [os.path.join(self.root, *f.split("/")) for f in self.files]

    def decode(self, row: int) -> np.ndarray:
        """One image, (H, W, C) float32 in [0, 1]: through the same tf.data pipeline as
        training and prediction, so the pixels are bit for bit the ones they see."""
        return next(iter(self._subset([row]).tf_dataset(1)))[0].numpy()

    def blocks(self, n: int = 256) -> Iterator[np.ndarray]:
        """Decoded images in order, n at a time."""
        if n < 1:
            raise ValueError(f"block size must be at least 1, got {n}")
        if not len(self):
            return
        for batch in self.tf_dataset(n):
            yield batch.numpy()

    def tf_dataset(self, batch_size: int, labels=None, shuffle_seed: int | None = None):
        """A tf.data.Dataset of (images[, labels]) batches, decoded in parallel.

        Without shuffle_seed the rows keep their order (prediction); with it they
        are shuffled afresh each epoch, deterministically for the seed.
        """
        decode = _decoder(self.size, self.channels, self.pillow, self.array)  # imports TensorFlow quietly first
        import tensorflow as tf

        paths = tf.constant(self.paths(), dtype=tf.string, shape=(len(self),))
        if labels is None:
            data = tf.data.Dataset.from_tensor_slices(paths)
        else:
            labels = np.asarray(labels)
            if len(labels) != len(self):
                raise ValueError(f"{len(labels)} labels for {len(self)} images")
            data = tf.data.Dataset.from_tensor_slices((paths, labels))
        shuffle = shuffle_seed is not None and len(self) > 0
        # Small enough to keep decoded: decode once, cache, then shuffle the cached
        # images each epoch. Larger: shuffle the paths, decode every epoch, so the
        # folder never sits in memory.
        cached = self.decoded_bytes() <= MEMORY_CACHE_BYTES
        if shuffle and not cached:
            data = data.shuffle(len(self), seed=int(shuffle_seed), reshuffle_each_iteration=True)
        if labels is None:
            data = data.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        else:
            data = data.map(lambda path, label: (decode(path), label), num_parallel_calls=tf.data.AUTOTUNE,
                            deterministic=True)
        if cached:
            data = data.cache()
            if shuffle:
                data = data.shuffle(len(self), seed=int(shuffle_seed), reshuffle_each_iteration=True)
        return data.batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)

    def decoded_bytes(self) -> int:
        """Memory the decoded float32 images would take."""
        return len(self) * self.size[0] * self.size[1] * self.channels * 4

    def fingerprint_payload(self) -> bytes:
        """What identifies these images: the files' contents and how they are decoded."""
        identity = [list(self.files), list(self.digests), list(self.size), self.channels]
        # TensorFlow's decoders add nothing, so the fingerprints of existing workspaces still match
        arrays = [["array", self.array.channels_first, self.array.low, self.array.span]] if self.array else []
        return json.dumps(identity + ["pillow"] * self.pillow + arrays).encode()


@dataclass(frozen=True)
class ImageEntry:
    """A file the scan kept."""

    path: str  # relative to the root, POSIX
    label: str | None  # class folder, or None (unlabelled test)
    digest: str
    size: tuple[int, int]  # (H, W) as stored
    grey: bool
    pillow: bool = False  # a format only Pillow decodes
    array: ArrayStats | None = None  # a .npy file: its shape and values


def check_file(absolute: str, target: tuple[int, int] | None) -> tuple[str, tuple[int, int], bool, bool] | str:
    """(digest, (H, W), grey, needs Pillow) for an image kaggle_cnn can decode, else why not."""
    from PIL import Image, UnidentifiedImageError

    try:
        with open(absolute, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return f"cannot read: {one_line(error.strerror or error, 80)}"
    if not data:
        return "empty file"
    digest = hashlib.sha256(data).hexdigest()[:DIGEST_CHARS]
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        return "not an image"
    except Exception as error:  # noqa: BLE001  (Pillow raises many kinds for bad headers)
        return f"cannot be decoded: {one_line(error, 80)}"
    with image:
        if image.format not in TF_FORMATS + PILLOW_FORMATS:
            return f"{image.format} images are not read ({', '.join(TF_FORMATS + PILLOW_FORMATS)} are)"
        width, height = image.size
        mode = image.mode
        if image.format == "BMP" and (mode not in _BMP_MODES
                                      or image.info.get("compression", 0) not in _BMP_COMPRESSIONS):
            return f"BMP kind TensorFlow decodes wrongly (mode {mode}); save it as PNG"
        try:
            if image.format == "JPEG":
                # Decode at a reduced scale (DCT scaling): every byte is still parsed.
                want = (target[1], target[0]) if target else (1, 1)
                image.draft("RGB", want)
            image.load()
        except Exception as error:  # noqa: BLE001
            return f"cannot be decoded: {one_line(error, 80)}"
        return digest, (height, width), _is_grey(image, mode), image.format in PILLOW_FORMATS


def _is_grey(image, mode: str) -> bool:
    """Grey modes, and palettes of greys only (how GIFs store grey pictures)."""
    if mode in _GREY_MODES or mode.startswith("I;16"):
        return True
    if mode == "P":
        palette = image.getpalette() or []
        return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette) - 2, 3))
    return False
