"""Tests for kaggle_cnn.data: loaders, validation messages, fingerprint, split, demo.

Fixtures are small slices of the packaged demo (real MNIST), written into
tmp_path as CSV or .npz, then broken one way at a time for the error tests.
"""

from __future__ import annotations

import gzip
import io
import math
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_cnn.config import parse_image_shape
from kaggle_cnn.data import (
    Dataset,
    demo_answers_path,
    demo_path,
    load_dataset,
    make_split,
)
from kaggle_cnn.data.demo import build_demo
from kaggle_cnn.errors import InputError

PIXELS = [f"pixel{i}" for i in range(784)]
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def demo() -> Dataset:
    return load_dataset()


@pytest.fixture(scope="module")
def train_df() -> pd.DataFrame:
    """First 50 rows of the demo train.csv: label, pixel0..pixel783 (real MNIST)."""
    return pd.read_csv(demo_path() / "train.csv.gz", nrows=50).copy()  # copy: one block


@pytest.fixture(scope="module")
def test_df() -> pd.DataFrame:
    """First 20 rows of the demo test.csv: ImageId, pixel0..pixel783."""
    return pd.read_csv(demo_path() / "test.csv.gz", nrows=20).copy()


@pytest.fixture(scope="module")
def train_csv(train_df: pd.DataFrame) -> str:
    """train_df as CSV text, made once: most tests only need the file."""
    return csv_text(train_df)


@pytest.fixture(scope="module")
def test_csv(test_df: pd.DataFrame) -> str:
    return csv_text(test_df)


