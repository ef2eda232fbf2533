"""CIFAR python batches: real images written in the official pickle layout."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from kaggle_cnn.data import load_dataset
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.workspace import Workspace

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="module")
def real_images(shared_data):
    """real_images(n_train, n_test): CIFAR-10 from ../shared when present; else demo
    digits padded to 32x32x3."""
    cifar = shared_data / "cifar10_subset.npz"
    if cifar.exists():
        with np.load(cifar) as data:
            x_train, y_train, x_test = data["x_train"][:300], data["y_train"].ravel()[:300], data["x_test"][:40]
    else:
        demo = load_dataset()
        pad = lambda x: np.repeat(np.pad((x * 255).astype(np.uint8), ((0, 0), (2, 2), (2, 2), (0, 0))), 3, axis=3)
        x_train, y_train, x_test = pad(demo.x_train[:300]), demo.y_train[:300], pad(demo.x_test[:40])
    return lambda n_train, n_test: (x_train[:n_train], y_train[:n_train], x_test[:n_test])


def write_batches(folder: Path, x_train, y_train, x_test, meta: bool = True) -> Path:
    folder.mkdir(parents=True)
    flat = lambda x: x.transpose(0, 3, 1, 2).reshape(len(x), -1)  # the official layout: channels first
    half = len(x_train) // 2
    for i, rows in enumerate((slice(0, half), slice(half, None)), start=1):
        with open(folder / f"data_batch_{i}", "wb") as handle:
            pickle.dump({b"data": flat(x_train[rows]), b"labels": list(map(int, y_train[rows]))}, handle)
    with open(folder / "test_batch", "wb") as handle:
        pickle.dump({b"data": flat(x_test), b"labels": [0] * len(x_test)}, handle)
    if meta:
        with open(folder / "batches.meta", "wb") as handle:
            pickle.dump({b"label_names": [n.encode() for n in NAMES]}, handle)
    return folder


def test_batches_load_as_channels_last_images_with_class_names(tmp_path, real_images):
    x_train, y_train, x_test = real_images(200, 40)
    dataset = load_dataset(write_batches(tmp_path / "cifar", x_train, y_train, x_test))
    assert dataset.kind == "cifar_batches" and dataset.image_shape == (32, 32, 3)
    assert dataset.x_train.shape == (200, 32, 32, 3)
    assert np.allclose(dataset.x_train, x_train / 255.0) and np.allclose(dataset.x_test, x_test / 255.0)
    assert dataset.classes == sorted({NAMES[i] for i in y_train})
    assert [dataset.classes[i] for i in dataset.y_train] == [NAMES[i] for i in y_train]
    assert dataset.test_ids == [str(i) for i in range(1, 41)]


def test_without_meta_labels_stay_numbers(tmp_path, real_images):
    x_train, y_train, x_test = real_images(100, 10)
    dataset = load_dataset(write_batches(tmp_path / "cifar", x_train, y_train, x_test, meta=False))
    assert dataset.classes == sorted(set(y_train.tolist()))
    assert [type(c) for c in dataset.classes] == [int] * len(dataset.classes)
    assert np.array_equal(np.asarray(dataset.classes)[dataset.y_train], y_train)


def test_bad_batches(tmp_path, real_images):
    x_train, y_train, x_test = real_images(40, 10)
    folder = write_batches(tmp_path / "cifar", x_train, y_train, x_test)
    (folder / "data_batch_2").write_bytes(b"not a pickle")
    with pytest.raises(InputError, match="data_batch_2: not a CIFAR batch"):
        load_dataset(folder)
    (folder / "test_batch").unlink()
    (folder / "data_batch_2").unlink()
    with pytest.raises(InputError, match="without test_batch"):
        load_dataset(folder)


def test_train_on_cifar_batches(kcnn, assert_refused, tmp_path, real_images):
    x_train, y_train, x_test = real_images(300, 30)
    folder = write_batches(tmp_path / "cifar", x_train, y_train, x_test)
    result = kcnn("-w", tmp_path / "ws", "train", "--data", folder, "--model", "cnn1", "--epochs", 1,
                  "--val-fraction", 0.2)
    assert result.exit_code == 0, result.output
    (run,) = Workspace(tmp_path / "ws").runs()
    assert run.record["data"]["image_shape"] == [32, 32, 3] and run.record["data"]["kind"] == "cifar_batches"
    assert run.val_proba().shape == (60, len(run.classes)) and run.test_proba().shape == (30, len(run.classes))
    assert_refused(kcnn("-w", tmp_path / "ws2", "train", "--data", folder, "--label-column", "x"), "CIFAR")
