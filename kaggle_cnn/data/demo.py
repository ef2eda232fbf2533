"""The packaged demo competition: a small slice of real MNIST laid out like Kaggle's
Digit Recognizer, so every command can be tried without downloading anything.

The answers live outside the competition folder, as on Kaggle, so loading the
competition never sees them; they exist only for local scoring.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

DEMO_DIR = Path(__file__).resolve().parent / "mnist_demo"
N_TRAIN = 6000
N_TEST = 2000

_README = """\
# Demo competition (MNIST slice)

A small competition laid out like Kaggle's Digit Recognizer, so kaggle_cnn can be
tried without downloading anything:

- `competition/train.csv.gz`: the first {n_train:,} images of MNIST's training set,
  columns `label,pixel0..pixel783` (28x28 grey, 0..255).
- `competition/test.csv.gz`: the first {n_test:,} images of MNIST's test set, columns
  `ImageId,pixel0..pixel783`, ImageId 1..{n_test}.
- `competition/sample_submission.csv`: `ImageId,Label`, Label 0 for every id.
- `answers.csv`: `ImageId,Label` with the true labels of the test images. It is kept
  outside `competition/` (the hidden answers) and used only for local scoring.

Made by `tools/make_demo.py` (which calls `kaggle_cnn.data.demo.build_demo`) from
`mnist.npz`; the gzip files are written with a zero timestamp, so rebuilding gives
the same bytes.

Credit: the MNIST database of handwritten digits by Yann LeCun, Corinna Cortes and
Christopher J. C. Burges, licensed under CC BY-SA 3.0. These files are a derived
slice under the same licence.
"""


def demo_path() -> Path:
    """The packaged competition folder (train.csv.gz, test.csv.gz, sample_submission.csv)."""
    return DEMO_DIR / "competition"


def demo_answers_path() -> Path:
    """The hidden answers CSV (ImageId,Label), kept outside the competition folder."""
    return DEMO_DIR / "answers.csv"


def build_demo(
    mnist_npz: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    n_train: int = N_TRAIN,
    n_test: int = N_TEST,
) -> dict[Path, int]:
    """Write the demo competition from an MNIST .npz; returns each file written and its size."""
    with np.load(mnist_npz, allow_pickle=False) as mnist:
        x_train = mnist["x_train"][:n_train].reshape(n_train, -1).astype(np.uint8)
        y_train = mnist["y_train"][:n_train].astype(np.int64)
        x_test = mnist["x_test"][:n_test].reshape(n_test, -1).astype(np.uint8)
        y_test = mnist["y_test"][:n_test].astype(np.int64)
    out = Path(out_dir)
    competition = out / "competition"
    competition.mkdir(parents=True, exist_ok=True)
    pixels = [f"pixel{i}" for i in range(x_train.shape[1])]
    image_ids = range(1, n_test + 1)

    files = {
        competition / "train.csv.gz": _csv(["label", *pixels], _rows(y_train, x_train)),
        competition / "test.csv.gz": _csv(["ImageId", *pixels], _rows(image_ids, x_test)),
        competition / "sample_submission.csv": _csv(
            ["ImageId", "Label"], ([i, 0] for i in image_ids)
        ),
        out / "answers.csv": _csv(
            ["ImageId", "Label"], ([i, int(y)] for i, y in zip(image_ids, y_test))
        ),
        out / "README.md": _README.format(n_train=n_train, n_test=n_test),
    }
    sizes: dict[Path, int] = {}
    for path, text in files.items():
        data = text.encode("utf-8")
        path.write_bytes(_gzip(data, path.name[: -len(".gz")]) if path.suffix == ".gz" else data)
        sizes[path] = path.stat().st_size
    return sizes


def _rows(first: Iterable[int], pixels: np.ndarray) -> Iterable[list[int]]:
    for head, row in zip(first, pixels):
        yield [int(head), *row.tolist()]


def _csv(header: list[str], rows: Iterable[list[int]]) -> str:
    lines = [",".join(header)]
    lines.extend(",".join(map(str, row)) for row in rows)
    return "\n".join(lines) + "\n"


def _gzip(data: bytes, inner_name: str) -> bytes:
    """Deterministic gzip: mtime=0 and a fixed inner name, so rebuilds are byte-identical."""
    buffer = io.BytesIO()
    with gzip.GzipFile(
        filename=inner_name, mode="wb", fileobj=buffer, compresslevel=9, mtime=0
    ) as packed:
        packed.write(data)
    return buffer.getvalue()
