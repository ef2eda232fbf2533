"""Loading a competition: which loader reads a path, and the options it was
loaded with (recorded in run.json, so a run's data can be loaded again).

The loaders are imported when a path is loaded, not at module level, so that
importing kaggle_cnn.data stays cheap (pandas is only needed once data is read).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from kaggle_cnn.config import ImageShape, check_image_size
from kaggle_cnn.data.dataset import Dataset
from kaggle_cnn.errors import InputError


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
    batches, or any other folder: class folders of image files)."""
    from kaggle_cnn.data.demo import demo_path
    from kaggle_cnn.data.loaders.cifar import is_cifar_folder, load_cifar_folder
    from kaggle_cnn.data.loaders.folders import is_image_folder, load_image_folder
    from kaggle_cnn.data.loaders.kaggle_csv import load_kaggle_folder
    from kaggle_cnn.data.loaders.npz import load_npz

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


def reload_dataset(load_options: dict, fingerprint: str, *, owner: str,
                   data_path: str | os.PathLike | None = None) -> Dataset:
    """The data `owner` (a run) was trained on, loaded again with its recorded
    load options from where it was (or `data_path`); refused unless its
    fingerprint is the recorded one."""
    options = dict(load_options or {})
    recorded_path = options.pop("path", None)
    path = data_path if data_path is not None else recorded_path
    if options.get("image_shape"):
        options["image_shape"] = tuple(options["image_shape"])
    dataset = load_dataset(path, **options)
    if dataset.fingerprint() != fingerprint:
        raise InputError(
            f"{path or 'the demo'}: not the data {owner} was trained on "
            f"(fingerprint {dataset.fingerprint()} != {fingerprint}); pass --data with the original"
        )
    return dataset
