"""The real sets the benchmarks cut their images from, and the options that choose them.

mnist: mnist.npz (60,000 training, 10,000 test); cifar: the CIFAR-10 subset,
cifar10_subset.npz (4,000 training, 1,000 test); both from the real datasets'
folder ($KCNN_DATA_DIR, see real_data.DATA_DIR).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from real_data import DATA_DIR, need  # the real datasets: $KCNN_DATA_DIR

from kaggle_cnn import api

FILES = {"mnist": "mnist.npz", "cifar": "cifar10_subset.npz"}
_NO_OPTION = object()  # set_options: leave that option out


def write_set(name: str, rows: int, folder: Path, *, test_rows: int | None = None,
              data_dir: Path = DATA_DIR) -> tuple[Path, Path]:
    """The first `rows` training images of set `name` (and its first `test_rows` test images, all by
    default) as an .npz kcnn reads, in folder; and their test answers as a CSV kcnn score reads."""
    with np.load(need(data_dir / FILES[name])) as source:
        x_test, y_test = source["x_test"][:test_rows], source["y_test"].ravel()[:test_rows]
        path = folder / f"{name}.npz"
        np.savez(path, x_train=source["x_train"][:rows], y_train=source["y_train"].ravel()[:rows], x_test=x_test)
    dataset = api.load_data(path)
    answers = folder / f"{name}-answers.csv"
    pd.DataFrame({dataset.submission_header[0]: dataset.test_ids,
                  dataset.submission_header[1]: [str(label) for label in y_test]}).to_csv(answers, index=False)
    return path, answers


def set_options(parser: argparse.ArgumentParser, *, rows: int, sets: str = "mnist,cifar",
                test_rows: int | None | object = _NO_OPTION, seed: int | object = _NO_OPTION,
                data_dir: bool = False) -> None:
    """--sets and --rows; --test-rows, --seed and --data-dir too where given a default (data_dir=True)."""
    parser.add_argument("--sets", default=sets, help=f"Comma-separated, of {', '.join(FILES)} [default: {sets}].")
    parser.add_argument("--rows", type=int, default=rows, help="Training images of each set, at most.")
    if test_rows is not _NO_OPTION:
        parser.add_argument("--test-rows", type=int, default=test_rows,
                            help=f"Test images, at most [default: {'all' if test_rows is None else test_rows}].")
    if seed is not _NO_OPTION:
        parser.add_argument("--seed", type=int, default=seed)
    if data_dir:
        parser.add_argument("--data-dir", type=Path, default=DATA_DIR,
                            help="Folder with mnist.npz, cifar10_subset.npz.")


def set_names(parser: argparse.ArgumentParser, sets: str) -> list[str]:
    """The names in --sets; an unknown one stops the script with argparse's usage message."""
    names = sets.split(",")
    for name in names:
        if name not in FILES:
            parser.error(f"--sets: {name} is not one of {', '.join(FILES)}")
    return names


def each_set(args: argparse.Namespace, folder: Path, *, test_rows: int | None = None
             ) -> Iterator[tuple[str, Path, Path]]:
    """(name, .npz, answers CSV) for each set in --sets, cut to --rows and test_rows (--test-rows and
    --data-dir where the script has them) in folder."""
    for name in args.sets.split(","):
        yield name, *write_set(name, args.rows, folder, test_rows=getattr(args, "test_rows", test_rows),
                               data_dir=getattr(args, "data_dir", DATA_DIR))


def table_header(*columns: str) -> None:
    """A markdown table's first two lines; its rows follow as they are measured."""
    print(f"| {' | '.join(columns)} |\n|{' --- |' * len(columns)}", flush=True)
