"""Numeric targets: miniatures of PetFinder Pawpularity (train.csv `Id,Pawpularity`
beside metadata columns, a score per image, graded by RMSE) and APTOS 2019
(train.csv `id_code,diagnosis`, grades 0-4, graded by quadratic weighted kappa),
built from real MNIST digits written as image files and taken through `kcnn data`,
`train`, `vote`, `check` and `score`; the graders on hand-made examples; bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

TRAIN, TEST = 240, 40


def _digits(mnist, n: int):
    with np.load(mnist) as arrays:
        return arrays["x_train"][:n], arrays["y_train"][:n].astype(int)


@pytest.fixture(scope="module")
def petfinder(tmp_path_factory, mnist) -> Path:
    """train/<Id>.jpg and test/, train.csv Id,<metadata>,Pawpularity with a score
    of digit*10 + noise (1-100), a sample of 50s in its own order, the hidden answers beside."""
    root = tmp_path_factory.mktemp("petfinder") / "petfinder-pawpularity-score"
    pixels, digits = _digits(mnist, TRAIN + TEST)
    rng = np.random.default_rng(0)
    scores = np.clip(digits * 10 + rng.integers(1, 10, len(digits)), 1, 100)
    ids = [f"{(i * 2654435761) % 16**12:012x}" for i in range(TRAIN + TEST)]
    for i, name in enumerate(ids):
        folder = root / ("train" if i < TRAIN else "test")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[i]).save(folder / f"{name}.jpg", "JPEG", quality=95)
    pd.DataFrame({"Id": ids[:TRAIN], "Eyes": rng.integers(0, 2, TRAIN), "Blur": rng.integers(0, 2, TRAIN),
                  "Pawpularity": scores[:TRAIN]}).to_csv(root / "train.csv", index=False)
    order = ids[TRAIN:][::-1]
    pd.DataFrame({"Id": order, "Pawpularity": 50}).to_csv(root / "sample_submission.csv", index=False)
    pd.DataFrame({"Id": ids[TRAIN:], "Pawpularity": scores[TRAIN:]}).to_csv(root.parent / "answers.csv", index=False)
    return root


@pytest.fixture(scope="module")
def aptos(tmp_path_factory, mnist) -> Path:
    """train_images/<id_code>.png and test_images/, train.csv id_code,diagnosis with
    grade digit // 2 (0-4), a sample of 0s in its own order, the hidden answers beside."""
    root = tmp_path_factory.mktemp("aptos") / "aptos2019-blindness-detection"
    pixels, digits = _digits(mnist, TRAIN + TEST)
    grades = digits // 2
    ids = [f"{(i * 40503) % 16**12:012x}" for i in range(TRAIN + TEST)]
    for i, name in enumerate(ids):
        folder = root / ("train_images" if i < TRAIN else "test_images")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[i]).save(folder / f"{name}.png")
    pd.DataFrame({"id_code": ids[:TRAIN], "diagnosis": grades[:TRAIN]}).to_csv(root / "train.csv", index=False)
    order = ids[TRAIN:][::-1]
    pd.DataFrame({"id_code": order, "diagnosis": 0}).to_csv(root / "sample_submission.csv", index=False)
    pd.DataFrame({"id_code": ids[TRAIN:], "diagnosis": grades[TRAIN:]}).to_csv(root.parent / "answers.csv",
                                                                              index=False)
    return root
