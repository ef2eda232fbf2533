"""Pixel scale is decided per file: whole numbers 0..255 are divided by 255, values
within 0..1 kept, anything else refused naming the file, line and column.

Real MNIST rows from the packaged demo, written as CSV or .npz into tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_cnn.data import demo_path, load_dataset
from kaggle_cnn.errors import InputError

PIXELS = [f"pixel{i}" for i in range(784)]


@pytest.fixture(scope="module")
def train_df() -> pd.DataFrame:
    return pd.read_csv(demo_path() / "train.csv.gz", nrows=40)


@pytest.fixture(scope="module")
def test_df() -> pd.DataFrame:
    return pd.read_csv(demo_path() / "test.csv.gz", nrows=10)


def competition(folder: Path, train: pd.DataFrame, test: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return folder


def unit(frame: pd.DataFrame) -> pd.DataFrame:
    """The same images with pixels as 0..1 fractions."""
    return frame.assign(**{p: frame[p] / 255 for p in PIXELS})


def expected(frame: pd.DataFrame) -> np.ndarray:
    return frame[PIXELS].to_numpy(np.float32).reshape(-1, 28, 28, 1) / 255


def test_fractional_train_beside_integer_test_are_each_scaled_by_their_own_values(tmp_path, train_df, test_df):
    ds = load_dataset(competition(tmp_path, unit(train_df), test_df))
    assert np.allclose(ds.x_train, expected(train_df), atol=1e-6)
    assert np.allclose(ds.x_test, expected(test_df), atol=1e-6)
    # and the other way round
    ds = load_dataset(competition(tmp_path / "swapped", train_df, unit(test_df)))
    assert np.allclose(ds.x_train, expected(train_df), atol=1e-6)
    assert np.allclose(ds.x_test, expected(test_df), atol=1e-6)


def test_a_stray_value_above_1_in_a_fractional_file_is_refused_where_it_is(kcnn, assert_refused, tmp_path,
                                                                           train_df, test_df):
    train = unit(train_df)
    train.loc[6, "pixel300"] = 1.0001  # data row 6: line 8 of the file (header = line 1)
    folder = competition(tmp_path, train, test_df)
    with pytest.raises(InputError, match=r"^train\.csv line 8, column pixel300: value 1\.0001 "):
        load_dataset(folder)
    assert_refused(kcnn("data", folder), "train.csv line 8, column pixel300", "1.0001", "0..255", "0..1")


def test_a_fraction_among_whole_numbers_is_refused_where_it_is(tmp_path, train_df, test_df):
    test = test_df.astype({"pixel5": float})
    test.loc[3, "pixel5"] = 12.5
    with pytest.raises(InputError, match=r"^test\.csv line 5, column pixel5: value 12\.5 "):
        load_dataset(competition(tmp_path, train_df, test))


def test_whole_numbers_written_as_floats_are_0_to_255(tmp_path, train_df, test_df):
    ds = load_dataset(competition(tmp_path, train_df.astype({p: float for p in PIXELS}), test_df))
    assert np.allclose(ds.x_train, expected(train_df))


def test_npz_arrays_are_scaled_each_by_their_own_values(tmp_path, train_df, test_df):
    x_train = expected(train_df)[..., 0]  # already 0..1
    x_test = test_df[PIXELS].to_numpy(np.uint8).reshape(-1, 28, 28)
    np.savez(tmp_path / "mixed.npz", x_train=x_train, y_train=train_df["label"].to_numpy(), x_test=x_test)
    ds = load_dataset(tmp_path / "mixed.npz")
    assert np.allclose(ds.x_train, expected(train_df), atol=1e-6)
    assert np.allclose(ds.x_test, expected(test_df), atol=1e-6)
    x_train[4, 2, 3] = 1.5
    np.savez(tmp_path / "odd.npz", x_train=x_train, y_train=train_df["label"].to_numpy(), x_test=x_test)
    with pytest.raises(InputError, match=r"^odd\.npz, key x_train, image 4: value 1\.5 "):
        load_dataset(tmp_path / "odd.npz")
