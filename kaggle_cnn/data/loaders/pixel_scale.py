"""Bringing one file's (or array's) pixels to [0, 1].

The scale is decided per file from its own values, never over train and test
together: a train.csv of 0..1 floats beside a test.csv of 0..255 integers is
common, and dividing both by 255 would make the training images nearly black.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kaggle_cnn.errors import InputError


def scale_to_unit(x: np.ndarray, describe: Callable[[tuple[int, ...], str], str]) -> None:
    """Scale `x` (float32, already checked to lie in 0..255) in place.

    Whole numbers with any value above 1 are 0..255 and divided by 255; values
    all within [0, 1] are kept as they are. Anything else fits neither scale and
    is refused with describe(index of the first odd value, what is odd about it),
    which puts the place (file, line, column) in front.
    """
    if x.size == 0 or float(x.max()) <= 1.0:
        return
    if _all_whole(x):
        x /= 255.0
        return
    index = _first_odd(x)
    raise InputError(describe(index, f"value {x[index]:g} fits neither pixel scale (whole numbers "
                                     "0..255, or every value within 0..1)"))


def _all_whole(x: np.ndarray, rows_per_chunk: int = 4096) -> bool:
    """Every value a whole number; in chunks, so a large file needs no second full copy."""
    for start in range(0, len(x), rows_per_chunk):
        chunk = x[start:start + rows_per_chunk]
        if not np.array_equal(chunk, np.floor(chunk)):
            return False
    return True


def _first_odd(x: np.ndarray) -> tuple[int, ...]:
    """Where the value to fix is: a fraction above 1 fits no scale; otherwise the
    rarer of the two kinds (values above 1 among fractions, or fractions among
    whole numbers) is the stray one."""
    above = x > 1.0
    fractional = x != np.floor(x)
    both = above & fractional
    if both.any():
        odd = both
    elif above.sum() <= fractional.sum():
        odd = above
    else:
        odd = fractional
    return tuple(int(i) for i in np.argwhere(odd)[0])
