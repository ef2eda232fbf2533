"""Test-time augmentation (`kcnn tta`): predict kept runs' validation and test
images on transformed copies and average.

Transforms are deterministic (both directions of each shift and rotation), so a
run's TTA probabilities are reproducible. Edges are filled with the nearest
pixel: black for digits, the border colour for photos.

    hflip, vflip      mirrored copies
    shift_px=N        4 copies moved N pixels left, right, up, down
    rotate=D          2 copies rotated by +D and -D degrees
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn import fileio
from kaggle_cnn.config import integer, number, parse_text
from kaggle_cnn.data import Dataset
from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metric_registry import accuracy
from kaggle_cnn.store.run import Run
from kaggle_cnn.store.workspace import Workspace
from kaggle_cnn.training.runs import run_dataset


@dataclass(frozen=True)
class Transform:
    kind: str  # hflip | vflip | shift_px | rotate
    amount: float = 0.0

    def __str__(self) -> str:
        return self.kind if self.kind in ("hflip", "vflip") else f"{self.kind}={self.amount:g}"


def parse_tta(text: str) -> tuple[Transform, ...]:
    """'hflip,shift_px=2,rotate=10' -> transforms; a one-line InputError otherwise."""
    transforms = []
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        kind, _, value = part.partition("=")
        if kind in ("hflip", "vflip") and not value:
            transforms.append(Transform(kind))
        elif kind in ("shift_px", "rotate") and value:
            transforms.append(Transform(kind, _amount(part, kind, value)))
        elif kind == "shift":  # --augment's shift is a fraction of the image; this one is in pixels
            raise InputError(f"--transforms {part!r}: a shift in pixels is shift_px=N, e.g. shift_px=2")
        else:
            raise InputError(f"--transforms {part!r}: use hflip, vflip, shift_px=N or rotate=DEGREES")
    if not transforms:
        raise InputError("--transforms needs at least one transform, e.g. --transforms hflip,shift_px=2")
    return tuple(transforms)


# What each transform's amount takes (kaggle_cnn.config's checks: finite numbers only)
AMOUNTS = {"shift_px": integer(1), "rotate": number(0, low_open=True)}


def _amount(part: str, kind: str, value: str) -> float:
    amount = AMOUNTS[kind].convert(parse_text(value))
    if amount is None:
        raise InputError(f"--transforms {part!r}: {kind} must be {AMOUNTS[kind].describe()}, e.g. {kind}=2")
    return float(amount)


def check_fits(transforms: tuple[Transform, ...], image_shape: tuple[int, ...]) -> None:
    """Refuse a transform too large for the images: a shift by the whole height or
    width would leave nothing of an image but its edge pixels repeated."""
    height, width = int(image_shape[0]), int(image_shape[1])
    for transform in transforms:
        if transform.kind == "shift_px" and transform.amount >= min(height, width):
            raise InputError(f"--transforms '{transform}': the images are {height}x{width} (HxW); a shift must "
                             f"be smaller than both sides, at most shift_px={min(height, width) - 1}")


def views(x: np.ndarray, transforms: tuple[Transform, ...]) -> Iterator[np.ndarray]:
    """The images themselves, then every transformed copy; x is (n, H, W, C)."""
    yield x
    for transform in transforms:
        if transform.kind == "hflip":
            yield x[:, :, ::-1]
        elif transform.kind == "vflip":
            yield x[:, ::-1]
        elif transform.kind == "shift_px":
            n = int(transform.amount)
            for axis, step in ((2, n), (2, -n), (1, n), (1, -n)):
                yield _shift(x, axis, step)
        else:
            from scipy.ndimage import rotate

            for angle in (transform.amount, -transform.amount):
                yield rotate(x, angle, axes=(1, 2), reshape=False, order=1, mode="nearest")


def _shift(x: np.ndarray, axis: int, step: int) -> np.ndarray:
    """Move images `step` pixels along `axis`, repeating the edge into the gap."""
    size = x.shape[axis]
    index = np.clip(np.arange(size) - step, 0, size - 1)
    return np.take(x, index, axis=axis)


def predict_tta(model, x, transforms: tuple[Transform, ...], batch_size: int = 256) -> np.ndarray:
    """Mean predicted probabilities over the original and its transformed copies.

    `x` is an array, or an ImageFiles (image folders), which is decoded a block at
    a time so a large test folder never sits in memory whole."""
    from kaggle_cnn.training.fit import class_probabilities

    if len(x) == 0:
        return np.zeros((0, max(2, int(model.output_shape[-1]))), dtype=np.float32)
    blocks = x.blocks() if hasattr(x, "blocks") else [x]
    # images with table rows (data.loaders.with_table): the rows go beside every view of their images
    tables = x.table_blocks() if hasattr(x, "table_blocks") else itertools.repeat(None)
    return class_probabilities(np.concatenate([_mean_over_views(model, np.asarray(block), transforms, batch_size,
                                                                table) for block, table in zip(blocks, tables)]))


def _mean_over_views(model, x: np.ndarray, transforms: tuple[Transform, ...], batch_size: int,
                     table: np.ndarray | None = None) -> np.ndarray:
    total, count = None, 0
    for view in views(x, transforms):
        inputs = np.ascontiguousarray(view) if table is None else (np.ascontiguousarray(view), table)
        proba = model.predict(inputs, batch_size=batch_size, verbose=0)
        total = proba.astype(np.float64) if total is None else total + proba
        count += 1
    return total / count


def tta(workspace: Workspace, run_ids: list[str] | None = None, *, transforms: str,
        data_path: str | Path | None = None) -> list[dict[str, Any]]:
    """Recompute kept runs' validation and test probabilities averaged over
    augmented copies; store them beside the plain ones (*_proba_tta.npy) and
    record in run.json what TTA did to validation accuracy.

    Each run's data is loaded again from where it was trained (or `data_path`),
    and must have the same fingerprint."""
    spec_text, transforms = transforms, parse_tta(transforms)
    runs = [workspace.load_run(r) for r in run_ids] if run_ids else workspace.runs()
    if not runs:
        raise InputError(f"no kept runs in {workspace.models_dir}: run `kcnn train` first")
    kfold = next((run for run in runs if run.kfold), None)
    if kfold is not None:  # K fold models and out-of-fold rows: not what TTA's one model and split predict
        raise InputError(f"run {kfold.run_id} is a k-fold run; kcnn tta works on hold-out runs (name them)")
    numeric = next((run for run in runs if run.numeric), None)
    if numeric is not None:  # its predictions are numbers in the target's units, not class probabilities
        raise InputError(f"run {numeric.run_id} predicts a number per image (regression, ordinal); kcnn tta "
                         "averages class probabilities")
    datasets: dict[str, Any] = {}
    for run in runs:  # load every dataset before the first slow prediction
        if run.fingerprint not in datasets:
            datasets[run.fingerprint] = run_dataset(run, data_path)
            check_fits(transforms, datasets[run.fingerprint].image_shape)
    with workspace.lock():
        return [_predict_run(workspace, run, datasets[run.fingerprint], transforms, spec_text) for run in runs]


def _predict_run(workspace: Workspace, run: Run, dataset: Dataset, transforms, spec_text: str) -> dict[str, Any]:
    from kaggle_cnn.architectures import load_model

    split = workspace.find_split(run.fingerprint)
    model = load_model(run.path / "model.keras")
    batch_size = int(run.record["config"].get("batch_size") or 128)
    val_proba = predict_tta(model, dataset.x_train[split.val_indices], transforms, batch_size)
    test_proba = predict_tta(model, dataset.x_test, transforms, batch_size)
    plain = accuracy(split.val_labels, run.val_proba())
    augmented = accuracy(split.val_labels, val_proba)
    for name, array in (("val_proba_tta.npy", val_proba), ("test_proba_tta.npy", test_proba)):
        with fileio.atomic_path(run.path / name) as tmp:
            np.save(tmp, array)
    record = {**run.record, "tta": {"transforms": spec_text, "val_accuracy": augmented, "val_accuracy_plain": plain}}
    fileio.write_json(run.path / "run.json", record)
    return {"run_id": run.run_id, "transforms": spec_text, "val_accuracy_plain": plain, "val_accuracy_tta": augmented}
