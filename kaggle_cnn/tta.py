"""Test-time augmentation: predict on transformed copies and average.

Transforms are deterministic (both directions of each shift and rotation), so a
run's TTA probabilities are reproducible. Edges are filled with the nearest
pixel: black for digits, the border colour for photos.

    hflip, vflip      mirrored copies
    shift=N           4 copies moved N pixels left, right, up, down
    rotate=D          2 copies rotated by +D and -D degrees
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from kaggle_cnn.errors import InputError


@dataclass(frozen=True)
class Transform:
    kind: str  # hflip | vflip | shift | rotate
    amount: float = 0.0

    def __str__(self) -> str:
        return self.kind if self.kind in ("hflip", "vflip") else f"{self.kind}={self.amount:g}"


def parse_tta(text: str) -> tuple[Transform, ...]:
    """'hflip,shift=2,rotate=10' -> transforms; a one-line InputError otherwise."""
    transforms = []
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        kind, _, value = part.partition("=")
        if kind in ("hflip", "vflip") and not value:
            transforms.append(Transform(kind))
        elif kind in ("shift", "rotate") and value:
            try:
                amount = float(value)
            except ValueError:
                raise InputError(f"--tta {part!r}: {kind} takes a number, e.g. {kind}=2") from None
            if amount <= 0 or (kind == "shift" and amount != int(amount)):
                raise InputError(f"--tta {part!r}: {kind} needs a positive {'whole number of pixels' if kind == 'shift' else 'angle'}")
            transforms.append(Transform(kind, amount))
        else:
            raise InputError(f"--tta {part!r}: use hflip, vflip, shift=N or rotate=DEGREES")
    if not transforms:
        raise InputError("--tta needs at least one transform, e.g. --tta hflip,shift=2")
    return tuple(transforms)


def views(x: np.ndarray, transforms: tuple[Transform, ...]) -> Iterator[np.ndarray]:
    """The images themselves, then every transformed copy; x is (n, H, W, C)."""
    yield x
    for transform in transforms:
        if transform.kind == "hflip":
            yield x[:, :, ::-1]
        elif transform.kind == "vflip":
            yield x[:, ::-1]
        elif transform.kind == "shift":
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
    from kaggle_cnn.training import class_probabilities

    if len(x) == 0:
        return np.zeros((0, max(2, int(model.output_shape[-1]))), dtype=np.float32)
    blocks = x.blocks() if hasattr(x, "blocks") else [x]
    return class_probabilities(np.concatenate([_mean_over_views(model, np.asarray(block), transforms, batch_size)
                                               for block in blocks]))


def _mean_over_views(model, x: np.ndarray, transforms: tuple[Transform, ...], batch_size: int) -> np.ndarray:
    total, count = None, 0
    for view in views(x, transforms):
        proba = model.predict(np.ascontiguousarray(view), batch_size=batch_size, verbose=0)
        total = proba.astype(np.float64) if total is None else total + proba
        count += 1
    return total / count
