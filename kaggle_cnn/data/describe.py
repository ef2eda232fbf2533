"""`kcnn data`: what a dataset holds: kind, image shape, classes and their counts,
and for image files (class folders, or a labels CSV naming them) the layout found,
the image sizes and the files skipped."""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from kaggle_cnn.data.dataset import Dataset
from kaggle_cnn.data.loaders.folders import HOLDOUT_FRACTION
from kaggle_cnn.data.loading import load_dataset
from kaggle_cnn.labels import label_counts


@dataclass(frozen=True)
class DataDescription:
    dataset: Dataset
    counts: list[int]  # training rows per class, in dataset.classes order
    folder: dict[str, Any] | None  # image folders: folder_summary()


def describe_data(path: str | os.PathLike | None = None, **load_options) -> DataDescription:
    """Load the dataset at `path` (default the demo) and describe it."""
    dataset = load_dataset(path, **load_options)
    counts = label_counts(dataset.y_train, dataset.n_classes)
    files = dataset.kind in ("image_folder", "labelled_images")
    return DataDescription(dataset, counts, folder_summary(dataset) if files else None)


def folder_summary(dataset) -> dict[str, Any]:
    """What `kcnn data` shows about an image-folder Dataset beyond the common lines."""
    x_train, x_test = dataset.x_train, dataset.x_test
    n_val = 0 if dataset.val_rows is None else len(dataset.val_rows)
    split = bool(x_train.files) and x_train.files[0].startswith("train/")
    layout = "labels" if dataset.layout_notes else "split" if split else "flat"
    sizes = collections.Counter(tuple(s) for s in (*x_train.source_sizes, *x_test.source_sizes))
    by_area = sorted(sizes, key=lambda s: (s[0] * s[1], s))
    y = np.asarray(dataset.y_train)
    val_mask = np.zeros(len(y), dtype=bool)
    if dataset.val_rows is not None:
        val_mask[dataset.val_rows] = True
    per_class = {
        "train": label_counts(y[~val_mask], dataset.n_classes),
        "val": label_counts(y[val_mask], dataset.n_classes),
    }
    if dataset.test_labels is not None:
        index = {c: i for i, c in enumerate(dataset.classes)}
        per_class["test"] = np.bincount([index[c] for c in dataset.test_labels],
                                        minlength=dataset.n_classes).astype(int).tolist()
    return {
        "layout": layout,
        "counts": {"train": len(y) - n_val, "val": n_val, "test": len(x_test)},
        "test_labelled": dataset.test_labels is not None,
        "per_class": per_class,
        "sizes": sizes,
        "smallest": by_area[0] if by_area else None,
        "largest": by_area[-1] if by_area else None,
        "most_common": sizes.most_common(1)[0] if sizes else None,
        "channels": x_train.channels,
        "arrays": getattr(x_train, "array", None) is not None,
        "size": x_train.size,
        "skipped": list(dataset.skipped),
        "holdout_fraction": HOLDOUT_FRACTION,
    }
