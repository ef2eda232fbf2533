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
    labels: str | os.PathLike | None = None,
    train_images: str | os.PathLike | None = None,
    test_images: str | os.PathLike | None = None,
    image_fields: str | list[str] | None = None,
    multi_label: bool = False,
    tabular_columns: str | None = None,
    regression: bool = False,
    ordinal: bool = False,
    metric: str | None = None,
) -> Dataset:
    """Load a competition: None -> the packaged demo, a folder -> a labels CSV naming
    image files, Kaggle CSVs of pixels, CIFAR python batches, or class folders of
    image files; *.npz -> npz.

    image_size (H, W) resizes image files (needed when their sizes differ); a list,
    as run.json gives it back, is accepted too. labels, train_images and test_images
    say where a labels CSV and its image folders are when the names are not the
    usual ones (paths inside the competition folder, or anywhere). image_fields
    ("band_1,band_2") names the array fields of train.json's records that are images.
    multi_label: a labels CSV's label column holds space-separated tags, any number per image.
    tabular_columns ("a,b,c" or "auto"): a labels CSV's table columns joined to each image
    (kaggle_cnn.data.loaders.tabular).
    regression / ordinal: a labels CSV's label column is a number (a score; a whole grade) per image.
    metric: what the runs will be judged by; rmse and mae imply `regression` (unless `ordinal`).
    """
    from kaggle_cnn.data.loaders.numeric_targets import numeric_task

    regression = regression or (metric in ("rmse", "mae") and not ordinal)
    numeric = numeric_task(regression, ordinal, multi_label, "demo" if path is None else os.fspath(path))
    if image_size is not None:
        image_size = check_image_size(image_size)
    files = {"labels": labels, "train_images": train_images, "test_images": test_images}
    files = {name: os.fspath(value) for name, value in files.items() if value is not None}
    dataset = _load(path, label_column, id_column, image_shape, image_size, files, image_fields, multi_label,
                    tabular_columns, numeric)
    options = {
        "path": None if path is None else str(Path(path).resolve()),
        "label_column": label_column, "id_column": id_column,
        "image_shape": list(image_shape) if image_shape else None,
    }
    # Only when given, so other kinds' recorded options stay as they were.
    if image_size is not None:
        options["image_size"] = list(image_size)
    if image_fields is not None:
        from kaggle_cnn.data.loaders.json_records import parse_image_fields

        options["image_fields"] = parse_image_fields(image_fields)
    if multi_label:
        options["multi_label"] = True
    if tabular_columns is not None:
        options["tabular_columns"] = tabular_columns
    if numeric:
        options[numeric] = True  # regression or ordinal
    for name, value in files.items():  # recorded where they were found, to load again from anywhere
        options[name] = str(_beside(path, value).resolve())
    return replace(dataset, load_options=options)


def _beside(path, value: str) -> Path:
    """A --labels/--train-images/--test-images path: inside the competition folder first, then as given."""
    inside = Path(path) / value if path is not None else None
    return inside if inside is not None and inside.exists() else Path(value)


def load_classes(path: str | os.PathLike, *, label_column: str | None = None, multi_label: bool = False) -> list:
    """The classes of the competition at `path`, as its Dataset would hold them, read
    without opening an image or parsing a pixel: from a labels CSV, the class folders'
    names, or train.csv's label column (.npz files and CIFAR batches are read whole)."""
    from kaggle_cnn.data.loaders.folders import folder_classes
    from kaggle_cnn.data.loaders.json_records import json_classes
    from kaggle_cnn.data.loaders.kaggle_csv import kaggle_classes
    from kaggle_cnn.data.loaders.labelled_images import labelled_classes

    kind, target, _, layout = _identify(path, {})
    if kind == "labelled_images":
        return labelled_classes(layout, label_column=label_column, multi_label=multi_label)
    if kind == "image_folder":
        return folder_classes(target)
    if kind == "json_records":
        return json_classes(target, label_column=label_column)
    if kind == "kaggle_csv":
        return kaggle_classes(target, label_column=label_column)
    return _load(path, label_column, None, None).classes


def load_task(path: str | os.PathLike, *, label_column: str | None = None) -> str:
    """labels.MULTI_LABEL when the competition at `path` is multi-label as its labels
    CSV shows it (one-hot rows of several 1s, or tags), else labels.SINGLE_LABEL;
    read without opening an image."""
    from kaggle_cnn.data.loaders.labelled_images import labelled_task
    from kaggle_cnn.labels import SINGLE_LABEL

    kind, _, _, layout = _identify(path, {})
    return labelled_task(layout, label_column=label_column) if kind == "labelled_images" else SINGLE_LABEL


