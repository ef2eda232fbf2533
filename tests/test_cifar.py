"""CIFAR python batches: real images written in the official pickle layout."""

from __future__ import annotations

import pickle
import re
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


def write_batches(folder: Path, x_train, y_train, x_test, meta: bool = True, protocol: int | None = None) -> Path:
    folder.mkdir(parents=True)
    flat = lambda x: x.transpose(0, 3, 1, 2).reshape(len(x), -1)  # the official layout: channels first
    half = len(x_train) // 2
    for i, rows in enumerate((slice(0, half), slice(half, None)), start=1):
        with open(folder / f"data_batch_{i}", "wb") as handle:
            pickle.dump({b"data": flat(x_train[rows]), b"labels": list(map(int, y_train[rows]))}, handle, protocol)
    with open(folder / "test_batch", "wb") as handle:
        pickle.dump({b"data": flat(x_test), b"labels": [0] * len(x_test)}, handle, protocol)
    if meta:
        with open(folder / "batches.meta", "wb") as handle:
            pickle.dump({b"label_names": [n.encode() for n in NAMES]}, handle, protocol)
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


class _Touch:
    """Unpickled by plain pickle, this creates the file `path`: a stand-in for any code a file could run."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def crafted(path: Path, content) -> bytes:
    payload = pickle.dumps(content)
    pickle.loads(payload)  # plain pickle runs it: the marker appears ...
    assert path.exists()
    path.unlink()  # ... and is removed again, for the loader to prove it does not
    return payload


@pytest.mark.parametrize("protocol", [0, 2, 5, "numpy.core"])
def test_batches_of_every_pickle_protocol_load(tmp_path, real_images, protocol):
    x_train, y_train, x_test = real_images(20, 4)
    folder = write_batches(tmp_path / "cifar", x_train, y_train, x_test, protocol=2 if protocol == "numpy.core" else protocol)
    if protocol == "numpy.core":  # as the official batches name numpy's array rebuilder
        for path in folder.iterdir():
            path.write_bytes(path.read_bytes().replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
        assert b"numpy.core.multiarray" in (folder / "data_batch_1").read_bytes()
    dataset = load_dataset(folder)
    assert np.allclose(dataset.x_train, x_train / 255.0) and np.allclose(dataset.x_test, x_test / 255.0)
    assert [dataset.classes[i] for i in dataset.y_train] == [NAMES[i] for i in y_train]


def test_a_crafted_batch_is_refused_and_runs_nothing(kcnn, assert_refused, tmp_path, real_images):
    x_train, y_train, x_test = real_images(40, 10)
    folder = write_batches(tmp_path / "cifar", x_train, y_train, x_test)
    marker = tmp_path / "pwned"
    (folder / "data_batch_1").write_bytes(crafted(marker, {b"data": _Touch(marker), b"labels": [0]}))
    refusal = ("data_batch_1: not a CIFAR batch (it asks to load pathlib.Path.touch; "
               "only numpy arrays, lists, dicts, bytes and str are read)")
    with pytest.raises(InputError, match=re.escape(f"{folder / refusal}")):
        load_dataset(folder)
    assert_refused(kcnn("data", folder), refusal)
    assert_refused(kcnn("-w", tmp_path / "ws", "train", "--data", folder, "--model", "cnn1", "--epochs", 1), refusal)
    assert not marker.exists() and not (tmp_path / "ws").exists()


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("crafted", "batches.meta: not a CIFAR meta file (it asks to load pathlib.Path.touch;"),
        ([b"airplane", b"bird"], "batches.meta: not a CIFAR meta file (a list, not a dict)"),
        ({b"num_cases_per_batch": 10000}, "batches.meta: not a CIFAR meta file (no label_names"),
        ({b"label_names": [1, 2]}, "batches.meta: not a CIFAR meta file (no label_names"),
        (b"\x80\x04truncated", "batches.meta: not a CIFAR meta file (UnpicklingError)"),
    ],
)
def test_bad_meta_files_are_refused(kcnn, assert_refused, tmp_path, real_images, content, fragment):
    x_train, y_train, x_test = real_images(40, 10)
    folder = write_batches(tmp_path / "cifar", x_train, y_train, x_test)
    marker = tmp_path / "pwned"
    if content == "crafted":
        payload = crafted(marker, {b"label_names": _Touch(marker)})
    else:
        payload = content if isinstance(content, bytes) else pickle.dumps(content)
    (folder / "batches.meta").write_bytes(payload)
    with pytest.raises(InputError, match=re.escape(fragment)):
        load_dataset(folder)
    assert_refused(kcnn("data", folder), fragment)
    assert not marker.exists()


def test_batches_that_are_not_image_rows(tmp_path, real_images):
    x_train, y_train, x_test = real_images(40, 10)
    folder = write_batches(tmp_path / "cifar", x_train, y_train, x_test)
    cases = [({b"data": "pixels", b"labels": [0]}, "data_batch_2: data is not an array of pixel values"),
             ({b"data": np.zeros((2, 3072), np.uint8), b"labels": ["a", "b"]}, "data_batch_2: labels are not whole"),
             ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, -1]}, "data_batch_2: label -1 is negative"),
             ({b"data": np.zeros((2, 3072), np.uint8)}, "data_batch_2: labels missing or not one per image")]
    for content, fragment in cases:
        (folder / "data_batch_2").write_bytes(pickle.dumps(content))
        with pytest.raises(InputError, match=re.escape(fragment)):
            load_dataset(folder)
