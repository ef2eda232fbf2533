"""Finding image files: a folder's visible files, an id matched to its file with or
without the extension (`abc` or `abc.jpg`, as Kaggle labels CSVs spell them), the
one-time check of many files in parallel threads, and the test images put in a
sample submission's order. A `.npy` array (kaggle_cnn.data.loaders.arrays) is one
more image format, found by the same rules."""

from __future__ import annotations

import collections
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from kaggle_cnn.data.loaders.arrays import (
    ARRAY_EXTENSIONS,
    array_layout,
    check_array,
    is_array_file,
    same_shapes,
)
from kaggle_cnn.data.loaders.images import ImageFiles, check_file
from kaggle_cnn.errors import InputError

# What an image file may end with (case-insensitive).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif")
# What an id may name: an image file or an image stored as an array.
FILE_EXTENSIONS = IMAGE_EXTENSIONS + ARRAY_EXTENSIONS


def visible(name: str) -> bool:
    return not name.startswith(".")


def files_under(folder: Path) -> list[str]:
    """Visible files below `folder`, at any depth, as sorted POSIX paths relative to it."""
    found = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if visible(d)]
        base = Path(here).relative_to(folder)
        found.extend((base / f).as_posix() for f in files if visible(f))
    return sorted(found)


def check_all(folder: Path, relatives: list[str], target, workers: int | None = None) -> list:
    """check_file (check_array for a .npy) on every path (relative to `folder`), in
    threads: hashing and Pillow's decoders release the GIL."""
    absolute = [os.path.join(folder, *r.split("/")) for r in relatives]
    workers = workers or min(8, (os.cpu_count() or 1) * 2)
    if workers <= 1 or len(absolute) < 16:
        return [_check(a, target) for a in absolute]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_check, absolute, [target] * len(absolute), chunksize=16))


def _check(absolute: str, target):
    return check_array(absolute, target) if is_array_file(absolute) else check_file(absolute, target)


class ImageIndex:
    """The image files of one folder (at any depth), found by id: the path relative
    to the folder, the file name, or either without its extension."""

    def __init__(self, folder: Path, where: str, parts: tuple[str, ...] = ()) -> None:
        """`parts`: only these sub-folders of `folder` (Planet's test-jpg and test-jpg-additional)."""
        self.where = where  # the folder as messages name it
        found = [f"{part}/{f}" for part in parts for f in files_under(folder / part)] if parts else files_under(folder)
        self.files = [f for f in found if f.lower().endswith(FILE_EXTENSIONS)]
        self._by_key: dict[str, list[str]] = collections.defaultdict(list)
        for path in self.files:
            posix = PurePosixPath(path)
            keys = {path, posix.name, str(posix.with_suffix("")), posix.stem}
            for key in keys:
                self._by_key[key].append(path)

    def find(self, image_id: str) -> str | None:
        """The one file an id names, None when there is none; two files for one id
        (a.jpg and a.png) are refused, naming both."""
        hits = self._by_key.get(image_id, [])
        if len(hits) > 1 and image_id in hits:
            return image_id  # the exact path wins over another file's stem
        if len(hits) > 1:
            raise InputError(f"{self.where}: two files for id {image_id!r} ({hits[0]}, {hits[1]}); keep one")
        return hits[0] if hits else None

    def names_files(self, values) -> bool:
        """Whether every value names a file here (with or without its extension)."""
        return all(str(value) in self._by_key for value in values)

    def spelled_with_extension(self, image_id: str) -> bool:
        return PurePosixPath(image_id).suffix.lower() in FILE_EXTENSIONS


def match_ids(index: ImageIndex, ids: list[str], describe_row) -> list[str]:
    """The file of each id, in order; an id without one is refused, naming the
    first such row (describe_row(row) says where it is) and how many there are."""
    found = [index.find(image_id) for image_id in ids]
    missing = [row for row, path in enumerate(found) if path is None]
    if missing:
        first = missing[0]
        more = f" ({len(missing)} ids lack one)" if len(missing) > 1 else ""
        raise InputError(f"{describe_row(first)}: id {ids[first]!r} matches no image in {index.where}"
                         f" (looked for {ids[first]} with and without {', '.join(IMAGE_EXTENSIONS[:3])}, ...){more}")
    duplicated = [path for path, times in collections.Counter(found).items() if times > 1]
    if duplicated:
        rows = [row for row, path in enumerate(found) if path == duplicated[0]]
        raise InputError(f"{describe_row(rows[1])}: id {ids[rows[1]]!r} names the same image, "
                         f"{duplicated[0]}, as {describe_row(rows[0])}")
    return found  # type: ignore[return-value]


def image_files(root: Path, parts: list[list], image_size: tuple[int, int] | None, source: str) -> list:
    """One ImageFiles per list of checked files (ImageEntry), all decoded alike: at
    `image_size` or the size every file shares, grey only when every file is grey,
    through Pillow when any file needs it."""
    everything = [entry for part in parts for entry in part]
    if any(entry.array for entry in everything):
        return _array_files(root, parts, image_size, source)
    size = image_size or _common_size(source, everything)
    channels = 1 if all(entry.grey for entry in everything) else 3
    pillow = any(entry.pillow for entry in everything)
    return [ImageFiles(root=str(root), files=tuple(e.path for e in part), digests=tuple(e.digest for e in part),
                       size=size, channels=channels, source_sizes=tuple(e.size for e in part), pillow=pillow)
            for part in parts]


def _array_files(root: Path, parts: list[list], image_size: tuple[int, int] | None, source: str) -> list:
    """ImageFiles of .npy arrays: one shape (or one channel count, resized), one scale
    decided from the training arrays (the first part)."""
    everything = [entry for part in parts for entry in part]
    images = [entry.path for entry in everything if not entry.array]
    if images:
        raise InputError(f"{source}: {images[0]} is an image file among .npy arrays; use one kind")
    same_shapes([(entry.path, entry.array.shape) for entry in everything], source, resized=image_size is not None)
    layout = array_layout([entry.array for entry in parts[0]])
    first = everything[0]
    channels = 1 if first.grey else (first.array.shape[0] if layout.channels_first else first.array.shape[-1])
    return [ImageFiles(root=str(root), files=tuple(e.path for e in part), digests=tuple(e.digest for e in part),
                       size=image_size or first.size, channels=channels, source_sizes=tuple(e.size for e in part),
                       array=layout)
            for part in parts]


def _common_size(source: str, images) -> tuple[int, int]:
    """The (H, W) every image (ImageEntry) has; differing sizes need --image-size."""
    first = images[0]
    for image in images:
        if image.size != first.size:
            raise InputError(
                f"{source}: images differ in size (HxW: {first.path} is {first.size[0]}x{first.size[1]}, "
                f"{image.path} is {image.size[0]}x{image.size[1]}); pass --image-size N or HxW"
            )
    return first.size