def _identify(path, files: dict):
    """(kind, path, the path as given, a labels CSV's Layout or None): what the path
    holds (None: the packaged demo), found from file and folder names alone."""
    from kaggle_cnn.data.demo import demo_path
    from kaggle_cnn.data.loaders.cifar import is_cifar_folder
    from kaggle_cnn.data.loaders.folders import is_image_folder
    from kaggle_cnn.data.loaders.json_records import is_json_records
    from kaggle_cnn.data.loaders.labelled_images import find_layout

    source = "demo" if path is None else os.fspath(path)
    target = demo_path() if path is None else Path(source)
    if not target.exists():
        raise InputError(f"{source}: no such file or folder")
    if target.is_dir() and is_cifar_folder(target):
        return "cifar_batches", target, source, None
    if target.is_dir():
        layout = find_layout(target, source, **files)
        if layout:
            return "labelled_images", target, source, layout
        if is_json_records(target):
            return "json_records", target, source, None
        return ("image_folder" if is_image_folder(target) else "kaggle_csv"), target, source, None
    return ("npz" if target.name.lower().endswith(".npz") else "other"), target, source, None


def _load(path, label_column, id_column, image_shape, image_size=None, files=None, image_fields=None,
          multi_label=False, tabular_columns=None, numeric=None) -> Dataset:
    """Dispatch on the kind of path (None: the packaged demo, a labels CSV beside image
    folders, CIFAR batches, a Kaggle CSV folder, or any other folder: class folders
    of image files)."""
    from kaggle_cnn.data.loaders.cifar import load_cifar_folder
    from kaggle_cnn.data.loaders.folders import load_image_folder
    from kaggle_cnn.data.loaders.json_records import load_json_records
    from kaggle_cnn.data.loaders.kaggle_csv import load_kaggle_folder
    from kaggle_cnn.data.loaders.labelled_images import load_labelled_images
    from kaggle_cnn.data.loaders.npz import load_npz

    kind, target, source, layout = _identify(path, files or {})
    if numeric and kind != "labelled_images":
        raise InputError(f"{source}: --{numeric} applies to a labels CSV naming image files (a number per image)")
    if files and kind != "labelled_images":
        raise InputError(f"{source}: --labels, --train-images and --test-images apply to a competition folder "
                         "with a labels CSV naming image files")
    if tabular_columns is not None and kind != "labelled_images":
        raise InputError(f"{source}: --tabular-columns applies to a labels CSV naming image files (its other "
                         "columns, and test.csv's, beside each image)")
    if image_fields is not None and kind != "json_records":
        raise InputError(f"{source}: --image-fields applies to a folder with train.json (records whose array "
                         "fields are images)")
    if kind == "json_records":
        if multi_label:
            raise InputError(f"{source}: --multi-label applies to a labels CSV naming image files (tags in one "
                             "column, or one-hot columns)")
        if image_shape is not None or image_size is not None:
            raise InputError(f"{source}: --image-shape and --image-size do not apply to train.json's records; "
                             "their arrays have their own shape")
        return load_json_records(target, source=source, image_fields=image_fields, label_column=label_column,
                                 id_column=id_column)
    if kind == "labelled_images":
        if image_shape is not None:
            raise InputError(f"{source}: --image-shape applies to CSV pixels and .npz; image files have their "
                             "own shape (use --image-size to resize)")
        return load_labelled_images(layout, label_column=label_column, id_column=id_column, image_size=image_size,
                                    multi_label=multi_label, tabular_columns=tabular_columns, numeric=numeric)
    if multi_label:
        raise InputError(f"{source}: --multi-label applies to a labels CSV naming image files (tags in one column, "
                         "or one-hot columns)")
    if image_size is not None and kind != "image_folder":
        raise InputError(f"{source}: --image-size applies to image files (class folders, or a labels CSV "
                         "naming image files)")
    if kind == "image_folder":
        if label_column is not None or id_column is not None or image_shape is not None:
            raise InputError(f"{source}: --label-column, --id-column and --image-shape apply to CSV folders "
                             "and .npz; an image folder takes its labels from the class folders "
                             "(use --image-size to resize)")
        return load_image_folder(target, image_size=image_size, source=source)
    if kind == "cifar_batches":
        if label_column is not None or id_column is not None or image_shape is not None:
            raise InputError(f"{source}: CIFAR batches have fixed labels and 32x32x3 images; drop the column options")
        return load_cifar_folder(target, source=source)
    if kind == "kaggle_csv":
        return load_kaggle_folder(target, label_column=label_column, id_column=id_column, image_shape=image_shape,
                                  source=source)
    if kind == "npz":
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