def csv_text(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n")


def write(path: Path, content: str | bytes | pd.DataFrame) -> Path:
    """Write text, bytes or a frame; a .gz name gets gzip-compressed."""
    if isinstance(content, pd.DataFrame):
        content = csv_text(content)
    data = content.encode() if isinstance(content, str) else content
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def competition(
    folder: Path,
    train: str | bytes | pd.DataFrame | None,
    test: str | bytes | pd.DataFrame | None,
    sample: str | pd.DataFrame | None = None,
    suffix: str = "",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if train is not None:
        write(folder / f"train.csv{suffix}", train)
    if test is not None:
        write(folder / f"test.csv{suffix}", test)
    if sample is not None:
        write(folder / "sample_submission.csv", sample)
    return folder


def replace_line(text: str, line: int, new: str) -> str:
    """Replace 1-based `line` of a CSV text (header = line 1)."""
    lines = text.split("\n")
    lines[line - 1] = new
    return "\n".join(lines)


def set_cell(text: str, line: int, column: int, value: str) -> str:
    """Set field `column` (0-based) of 1-based `line`."""
    fields = text.split("\n")[line - 1].split(",")
    fields[column] = value
    return replace_line(text, line, ",".join(fields))


def one_line_error(fn: Callable[[], object], *fragments: str) -> str:
    """Assert fn raises InputError with a one-line message containing every fragment."""
    with pytest.raises(InputError) as info:
        fn()
    message = str(info.value)
    assert message and "\n" not in message and "\r" not in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def load_error(path: Path, *fragments: str, **options: object) -> str:
    """Assert load_dataset(path, **options) fails with a one-line message holding the fragments."""
    return one_line_error(lambda: load_dataset(path, **options), *fragments)  # type: ignore


# ---------------------------------------------------------------------- demo


def test_demo_loads(demo: Dataset) -> None:
    assert demo.x_train.shape == (6000, 28, 28, 1)
    assert demo.x_test.shape == (2000, 28, 28, 1)
    assert demo.x_train.dtype == np.float32 and demo.x_test.dtype == np.float32
    assert demo.x_train.min() == 0.0 and demo.x_train.max() == 1.0  # 0..255 became 0..1
    assert demo.y_train.dtype == np.int64 and demo.y_train.shape == (6000,)
    assert demo.classes == list(range(10)) and all(type(c) is int for c in demo.classes)
    assert demo.n_classes == 10 and demo.image_shape == (28, 28, 1)
    assert demo.submission_header == ("ImageId", "Label")
    assert demo.test_ids == [str(i) for i in range(1, 2001)]
    assert (demo.source, demo.kind) == ("demo", "kaggle_csv")


def test_demo_files_and_answers() -> None:
    assert (demo_path() / "train.csv.gz").is_file()
    assert not (demo_path() / "answers.csv").exists()  # hidden answers stay outside
    answers = pd.read_csv(demo_answers_path())
    assert list(answers.columns) == ["ImageId", "Label"]
    assert answers["ImageId"].tolist() == list(range(1, 2001))
    assert set(answers["Label"]) == set(range(10))
    sample = pd.read_csv(demo_path() / "sample_submission.csv")
    assert list(sample.columns) == ["ImageId", "Label"] and (sample["Label"] == 0).all()


def test_demo_is_real_mnist(demo: Dataset, mnist: Path) -> None:
    with np.load(mnist) as arrays:
        assert np.array_equal(np.rint(demo.x_train[..., 0] * 255), arrays["x_train"][:6000])
        assert np.array_equal(np.rint(demo.x_test[..., 0] * 255), arrays["x_test"][:2000])
        assert np.array_equal(demo.y_train, arrays["y_train"][:6000])
        answers = pd.read_csv(demo_answers_path())
        assert np.array_equal(answers["Label"].to_numpy(), arrays["y_test"][:2000])


def test_build_demo_is_deterministic(tmp_path: Path, mnist: Path) -> None:
    first = build_demo(mnist, tmp_path / "a", n_train=30, n_test=10)
    second = build_demo(mnist, tmp_path / "b", n_train=30, n_test=10)
    for path_a, path_b in zip(first, second):
        assert path_a.read_bytes() == path_b.read_bytes()
    ds = load_dataset(tmp_path / "a" / "competition")
    assert ds.x_train.shape == (30, 28, 28, 1) and ds.test_ids == [str(i) for i in range(1, 11)]
    with np.load(mnist) as arrays:
        assert np.array_equal(np.rint(ds.x_train[..., 0] * 255), arrays["x_train"][:30])


# --------------------------------------------------------------- CSV loading


def test_csv_detects_columns(tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame) -> None:
    train = train_df.rename(columns={"label": "target"})
    test = test_df.rename(columns={"ImageId": "id"})
    test["id"] = [f"img-{i:03d}" for i in range(len(test))]
    folder = competition(tmp_path, train, test)
    ds = load_dataset(folder)
    assert ds.submission_header == ("id", "target")
    assert ds.test_ids == [f"img-{i:03d}" for i in range(20)]
    assert ds.x_train.shape == (50, 28, 28, 1) and ds.x_test.shape == (20, 28, 28, 1)
    assert ds.classes == sorted(train_df["label"].unique().tolist())
    assert np.array_equal(np.asarray(ds.classes)[ds.y_train], train_df["label"].to_numpy())
    assert ds.source == str(folder) and ds.kind == "kaggle_csv"


def test_csv_pixel_columns_sorted_by_number(
    tmp_path: Path, train_df: pd.DataFrame, test_csv: str
) -> None:
    shuffled = ["label", *np.random.default_rng(0).permutation(PIXELS).tolist()]
    ds = load_dataset(competition(tmp_path, train_df[shuffled], test_csv))
    expected = train_df[PIXELS].to_numpy(np.float32).reshape(-1, 28, 28, 1) / 255
    assert np.allclose(ds.x_train, expected)


def test_csv_unnamed_pixel_columns_use_every_other_column(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame
) -> None:
    names = {p: f"p_{i}" for i, p in enumerate(PIXELS)}
    train = train_df.rename(columns=names)
    # an id column in train is not a pixel either
    train = pd.concat([pd.DataFrame({"id": range(100, 150)}), train], axis=1)
    test = test_df.rename(columns=names).rename(columns={"ImageId": "id"})
    ds = load_dataset(competition(tmp_path, train, test))
    assert ds.image_shape == (28, 28, 1)
    assert np.allclose(ds.x_test.reshape(20, -1), test_df[PIXELS].to_numpy() / 255)


def test_csv_column_overrides(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame
) -> None:
    # decoys that auto-detection would pick
    train = train_df.rename(columns={"label": "digit"}).assign(label=0)
    test = test_df.rename(columns={"ImageId": "key"}).assign(id="decoy")
    ds = load_dataset(competition(tmp_path, train, test), label_column="digit", id_column="key")
    assert ds.submission_header == ("key", "digit")
    assert ds.test_ids == [str(i) for i in range(1, 21)]
    assert ds.n_classes == train_df["label"].nunique()


def test_csv_without_id_column_numbers_rows(
    tmp_path: Path, test_df: pd.DataFrame, train_csv: str
) -> None:
    ds = load_dataset(competition(tmp_path, train_csv, test_df.drop(columns="ImageId")))
    assert ds.test_ids == [str(i) for i in range(1, 21)]
    assert ds.submission_header == ("ImageId", "label")


def test_ids_kept_as_exact_text(tmp_path: Path, test_df: pd.DataFrame, train_csv: str) -> None:
    test = test_df.rename(columns={"ImageId": "id"})
    test["id"] = ["007", "NA", "1.0", " 3"] + [str(i) for i in range(16)]
    ds = load_dataset(competition(tmp_path, train_csv, test))
    assert ds.test_ids[:4] == ["007", "NA", "1.0", " 3"]


def test_string_labels_round_trip(tmp_path: Path, train_df: pd.DataFrame, test_csv: str) -> None:
    train = train_df.copy()
    train["label"] = [WORDS[d] for d in train_df["label"]]
    ds = load_dataset(competition(tmp_path, train, test_csv))
    assert ds.classes == sorted(set(train["label"]))
    assert all(type(c) is str for c in ds.classes)
    assert [ds.classes[i] for i in ds.y_train] == train["label"].tolist()


def test_zero_padded_labels_stay_text(tmp_path: Path, train_df: pd.DataFrame, test_csv: str) -> None:
    train = train_df.copy()
    # "07" must not come back as 7: a zero-padded code is written back exactly as read
    train["label"] = ["07" if d == 7 else str(d) for d in train_df["label"]]
    ds = load_dataset(competition(tmp_path, train, test_csv))
    assert all(type(c) is str for c in ds.classes)
    assert [ds.classes[i] for i in ds.y_train] == train["label"].tolist()


@pytest.mark.parametrize("spell, number", [("+{}", 7), ("{}.0", 7), (" {}.00 ", 7), ("-0", 0)])
def test_other_spellings_of_whole_numbers_are_those_numbers(
    tmp_path: Path, train_df: pd.DataFrame, test_csv: str, spell: str, number: int
) -> None:
    train = train_df.copy()
    train["label"] = [spell.format(d) if d == 7 else str(d) for d in train_df["label"]]
    ds = load_dataset(competition(tmp_path, train, test_csv))
    assert all(type(c) is int for c in ds.classes)
    expected = [number if d == 7 else d for d in train_df["label"]]
    assert [ds.classes[i] for i in ds.y_train] == expected


def test_negative_integer_labels_are_ints(
    tmp_path: Path, train_df: pd.DataFrame, test_csv: str
) -> None:
    train = train_df.copy()
    train["label"] = train_df["label"] - 3
    ds = load_dataset(competition(tmp_path, train, test_csv))
    assert ds.classes == sorted((train_df["label"] - 3).unique().tolist())
    assert [ds.classes[i] for i in ds.y_train] == train["label"].tolist()


def test_sample_submission_reorders_test(
    tmp_path: Path, test_df: pd.DataFrame, train_csv: str, test_csv: str
) -> None:
    order = [5, 0, 19, 3] + [i for i in range(20) if i not in (5, 0, 19, 3)]
    sample = pd.DataFrame({"ImageId": test_df["ImageId"].to_numpy()[order], "Label": 0})
    ds = load_dataset(competition(tmp_path, train_csv, test_csv, sample))
    assert ds.test_ids == [str(test_df["ImageId"][i]) for i in order]
    expected = test_df[PIXELS].to_numpy(np.float32)[order] / 255
    assert np.allclose(ds.x_test.reshape(20, -1), expected)
    assert ds.submission_header == ("ImageId", "Label")


def test_sample_submission_header_wins_without_test_ids(
    tmp_path: Path, test_df: pd.DataFrame, train_csv: str
) -> None:
    sample = pd.DataFrame({"Id": range(20, 0, -1), "Category": "x"})
    ds = load_dataset(competition(tmp_path, train_csv, test_df.drop(columns="ImageId"), sample))
    assert ds.submission_header == ("Id", "Category")
    assert ds.test_ids == [str(i) for i in range(20, 0, -1)]
    assert np.allclose(ds.x_test[0].ravel(), test_df[PIXELS].to_numpy()[19] / 255)


def test_gz_and_plain_load_the_same(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    plain = load_dataset(competition(tmp_path / "plain", train_csv, test_csv))
    packed = load_dataset(competition(tmp_path / "gz", train_csv, test_csv, suffix=".gz"))
    assert np.array_equal(plain.x_train, packed.x_train)
    assert plain.fingerprint() == packed.fingerprint()


def test_plain_preferred_over_gz(
    tmp_path: Path, train_df: pd.DataFrame, train_csv: str, test_csv: str
) -> None:
    folder = competition(tmp_path, train_csv, test_csv, suffix=".gz")
    write(folder / "train.csv", train_df.head(40))
    assert load_dataset(folder).x_train.shape[0] == 40


def test_pixels_already_in_unit_range_are_kept(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame, train_csv: str, test_csv: str
) -> None:
    train, test = train_df.copy(), test_df.copy()
    train[PIXELS] = train_df[PIXELS] / 255
    test[PIXELS] = test_df[PIXELS] / 255
    scaled = load_dataset(competition(tmp_path / "unit", train, test))
    raw = load_dataset(competition(tmp_path / "raw", train_csv, test_csv))
    assert np.allclose(scaled.x_train, raw.x_train, atol=1e-6)


def test_trailing_blank_lines_are_ignored(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    ds = load_dataset(competition(tmp_path, train_csv + "\n\n", test_csv))
    assert ds.x_train.shape[0] == 50


# --------------------------------------------------------------------- .npz


def mnist_arrays(train_df: pd.DataFrame, test_df: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        "x_train": train_df[PIXELS].to_numpy(np.uint8).reshape(-1, 28, 28),
        "y_train": train_df["label"].to_numpy(),
        "x_test": test_df[PIXELS].to_numpy(np.uint8).reshape(-1, 28, 28),
    }


@pytest.mark.parametrize("layout", ["3d", "4d", "flat"])
def test_npz_layouts(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame, layout: str
) -> None:
    arrays = mnist_arrays(train_df, test_df)
    for key in ("x_train", "x_test"):
        x = arrays[key]
        arrays[key] = {"3d": x, "4d": x[..., None], "flat": x.reshape(len(x), -1)}[layout]
    path = tmp_path / "mnist.npz"
    np.savez(path, **arrays)
    ds = load_dataset(path)
    assert ds.x_train.shape == (50, 28, 28, 1) and ds.x_test.shape == (20, 28, 28, 1)
    assert ds.x_train.dtype == np.float32
    assert np.allclose(ds.x_train[..., 0], train_df[PIXELS].to_numpy(np.float32).reshape(-1, 28, 28) / 255)
    assert ds.test_ids == [str(i) for i in range(1, 21)]
    assert ds.submission_header == ("id", "label")
    assert (ds.kind, ds.source) == ("npz", str(path))
    assert np.array_equal(np.asarray(ds.classes)[ds.y_train], train_df["label"].to_numpy())


@pytest.mark.parametrize("key", ["ids", "test_ids"])
def test_npz_ids_and_string_labels(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame, key: str
) -> None:
    arrays = mnist_arrays(train_df, test_df)
    arrays["y_train"] = np.array([WORDS[d] for d in train_df["label"]])
    arrays[key] = np.arange(1000, 1020)
    np.savez_compressed(tmp_path / "words.npz", **arrays)
    ds = load_dataset(tmp_path / "words.npz")
    assert ds.test_ids == [str(i) for i in range(1000, 1020)]
    assert all(type(c) is str for c in ds.classes)
    assert [ds.classes[i] for i in ds.y_train] == [WORDS[d] for d in train_df["label"]]


def test_npz_and_csv_agree(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame, train_csv: str, test_csv: str
) -> None:
    np.savez(tmp_path / "m.npz", **mnist_arrays(train_df, test_df))
    from_npz = load_dataset(tmp_path / "m.npz")
    from_csv = load_dataset(competition(tmp_path / "csv", train_csv, test_csv))
    assert np.array_equal(from_npz.x_train, from_csv.x_train)
    assert from_npz.fingerprint() == from_csv.fingerprint()


# -------------------------------------------------------------- image shape


@pytest.mark.parametrize(
    "text, shape",
    [("28x28x1", (28, 28, 1)), ("28,28,1", (28, 28, 1)), ("32x32x3", (32, 32, 3)),
     ("28x28", (28, 28, 1)), (" 64 X 48 x 3 ", (64, 48, 3))],
)
def test_parse_image_shape(text: str, shape: tuple[int, int, int]) -> None:
    assert parse_image_shape(text) == shape


@pytest.mark.parametrize("text", ["28", "abc", "28x28x0", "28x28x1x1", "-28x28", "28xx28", ""])
def test_parse_image_shape_rejects(text: str) -> None:
    one_line_error(lambda: parse_image_shape(text), "image shape", "HxWxC")


def test_rgb_shape_inferred_and_npz_4d(tmp_path: Path, cifar: Path) -> None:
    with np.load(cifar) as arrays:
        x_train, y_train = arrays["x_train"][:30], arrays["y_train"][:30]
        x_test = arrays["x_test"][:10]
    columns = [f"pixel{i}" for i in range(32 * 32 * 3)]
    train = pd.DataFrame(x_train.reshape(30, -1), columns=columns)
    train.insert(0, "label", y_train)
    test = pd.DataFrame(x_test.reshape(10, -1), columns=columns)
    ds = load_dataset(competition(tmp_path / "csv", train, test))
    assert ds.image_shape == (32, 32, 3)
    assert np.allclose(ds.x_train, x_train / 255)
    np.savez(tmp_path / "c.npz", x_train=x_train, y_train=y_train, x_test=x_test)
    assert load_dataset(tmp_path / "c.npz").fingerprint() == ds.fingerprint()


def test_image_shape_override(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    folder = competition(tmp_path, train_csv, test_csv)
    assert load_dataset(folder, image_shape=(14, 56, 1)).x_train.shape == (50, 14, 56, 1)
    assert load_dataset(folder, image_shape=parse_image_shape("28x28")).image_shape == (28, 28, 1)


def test_non_square_needs_image_shape(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame
) -> None:
    keep = PIXELS[:700]
    folder = competition(tmp_path, train_df[["label", *keep]], test_df[["ImageId", *keep]])
    load_error(folder, "train.csv: 700 pixel columns", "--image-shape")
    assert load_dataset(folder, image_shape=(20, 35, 1)).image_shape == (20, 35, 1)


def test_image_shape_product_mismatch(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame, train_csv: str, test_csv: str
) -> None:
    folder = competition(tmp_path, train_csv, test_csv)
    load_error(folder, "train.csv", "3072", "784", image_shape=(32, 32, 3))
    np.savez(tmp_path / "m.npz", **mnist_arrays(train_df, test_df))
    load_error(tmp_path / "m.npz", "m.npz", "x_train", image_shape=(32, 32, 3))


# -------------------------------------------------------------- fingerprint


def test_fingerprint_stable_and_sensitive(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    base = load_dataset(competition(tmp_path / "a", train_csv, test_csv))
    again = load_dataset(competition(tmp_path / "b", train_csv, test_csv, suffix=".gz"))
    fp = base.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{16}", fp), fp
    assert fp == again.fingerprint() == base.fingerprint()

    x_train = base.x_train.copy()
    x_train[3, 14, 7, 0] += 1 / 255
    x_test = base.x_test.copy()
    x_test[19, 0, 0, 0] = 1.0
    relabelled = base.y_train.copy()
    relabelled[0] = (relabelled[0] + 1) % base.n_classes
    variants = [
        replace(base, x_train=x_train),
        replace(base, x_test=x_test),
        replace(base, y_train=relabelled),
        replace(base, classes=[WORDS[c] for c in base.classes]),  # same indices, other values
        replace(base, test_ids=["999", *base.test_ids[1:]]),
        replace(
            base,
            x_train=base.x_train.reshape(-1, 14, 56, 1),
            x_test=base.x_test.reshape(-1, 14, 56, 1),
        ),
    ]
    prints = {fp} | {v.fingerprint() for v in variants}
    assert len(prints) == len(variants) + 1
    assert replace(base, source="elsewhere", kind="npz").fingerprint() == fp


# -------------------------------------------------------------------- split


def test_make_split_on_demo(demo: Dataset) -> None:
    val = make_split(demo.y_train, 0.2, seed=7)
    assert val.dtype == np.int64 and len(val) == 1200
    assert np.all(np.diff(val) > 0)  # sorted, no repeats
    assert np.array_equal(val, make_split(demo.y_train, 0.2, seed=7))
    assert not np.array_equal(val, make_split(demo.y_train, 0.2, seed=8))
    counts = np.bincount(demo.y_train, minlength=10)
    held = np.bincount(demo.y_train[val], minlength=10)
    assert np.all(np.abs(held - counts * 0.2) <= 1)


def test_make_split_small(train_df: pd.DataFrame) -> None:
    y = train_df["label"].to_numpy()[:40]
    y = y[np.isin(y, np.flatnonzero(np.bincount(y) >= 2))]  # stratifiable classes only
    fraction = 0.5
    val = make_split(y, fraction, seed=0)
    assert len(val) == math.ceil(fraction * len(y))
    assert set(np.unique(y[val])) == set(np.unique(y))


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, float("nan"), True, "0.2"])
def test_make_split_bad_fraction(demo: Dataset, fraction: object) -> None:
    one_line_error(lambda: make_split(demo.y_train, fraction, seed=0), "fraction")  # type: ignore


def test_make_split_class_too_small() -> None:
    y = np.array([0, 0, 0, 1, 1, 1, 2])
    one_line_error(lambda: make_split(y, 0.5, seed=0), "class index 2 has only 1 row")
    named = ["cat", "dog", "emu"]
    one_line_error(lambda: make_split(y, 0.5, seed=0, classes=named), "class 'emu' has only 1 row")


def test_make_split_fraction_too_small_for_classes(demo: Dataset) -> None:
    one_line_error(lambda: make_split(demo.y_train[:100], 0.01, seed=0), "fraction", "10 classes")


# ------------------------------------------------- bad input: folder, files


def test_missing_path(tmp_path: Path) -> None:
    load_error(tmp_path / "nope", "nope", "no such file")


def test_column_options_rejected_for_npz(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame
) -> None:
    np.savez(tmp_path / "m.npz", **mnist_arrays(train_df, test_df))
    load_error(tmp_path / "m.npz", "m.npz", "--label-column", label_column="label")


def test_file_that_is_neither_folder_nor_npz(tmp_path: Path, train_df: pd.DataFrame) -> None:
    path = write(tmp_path / "train.csv", train_df)
    load_error(path, "train.csv", ".npz")


@pytest.mark.parametrize("missing", ["train", "test"])
def test_folder_without_required_file(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame, missing: str
) -> None:
    train = None if missing == "train" else train_df
    folder = competition(tmp_path, train, None if missing == "test" else test_df)
    load_error(folder, str(folder), f"{missing}.csv")


@pytest.mark.parametrize("which", ["train", "test", "sample_submission"])
def test_empty_file(tmp_path: Path, train_csv: str, test_csv: str, which: str) -> None:
    sample = pd.DataFrame({"ImageId": [1], "Label": [0]})
    folder = competition(tmp_path, train_csv, test_csv, sample)
    write(folder / f"{which}.csv", "")
    load_error(folder, f"{which}.csv: empty file")


@pytest.mark.parametrize("which", ["train", "test"])
def test_header_only(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame, which: str
) -> None:
    frames = {"train": train_df, "test": test_df}
    frames[which] = frames[which].head(0)
    folder = competition(tmp_path, frames["train"], frames["test"])
    load_error(folder, f"{which}.csv", "no data rows")


def test_binary_file_as_csv(tmp_path: Path, test_csv: str) -> None:
    gz_bytes = (demo_path() / "train.csv.gz").read_bytes()[:20000]  # real gzip bytes, wrong name
    folder = competition(tmp_path, gz_bytes, test_csv)
    load_error(folder, "train.csv")


def test_random_bytes_as_csv(tmp_path: Path, test_csv: str) -> None:
    folder = competition(tmp_path, np.random.default_rng(0).bytes(5000), test_csv)
    load_error(folder, "train.csv")


def test_not_gzip_despite_name(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    folder = competition(tmp_path, None, test_csv)
    (folder / "train.csv.gz").write_text(train_csv)  # plain text under a .gz name
    load_error(folder, "train.csv.gz")


# ------------------------------------------------- bad input: rows and cells


def test_ragged_row_too_many_fields(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    text = train_csv
    text = replace_line(text, 7, text.split("\n")[6] + ",0")
    folder = competition(tmp_path, text, test_csv)
    load_error(folder, "train.csv line 7", "786 fields", "785")


def test_ragged_row_too_few_fields(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    text = test_csv
    text = replace_line(text, 4, text.split("\n")[3].rsplit(",", 1)[0])
    folder = competition(tmp_path, train_csv, text)
    load_error(folder, "test.csv line 4, column pixel783", "missing value")


def test_empty_cell(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    folder = competition(tmp_path, set_cell(train_csv, 7, 13, ""), test_csv)
    load_error(folder, "train.csv line 7, column pixel12: missing value")


def test_line_numbers_count_blank_lines(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    text = set_cell(train_csv, 7, 13, "")
    # a blank line 4: the bad row moves to line 8
    text = replace_line(text, 3, text.split("\n")[2] + "\n")
    folder = competition(tmp_path, text, test_csv, suffix=".gz")
    load_error(folder, "train.csv.gz line 8, column pixel12: missing value")


def test_non_numeric_cell(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    text = set_cell(set_cell(train_csv, 9, 200, "abc"), 12, 3, "x")
    folder = competition(tmp_path, text, test_csv)
    load_error(folder, "train.csv line 9, column pixel199", "'abc' is not a number")


@pytest.mark.parametrize("value", ["-1", "256", "300.5"])
def test_out_of_range_value(tmp_path: Path, train_csv: str, test_csv: str, value: str) -> None:
    folder = competition(tmp_path, train_csv, set_cell(test_csv, 5, 101, value))
    load_error(folder, "test.csv line 5, column pixel100", "outside 0..255")


def test_missing_label_value(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    folder = competition(tmp_path, set_cell(train_csv, 30, 0, ""), test_csv)
    load_error(folder, "train.csv line 30, column label: missing label")


# ----------------------------------------------- bad input: columns, labels, ids


def test_missing_label_column(tmp_path: Path, train_df: pd.DataFrame, test_csv: str) -> None:
    folder = competition(tmp_path, train_df.rename(columns={"label": "digit"}), test_csv)
    message = load_error(folder, "train.csv", "no label column", "digit", "--label-column")
    assert len(message) < 300  # the 785 column names are truncated


def test_label_column_override_absent(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    folder = competition(tmp_path, train_csv, test_csv)
    load_error(folder, "train.csv", "'digit'", label_column="digit")


def test_id_column_override_absent(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    folder = competition(tmp_path, train_csv, test_csv)
    load_error(folder, "test.csv", "'key'", id_column="key")


def test_pixel_columns_differ(tmp_path: Path, test_df: pd.DataFrame, train_csv: str) -> None:
    folder = competition(tmp_path, train_csv, test_df.drop(columns="pixel783"))
    load_error(folder, "train.csv has 784", "test.csv has 783", "pixel783")


def test_pixel_column_names_differ(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame
) -> None:
    names = {p: f"p{i}" for i, p in enumerate(PIXELS)}
    test = test_df.rename(columns=names).rename(columns={"p5": "q5"})
    folder = competition(tmp_path, train_df.rename(columns=names), test)
    load_error(folder, "train.csv has 784", "test.csv has 784", "'p5'")


def test_semicolon_separated(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    folder = competition(tmp_path, train_csv.replace(",", ";"), test_csv)
    message = load_error(folder, "train.csv line 1", "';'")
    assert len(message) < 200


def test_trailing_commas_are_tolerated(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    folder = competition(tmp_path, train_csv.replace("\n", ",\n"), test_csv)
    assert load_dataset(folder).x_train.shape == (50, 28, 28, 1)


def test_duplicate_column_name(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    text = train_csv.replace("pixel5,", "pixel4,", 1)
    folder = competition(tmp_path, text, test_csv)
    load_error(folder, "train.csv line 1", "duplicate column", "pixel4")


def test_single_class(tmp_path: Path, train_df: pd.DataFrame, test_csv: str) -> None:
    train = train_df.copy()
    train["label"] = 3
    folder = competition(tmp_path, train, test_csv)
    load_error(folder, "train.csv", "only 1 class", "at least 2")


def test_duplicate_test_id(tmp_path: Path, test_df: pd.DataFrame, train_csv: str) -> None:
    test = test_df.copy()
    test.loc[11, "ImageId"] = 4
    folder = competition(tmp_path, train_csv, test)
    load_error(folder, "test.csv line 13, column ImageId", "duplicate id '4'")


def test_sample_with_extra_id(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    sample = pd.DataFrame({"ImageId": [*range(1, 20), 77], "Label": 0})
    folder = competition(tmp_path, train_csv, test_csv, sample)
    load_error(folder, "sample_submission.csv line 21", "'77' is not in test.csv")


def test_sample_with_missing_id(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    sample = pd.DataFrame({"ImageId": [i for i in range(1, 21) if i != 8], "Label": 0})
    folder = competition(tmp_path, train_csv, test_csv, sample)
    load_error(folder, "sample_submission.csv", "lacks id '8'", "test.csv line 9")


def test_sample_with_duplicate_id(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    sample = pd.DataFrame({"ImageId": [*range(1, 21), 3], "Label": 0})
    folder = competition(tmp_path, train_csv, test_csv, sample)
    load_error(folder, "sample_submission.csv line 22", "duplicate id '3'")


def test_sample_lacking_id_column(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    sample = pd.DataFrame({"Id": range(1, 21), "Label": 0})
    folder = competition(tmp_path, train_csv, test_csv, sample)
    load_error(folder, "sample_submission.csv", "no id column 'ImageId'")


def test_sample_with_one_column(tmp_path: Path, train_csv: str, test_csv: str) -> None:
    folder = competition(tmp_path, train_csv, test_csv, pd.DataFrame({"ImageId": range(1, 21)}))
    load_error(folder, "sample_submission.csv", "id and a label column")


# ----------------------------------------------------------- bad input: .npz


def save_npz(tmp_path: Path, arrays: dict[str, np.ndarray]) -> Path:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


def test_npz_missing_key(tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame) -> None:
    arrays = mnist_arrays(train_df, test_df)
    del arrays["x_test"]
    load_error(save_npz(tmp_path, arrays), "bad.npz", "'x_test'")


def test_npz_label_count_mismatch(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame
) -> None:
    arrays = mnist_arrays(train_df, test_df)
    arrays["y_train"] = arrays["y_train"][:-1]
    load_error(save_npz(tmp_path, arrays), "bad.npz, key y_train", "49 labels for 50")


def test_npz_ids_count_mismatch(
    tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame
) -> None:
    arrays = {**mnist_arrays(train_df, test_df), "ids": np.arange(19)}
    load_error(save_npz(tmp_path, arrays), "bad.npz, key ids", "20 ids")


def test_npz_duplicate_ids(tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame) -> None:
    arrays = {**mnist_arrays(train_df, test_df), "test_ids": np.array(["a"] * 20)}
    load_error(save_npz(tmp_path, arrays), "bad.npz, key test_ids", "duplicate id 'a'")


def test_npz_shape_mismatch(tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame) -> None:
    arrays = mnist_arrays(train_df, test_df)
    arrays["x_test"] = arrays["x_test"][:, :27, :27]
    load_error(save_npz(tmp_path, arrays), "bad.npz", "28x28x1", "27x27x1")


def test_npz_nan(tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame) -> None:
    arrays = mnist_arrays(train_df, test_df)
    arrays["x_test"] = arrays["x_test"].astype(np.float32)
    arrays["x_test"][6, 3, 4] = np.nan
    load_error(save_npz(tmp_path, arrays), "bad.npz, key x_test", "NaN", "image 6")


def test_npz_single_class(tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame) -> None:
    arrays = {**mnist_arrays(train_df, test_df), "y_train": np.zeros(50, dtype=np.int64)}
    load_error(save_npz(tmp_path, arrays), "bad.npz, key y_train", "at least 2")


def test_npz_pickled_labels(tmp_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame) -> None:
    arrays = mnist_arrays(train_df, test_df)
    arrays["y_train"] = np.array([WORDS[d] for d in train_df["label"]], dtype=object)
    load_error(save_npz(tmp_path, arrays), "bad.npz", "pickle")


def test_npz_not_an_archive(tmp_path: Path, train_df: pd.DataFrame) -> None:
    path = write(tmp_path / "bad.npz", train_df)
    load_error(path, "bad.npz", "not a readable .npz")
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    (tmp_path / "single.npz").write_bytes(buffer.getvalue())
    load_error(tmp_path / "single.npz", "single.npz", "not an .npz archive")
