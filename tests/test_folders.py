"""Image folders (kind "image_folder"): layouts, file checks, ImageFiles, `kcnn data split`.

Fixtures are tiny folders written into tmp_path: real MNIST digits from the
packaged demo saved with Pillow as PNG/JPEG/BMP/GIF, plus real cats/dogs JPEGs
from ../shared when present.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kaggle_cnn.config import parse_image_size
from kaggle_cnn.data import demo_path, load_dataset
from kaggle_cnn.data.folder_split import split_folder
from kaggle_cnn.data.loaders.images import ImageFiles
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.workspace import Workspace

# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """60 real MNIST digits (uint8, 28x28) and their labels, from the packaged demo."""
    frame = pd.read_csv(demo_path() / "train.csv.gz", nrows=60)
    pixels = frame.drop(columns="label").to_numpy(dtype=np.uint8).reshape(-1, 28, 28)
    return pixels, frame["label"].to_numpy()


def save(path: Path, pixels: np.ndarray, fmt: str = "PNG", mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels)
    if mode is not None:
        image = image.convert(mode)
    image.save(path, fmt)
    return path


def colour(pixels: np.ndarray) -> np.ndarray:
    """A digit as a real colour image: each channel a different shade of it."""
    return np.stack([pixels, pixels // 2, 255 - pixels], axis=-1).astype(np.uint8)


def class_folder(root: Path, layout: dict[str, int], digits, start: int = 0, fmt: str = "PNG") -> Path:
    """root/<class>/<class>.<i>.png: `count` digits per class, taken in turn from the demo."""
    pixels, _ = digits
    i = start
    for name, count in layout.items():
        for k in range(count):
            save(root / name / f"{name}.{k}.{fmt.lower()}", pixels[i % len(pixels)], fmt)
            i += 1
    return root


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture()
def flat(tmp_path, digits) -> Path:
    """three/ (5 PNGs) and seven/ (4 PNGs), a text file, a truncated JPEG, hidden files."""
    root = class_folder(tmp_path / "digits", {"three": 5, "seven": 4}, digits)
    (root / "three" / "notes.txt").write_text("not a picture\n")
    good = save(tmp_path / "whole.jpg", digits[0][0], "JPEG").read_bytes()
    (root / "seven" / "broken.jpg").write_bytes(good[: len(good) // 2])
    (root / "seven" / ".DS_Store").write_bytes(b"\0\1\2")
    save(root / ".cache" / "x.png", digits[0][1])
    return root


@pytest.fixture()
def split_tree(tmp_path, digits) -> Path:
    """train/ (a: 4, b: 3), val/ (a: 2, b: 1), test/ labelled (a: 1, b: 2)."""
    root = tmp_path / "split"
    class_folder(root / "train", {"a": 4, "b": 3}, digits, start=0)
    class_folder(root / "val", {"a": 2, "b": 1}, digits, start=10)
    class_folder(root / "test", {"a": 1, "b": 2}, digits, start=20)
    return root


@pytest.fixture()
def tiny_imagenet(tmp_path, digits) -> Path:
    """Tiny ImageNet's download as it unpacks, in miniature: train/<wnid>/images/ with a
    boxes file beside, val/images/ labelled by val/val_annotations.txt (one image not
    listed), test/images/ unlabelled, wnids.txt and words.txt at the top."""
    root = tmp_path / "tiny-imagenet-200"
    pixels, _ = digits
    wnids = ["n01443537", "n01629819", "n01641577"]
    for c, wnid in enumerate(wnids):
        for i in range(4):
            save(root / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", colour(pixels[4 * c + i]), "JPEG")
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text(f"{wnid}_0.JPEG\t0\t0\t27\t27\n")
    val_labels = ["n01629819", "n01443537", "n01641577", "n01443537", "n01641577", "n01629819"]
    for i in range(len(val_labels) + 1):
        save(root / "val" / "images" / f"val_{i}.JPEG", colour(pixels[20 + i]), "JPEG")
    (root / "val" / "val_annotations.txt").write_text(
        "".join(f"val_{i}.JPEG\t{wnid}\t1\t2\t20\t25\n" for i, wnid in enumerate(val_labels)))
    for i in range(3):
        save(root / "test" / "images" / f"test_{i}.JPEG", colour(pixels[40 + i]), "JPEG")
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (root / "words.txt").write_text("n01443537\tgoldfish\nn01629819\tEuropean fire salamander\n")
    return root


# ------------------------------------------------------------------ layouts


def test_tiny_imagenet_as_it_unpacks(tiny_imagenet):
    """The Tiny ImageNet layout ("imagenet 200"): val/ labelled by its annotations file, test/images/ unlabelled."""
    dataset = load_dataset(tiny_imagenet, image_size=32)
    assert dataset.classes == ["n01443537", "n01629819", "n01641577"]
    assert dataset.image_shape == (32, 32, 3)
    assert len(dataset.val_rows) == 6 and dataset.x_train.files[dataset.val_rows[0]] == "val/images/val_0.JPEG"
    val_labels = [dataset.classes[dataset.y_train[row]] for row in dataset.val_rows]
    assert val_labels == ["n01629819", "n01443537", "n01641577", "n01443537", "n01641577", "n01629819"]
    assert np.bincount(np.delete(dataset.y_train, dataset.val_rows)).tolist() == [4, 4, 4]
    assert dataset.test_ids == ["images/test_0.JPEG", "images/test_1.JPEG", "images/test_2.JPEG"]
    assert dataset.test_labels is None
    skipped = dict(dataset.skipped)
    assert skipped.pop("val/images/val_6.JPEG") == "not listed in val/val_annotations.txt"
    assert skipped.pop("wnids.txt") == skipped.pop("words.txt") == "outside the class folders"
    assert set(skipped) == {f"train/{w}/{w}_boxes.txt" for w in dataset.classes}
    assert set(skipped.values()) == {"not an image"}


def test_tiny_imagenet_trains_and_votes_at_32x32(kcnn, tiny_imagenet, tmp_path):
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "data", tiny_imagenet, "--image-size", 32)
    assert result.exit_code == 0 and "test: unlabelled" in result.output, result.output
    result = kcnn("-w", workspace, "train", "--data", tiny_imagenet, "--image-size", 32, "--model", "alexnet",
                  "--epochs", 1, "--batch-size", 8, "--keep-above", 0)
    assert result.exit_code == 0, result.output
    result = kcnn("-w", workspace, "vote")
    assert result.exit_code == 0, result.output
    vote = pd.read_csv(workspace / "submissions" / "ensemble" / "majority_vote.csv", dtype=str)
    assert list(vote["file"]) == ["images/test_0.JPEG", "images/test_1.JPEG", "images/test_2.JPEG"]
    # one member: the vote is its own predictions, written as the class folder names
    (run,) = Workspace(workspace).runs()
    assert run.test_proba().shape == (3, 3) and run.val_proba().shape == (6, 3)
    assert vote["label"].tolist() == [run.classes[i] for i in run.test_proba().argmax(axis=1)]


def test_flat_folder(flat, digits):
    dataset = load_dataset(flat)
    assert dataset.kind == "image_folder" and dataset.source == str(flat)
    assert dataset.classes == ["seven", "three"]
    assert dataset.image_shape == (28, 28, 1)
    assert isinstance(dataset.x_train, ImageFiles) and dataset.x_train.shape == (9, 28, 28, 1)
    assert list(dataset.x_train.files) == sorted(dataset.x_train.files)
    assert dataset.x_train.files[0] == "seven/seven.0.png"
    assert np.bincount(dataset.y_train).tolist() == [4, 5] and dataset.y_train.dtype == np.int64
    assert isinstance(dataset.x_test, ImageFiles) and dataset.x_test.shape == (0, 28, 28, 1)
    assert dataset.test_ids == [] and np.asarray(dataset.x_test).shape == (0, 28, 28, 1)
    assert dataset.submission_header == ("file", "label")
    assert dataset.val_rows is None and dataset.test_labels is None
    skipped = dict(dataset.skipped)
    assert set(skipped) == {"seven/broken.jpg", "three/notes.txt"}, dataset.skipped
    assert skipped["three/notes.txt"] == "not an image"
    assert skipped["seven/broken.jpg"].startswith("cannot be decoded: ")
    # lossless PNG at its own size: the pixels come back exactly
    first = dataset.x_train[dataset.x_train.files.index("three/three.0.png")]
    assert first.dtype == np.float32 and np.array_equal(first[..., 0], digits[0][0] / np.float32(255))


def test_split_layout_with_val_and_labelled_test(split_tree):
    dataset = load_dataset(split_tree)
    files = dataset.x_train.files
    assert files[:7] == tuple(sorted(files[:7])) and all(f.startswith("train/") for f in files[:7])
    assert all(f.startswith("val/") for f in files[7:]) and len(files) == 10
    assert dataset.val_rows.tolist() == [7, 8, 9] and dataset.val_rows.dtype == np.int64
    assert [dataset.classes[i] for i in dataset.y_train] == ["a"] * 4 + ["b"] * 3 + ["a", "a", "b"]
    assert dataset.test_ids == ["a/a.0.png", "b/b.0.png", "b/b.1.png"]
    assert dataset.test_labels == ["a", "b", "b"]
    assert dataset.x_test.files[0] == "test/a/a.0.png" and dataset.skipped == ()


def test_unlabelled_test_validation_name_and_stray_files(tmp_path, digits):
    root = tmp_path / "kaggle"
    class_folder(root / "train", {"cat": 2, "dog": 2}, digits)
    class_folder(root / "validation", {"dog": 1}, digits, start=5)
    for i in (12, 3, 100):
        save(root / "test" / f"{i}.png", digits[0][i % 60])
    (root / "notes.txt").write_text("about this competition\n")
    (root / "extra").mkdir()
    dataset = load_dataset(root)
    assert dataset.test_ids == ["100.png", "12.png", "3.png"] and dataset.test_labels is None
    assert dataset.submission_header == ("file", "label")
    assert dataset.val_rows.tolist() == [4] and dataset.x_train.files[4] == "validation/dog/dog.0.png"
    assert dict(dataset.skipped) == {"notes.txt": "outside the class folders",
                                     "extra/": "folder beside train/ that is not val/ or test/"}


def test_sample_submission_beside_train_sets_test_ids_order_and_header(tmp_path, digits):
    """Plant Seedlings: class folders, a flat test/ and a sample (file,species) whose
    ids, order and header the submission copies; test images it does not list are skipped."""
    root = tmp_path / "seedlings"
    class_folder(root / "train", {"cat": 2, "dog": 2}, digits)
    for i in (12, 3, 100):
        save(root / "test" / f"{i}.png", digits[0][i % 60])
    (root / "sample_submission.csv").write_text("file,species\n3.png,cat\n12.png,cat\n")
    dataset = load_dataset(root)
    assert dataset.test_ids == ["3.png", "12.png"]
    assert dataset.x_test.files == ("test/3.png", "test/12.png")
    assert dataset.submission_header == ("file", "species") and dataset.submission_kind == "label"
    assert dict(dataset.skipped) == {"test/100.png": "not in sample_submission.csv"}
    (root / "sample_submission.csv").write_text("file,species\n3.png,cat\n7.png,cat\n")
    with pytest.raises(InputError, match=r"sample_submission.csv line 3.*'7.png' matches no image in .*test"):
        load_dataset(root)


def test_grey_and_colour_channels_and_formats(tmp_path, digits):
    pixels = digits[0]
    grey = tmp_path / "grey"
    for i, fmt in enumerate(("PNG", "JPEG", "BMP", "GIF")):
        save(grey / "a" / f"{i}.{fmt.lower()}", pixels[i], fmt)
        save(grey / "b" / f"{i}.{fmt.lower()}", pixels[10 + i], fmt)
    save(grey / "a" / "palette.bmp", colour(pixels[5]), "BMP", mode="P")
    save(grey / "b" / "picture.ppm", pixels[6], "PPM")
    dataset = load_dataset(grey)
    assert dataset.image_shape == (28, 28, 1)
    skipped = dict(dataset.skipped)
    assert set(skipped) == {"a/palette.bmp", "b/picture.ppm"}
    assert "BMP" in skipped["a/palette.bmp"] and "PPM images are not read" in skipped["b/picture.ppm"]
    images = np.asarray(dataset.x_train)
    assert images.shape == (8, 28, 28, 1)
    bmp = dataset.x_train.files.index("a/2.bmp")
    assert np.array_equal(images[bmp, ..., 0], pixels[2] / np.float32(255))  # grey BMP decodes as grey
    # one colour image anywhere makes every image 3 channels
    save(grey / "b" / "colour.png", colour(pixels[7]))
    dataset = load_dataset(grey)
    assert dataset.image_shape == (28, 28, 3)
    image = dataset.x_train[dataset.x_train.files.index("b/colour.png")]
    assert np.array_equal(image, colour(pixels[7]) / np.float32(255))


def test_tiff_and_webp_are_decoded_by_pillow(tmp_path, digits):
    """TensorFlow has no TIFF or WebP decoder: a folder holding them is read through
    Pillow, with the same pixels (PNG beside them stays exact)."""
    pixels = digits[0]
    root = tmp_path / "formats"
    save(root / "a" / "0.tif", pixels[0], "TIFF")
    save(root / "a" / "1.png", pixels[1])
    save(root / "b" / "2.tiff", colour(pixels[2]), "TIFF")
    (root / "b").mkdir(exist_ok=True)
    Image.fromarray(pixels[3]).save(root / "b" / "3.webp", "WEBP", lossless=True)
    dataset = load_dataset(root)
    assert dataset.skipped == () and dataset.x_train.pillow and dataset.image_shape == (28, 28, 3)
    images = np.asarray(dataset.x_train)
    assert dataset.x_train.files == ("a/0.tif", "a/1.png", "b/2.tiff", "b/3.webp")
    expected = [np.stack([p] * 3, -1) for p in (pixels[0], pixels[1])] + [colour(pixels[2]), np.stack([pixels[3]] * 3, -1)]
    for image, want in zip(images, expected):
        assert np.array_equal(image, want / np.float32(255))


def test_mixed_sizes_need_image_size(tmp_path, digits):
    import tensorflow as tf

    root = class_folder(tmp_path / "sizes", {"a": 2, "b": 2}, digits)
    wide = np.pad(digits[0][30], ((0, 0), (0, 12)))  # 28x40
    save(root / "b" / "b.9.png", wide)
    with pytest.raises(InputError) as error:
        load_dataset(root)
    message = str(error.value)
    assert "a/a.0.png is 28x28" in message and "b/b.9.png is 28x40" in message and "--image-size" in message
    dataset = load_dataset(root, image_size=(20, 24))
    assert dataset.x_train.shape == (5, 20, 24, 1) and dataset.load_options["image_size"] == [20, 24]
    # every image resized (bilinear) from its own pixels, on the 0..1 scale
    for row, name in enumerate(dataset.x_train.files):
        pixels = np.asarray(Image.open(root / name))[..., None]
        expected = tf.image.resize(pixels, (20, 24)).numpy() / 255
        assert np.allclose(dataset.x_train[row], expected, atol=1e-6), name
    assert dataset.x_train.files[4] == "b/b.9.png"
    assert load_dataset(root, image_size=16).image_shape == (16, 16, 1)
    assert load_dataset(root, image_size="16x12").image_shape == (16, 12, 1)


def test_parse_image_size():
    assert parse_image_size("64") == (64, 64)
    assert parse_image_size("64x48") == (64, 48)
    assert parse_image_size(" 32 X 16 ") == (32, 16)
    for bad in ("0", "64x0", "x", "64x48x3", "-4", "banana", ""):
        with pytest.raises(InputError, match="image size"):
            parse_image_size(bad)


@pytest.mark.parametrize("size", [0, (0, 5), (5, -1), (True, 4), (2.5, 3), (1, 2, 3), "none"])
def test_bad_image_size_in_python(flat, size):
    with pytest.raises(InputError, match="image size"):
        load_dataset(flat, image_size=size)


# ------------------------------------------------------------------ ImageFiles


def test_image_files_behave_like_an_array(flat):
    x = load_dataset(flat).x_train
    assert len(x) == 9 and x.ndim == 4 and x.dtype == np.float32 and x.shape == (9, 28, 28, 1)
    whole = np.asarray(x)
    assert whole.shape == (9, 28, 28, 1) and whole.dtype == np.float32
    assert np.array_equal(np.asarray(x, dtype=np.float64), whole.astype(np.float64))
    assert np.array_equal(x[3], whole[3]) and np.array_equal(x[-1], whole[8])
    assert np.array_equal(x[np.int64(2)], whole[2])
    part = x[2:5]
    assert isinstance(part, ImageFiles) and part.files == x.files[2:5] and part.digests == x.digests[2:5]
    assert (part.root, part.size, part.channels) == (x.root, x.size, x.channels)
    picked = x[np.array([4, 0, 4])]
    assert picked.files == (x.files[4], x.files[0], x.files[4])
    assert np.array_equal(np.asarray(picked), whole[[4, 0, 4]])
    mask = np.arange(9) % 2 == 0
    assert x[mask].files == x.files[::2] and len(x[[]]) == 0 and x[::-1].files == x.files[::-1]
    assert np.array_equal(np.stack(list(x)), whole)
    blocks = list(x.blocks(4))
    assert [len(b) for b in blocks] == [4, 4, 1] and np.array_equal(np.concatenate(blocks), whole)
    for bad in (9, -10, np.array([0, 9])):
        with pytest.raises(IndexError):
            x[bad]
    assert "9 files" in repr(x)


@pytest.mark.parametrize("cache_bytes", [1 << 30, 0], ids=["cached", "streamed"])
def test_tf_dataset_batches_shuffles_and_matches_indexing(flat, monkeypatch, cache_bytes):
    """Small folders are decoded once and cached; big ones decode every epoch: same images, same contract."""
    monkeypatch.setattr("kaggle_cnn.data.loaders.images.MEMORY_CACHE_BYTES", cache_bytes)
    dataset = load_dataset(flat)
    x, y = dataset.x_train, dataset.y_train
    whole = np.asarray(x)
    batches = list(x.tf_dataset(4))
    assert [tuple(b.shape) for b in batches] == [(4, 28, 28, 1), (4, 28, 28, 1), (1, 28, 28, 1)]
    plain = np.concatenate([b.numpy() for b in batches])
    for i in range(len(x)):  # x[i] is bit for bit what training and prediction see
        assert np.array_equal(x[i], plain[i])

    def order(seed):
        images, labels = zip(*((a.numpy(), b.numpy()) for a, b in x.tf_dataset(4, labels=y, shuffle_seed=seed)))
        images, labels = np.concatenate(images), np.concatenate(labels)
        rows = [next(r for r in range(len(x)) if np.array_equal(whole[r], image)) for image in images]
        assert labels.tolist() == y[rows].tolist()  # labels travel with their images
        return rows

    first = order(7)
    assert sorted(first) == list(range(9)) and first != list(range(9)) and order(7) == first
    epochs = x.tf_dataset(9, shuffle_seed=7)
    one, two = (next(iter(epochs)).numpy() for _ in range(2))
    assert not np.array_equal(one, two)  # a new order each epoch


def test_pickles(flat):
    dataset = load_dataset(flat)
    x = dataset.x_train
    again = pickle.loads(pickle.dumps(x))
    assert again == x and again.source_sizes == x.source_sizes
    assert np.array_equal(again[1], x[1])
    assert pickle.loads(pickle.dumps(dataset)).fingerprint() == dataset.fingerprint()


def test_fingerprint(flat, tmp_path, digits):
    first = load_dataset(flat).fingerprint()
    assert load_dataset(flat).fingerprint() == first
    moved = shutil.copytree(flat, tmp_path / "elsewhere")
    assert load_dataset(moved).fingerprint() == first  # the place does not matter, the contents do
    assert load_dataset(flat, image_size=(14, 14)).fingerprint() != first
    save(flat / "three" / "three.2.png", digits[0][50])
    assert load_dataset(flat).fingerprint() != first


def test_reload_round_trip(split_tree):
    dataset = load_dataset(split_tree, image_size=(14, 21))
    options = json.loads(json.dumps(dataset.load_options))  # as run.json stores them
    path = options.pop("path")
    again = load_dataset(path, **options)
    assert again.fingerprint() == dataset.fingerprint() and again.image_shape == (14, 21, 1)
    assert again.load_options == dataset.load_options
    assert "image_size" not in load_dataset(split_tree).load_options


# ------------------------------------------------------------------ bad input


def _files_only(root, digits):
    save(root / "a.png", digits[0][0])


def _one_class(root, digits):
    class_folder(root, {"cat": 3}, digits)


def _unreadable_class(root, digits):
    class_folder(root, {"cat": 3}, digits)
    (root / "dog").mkdir()
    (root / "dog" / "a.jpg").write_text("text")
    (root / "dog" / "b.png").write_bytes(b"")


def _empty_class(root, digits):
    class_folder(root, {"cat": 3}, digits)
    (root / "dog").mkdir()


def _unknown_val_class(root, digits):
    class_folder(root / "train", {"cat": 2, "dog": 2}, digits)
    class_folder(root / "val", {"cat": 1, "cow": 1}, digits)


def _unknown_test_class(root, digits):
    class_folder(root / "train", {"cat": 2, "dog": 2}, digits)
    class_folder(root / "test", {"bird": 1}, digits)


def _train_without_classes(root, digits):
    save(root / "train" / "cat.1.png", digits[0][0])


def _both_val_names(root, digits):
    class_folder(root / "train", {"cat": 2, "dog": 2}, digits)
    class_folder(root / "val", {"cat": 1}, digits)
    class_folder(root / "validation", {"cat": 1}, digits)


def _mixed_sizes(root, digits):
    class_folder(root, {"cat": 2, "dog": 1}, digits)
    save(root / "dog" / "wide.png", np.pad(digits[0][9], ((0, 0), (0, 4))))


def _tiny_imagenet_val(root, digits, annotations: str):
    class_folder(root / "train", {"n01": 2, "n02": 2}, digits)
    save(root / "val" / "images" / "val_0.JPEG", digits[0][7], "JPEG")
    (root / "val" / "val_annotations.txt").write_text(annotations)


BAD_FOLDERS = {
    "val annotation of an unknown class": (
        lambda root, digits: _tiny_imagenet_val(root, digits, "val_0.JPEG\tn01\t0\t0\t9\t9\nval_1.JPEG\tn99\n"),
        [], ["val/val_annotations.txt, line 2", "class 'n99' is not in train/"]),
    "val annotation without a class": (
        lambda root, digits: _tiny_imagenet_val(root, digits, "val_0.JPEG\n"),
        [], ["val/val_annotations.txt, line 1", "expected FILE<tab>CLASS"]),
    "only image files": (_files_only, [], ["no class sub-folders", "<class>/<images>"]),
    "empty": (lambda root, digits: None, [], ["no class sub-folders", "train/<class>"]),
    "one class": (_one_class, [], ["only one class folder ('cat')", "at least two"]),
    "class without readable image": (_unreadable_class, [], ["/dog: no readable image (2 files skipped)"]),
    "empty class": (_empty_class, [], ["/dog: no readable image (it is empty)"]),
    "val class unknown to train": (_unknown_val_class, [], ["val/cow", "'cow' is not in train/", "cat, dog"]),
    "test class unknown to train": (_unknown_test_class, [], ["test/bird", "not in train/"]),
    "train without class folders": (_train_without_classes, [], ["/train: no class sub-folders"]),
    "val and validation": (_both_val_names, [], ["both val/ and validation/"]),
    "mixed sizes": (_mixed_sizes, [], ["images differ in size", "dog/wide.png is 28x32", "--image-size"]),
    "image size zero": (_mixed_sizes, ["--image-size", "0"], ["image size '0'"]),
    "image size not a size": (_mixed_sizes, ["--image-size", "12x"], ["image size '12x'", "HxW"]),
    "column options": (_mixed_sizes, ["--label-column", "x"], ["--label-column", "image folder"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FOLDERS))
def test_bad_folders_are_refused(kcnn, assert_refused, case, tmp_path, digits):
    build, options, fragments = BAD_FOLDERS[case]
    root = tmp_path / "data"
    root.mkdir()
    build(root, digits)
    before = listing(root)
    workspace = tmp_path / "ws"
    named = [] if "--image-size" in options else [str(root)]  # a bad option value is named, not the folder
    assert_refused(kcnn("-w", workspace, "data", root, *options), *named, *fragments)
    assert_refused(kcnn("-w", workspace, "data", "preview", root, *options, "--augment", "hflip"), *fragments)
    assert listing(root) == before and not workspace.exists()


def test_image_size_only_for_image_folders(kcnn, assert_refused, tmp_path, competition):
    assert_refused(kcnn("-w", tmp_path / "ws", "data", competition, "--image-size", "8"),
                   "--image-size applies to image files")
    assert_refused(kcnn("-w", tmp_path / "ws", "data", "--image-size", "8"), "demo", "--image-size")
    assert not (tmp_path / "ws").exists()


# ------------------------------------------------------------------ kcnn data split


@pytest.fixture()
def to_split(tmp_path, digits) -> Path:
    root = class_folder(tmp_path / "src", {"cat": 10, "dog": 5}, digits)
    (root / "dog" / "readme.txt").write_text("hello")
    return root


def _parts(dst: Path) -> dict[str, dict[str, list[str]]]:
    return {part.name: {c.name: sorted(f.name for f in c.iterdir()) for c in sorted(part.iterdir())}
            for part in sorted(dst.iterdir())}


def test_split_command(kcnn, to_split, tmp_path):
    dst = tmp_path / "out" / "dst"
    result = kcnn("data", "split", to_split, dst, "--ratio", "0.6,0.2,0.2", "--seed", "3")
    assert result.exit_code == 0, result.output
    parts = _parts(dst)
    assert {p: {c: len(f) for c, f in classes.items()} for p, classes in parts.items()} == {
        "test": {"cat": 2, "dog": 1}, "train": {"cat": 6, "dog": 3}, "val": {"cat": 2, "dog": 1}}
    copied = sorted(f for classes in parts.values() for files in classes.values() for f in files)
    assert copied == sorted(p.name for p in to_split.rglob("*.png"))  # each readable file exactly once
    sample = next((dst / "train" / "cat").iterdir())
    assert sample.read_bytes() == (to_split / "cat" / sample.name).read_bytes()
    lines = result.output.splitlines()
    assert any(line.split() == ["cat", "6", "2", "2"] for line in lines), result.output
    assert any(line.split() == ["total", "9", "3", "3"] for line in lines), result.output
    assert "dog/readme.txt: not an image" in result.output
    assert [p.name for p in dst.parent.iterdir()] == ["dst"]  # no temporary folder left behind
    # the same seed gives the same split; the result loads as a split image folder
    again = split_folder(to_split, tmp_path / "again", (0.6, 0.2, 0.2), seed=3)
    assert _parts(tmp_path / "again") == parts and again.counts["train"] == {"cat": 6, "dog": 3}
    dataset = load_dataset(dst)
    assert len(dataset.val_rows) == 3 and dataset.test_labels.count("cat") == 2


def test_split_in_two(to_split, tmp_path):
    result = split_folder(to_split, tmp_path / "two", (0.8, 0.2))
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["train", "val"]
    assert result.counts == {"train": {"cat": 8, "dog": 4}, "val": {"cat": 2, "dog": 1}}
    (tmp_path / "empty").mkdir()  # an empty destination is fine
    split_folder(to_split, tmp_path / "empty", [0.5, 0.5])
    assert len(list((tmp_path / "empty" / "val" / "cat").iterdir())) == 5


@pytest.mark.parametrize(
    "ratio, fragments",
    [
        ("0.8,0.1", ["--ratio 0.8,0.1: the shares must add up to 1, not 0.9"]),
        ("0.5,0.25,0.25,0", ["--ratio 0.5,0.25,0.25,0: give 2 (train,val) or 3", "not 4"]),
        ("1", ["--ratio 1: give 2 (train,val) or 3"]),
        ("0.9,0.1,0", ["--ratio 0.9,0.1,0: the test share is 0", "above 0"]),
        ("1,0,0", ["--ratio 1,0,0: the val share is 0", "every part needs a share above 0"]),
        ("1.2,-0.1,-0.1", ["--ratio 1.2,-0.1,-0.1: the val share is -0.1", "above 0"]),
        ("0,1", ["--ratio 0,1: the train share is 0"]),
        ("nan,0.5,0.5", ["the train share is nan"]),
        ("1.5,0.5", ["--ratio 1.5,0.5: the shares must add up to 1, not 2"]),
        ("a,b", ["--ratio 'a,b'"]),
        ("0.9,0.05,0.05", ["/dog: 5 readable images", "every class needs a file in every part"]),
        ("0.7,0.25,0.05", ["/dog", "every class needs a file in every part"]),
    ],
)
def test_split_refuses_bad_ratios(kcnn, assert_refused, ratio, fragments, to_split, tmp_path):
    dst = tmp_path / "dst"
    assert_refused(kcnn("data", "split", to_split, dst, "--ratio", ratio), *fragments)
    assert not dst.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_split_refuses_a_part_without_a_class(kcnn, assert_refused, tmp_path, digits):
    src = class_folder(tmp_path / "src", {"cat": 20, "dog": 2}, digits)  # sklearn gives val/ no dog here
    assert_refused(kcnn("data", "split", src, tmp_path / "dst", "--ratio", "0.8,0.2"),
                   "/dog: 2 readable images leave val/ without one", "every class needs a file in every part")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_split_refuses_a_used_destination_and_a_split_source(kcnn, assert_refused, to_split, tmp_path):
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "keep.txt").write_text("mine")
    assert_refused(kcnn("data", "split", to_split, dst), str(dst), "not empty")
    assert listing(dst) == ["keep.txt"]
    split_folder(to_split, tmp_path / "done", (0.6, 0.2, 0.2))
    assert_refused(kcnn("data", "split", tmp_path / "done", tmp_path / "x"), "already split")
    assert_refused(kcnn("data", "split", to_split, to_split / "inside"), "inside the source")
    assert_refused(kcnn("data", "split", tmp_path / "nowhere", tmp_path / "y"), "nowhere")


def test_split_interrupted_leaves_nothing(to_split, tmp_path, monkeypatch):
    copies, real = [], shutil.copy2

    def copy_then_fail(src, dst, *args, **kwargs):
        if len(copies) == 4:
            raise KeyboardInterrupt  # as Ctrl-C would, half way through
        copies.append(dst)
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(shutil, "copy2", copy_then_fail)
    with pytest.raises(KeyboardInterrupt):
        split_folder(to_split, tmp_path / "dst", (0.6, 0.2, 0.2))
    assert len(copies) == 4 and sorted(os.listdir(tmp_path)) == ["src"]


# ------------------------------------------------------------------ kcnn data PATH


def test_describe_image_folder(kcnn, flat, split_tree, tmp_path):
    result = kcnn("-w", tmp_path / "ws", "data", flat)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "(image_folder)" in out and "class folders" in out and "28x28x1" in out and "grey" in out
    assert "train 9   val 0   test 0" in out and "all 28x28 (HxW)" in out
    assert "skipped:     2 files" in out and "three/notes.txt: not an image" in out
    assert "seven/broken.jpg: cannot be decoded" in out and "fingerprint:" in out
    result = kcnn("data", "describe", split_tree, "--image-size", "14")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "val/ fixes the validation rows" in out and "labelled, test/<class>/" in out
    assert "train 7   val 3   test 3" in out and "14x14x1" in out and "(train, val, test)" in out
    assert any(line.split() == ["a", "4", "2", "1"] for line in out.splitlines()), out
    assert "skipped:     0 files" in out
    assert not (tmp_path / "ws").exists()


def test_preview_an_image_folder(kcnn, flat, tmp_path):
    out = tmp_path / "preview.png"
    result = kcnn("-w", tmp_path / "ws", "data", "preview", flat, "--augment", "hflip", "--n", 2, "--copies", 1,
                  "--out", out)
    assert result.exit_code == 0, result.output
    picture = Image.open(out)
    assert picture.format == "PNG"
    assert len(np.unique(np.asarray(picture.convert("L")))) > 2  # digits drawn, not a blank page


# ------------------------------------------------------------------ real photos


def test_real_cats_and_dogs(kcnn, catsdogs, tmp_path):
    with pytest.raises(InputError, match="images differ in size"):
        load_dataset(catsdogs)
    dataset = load_dataset(catsdogs, image_size=(64, 64))
    assert dataset.classes == ["cat", "dog"] and len(dataset.y_train) == 720
    assert dataset.image_shape == (64, 64, 3) and dataset.skipped == ()
    # a flat folder holds 10% of each class back as its labelled test set
    assert np.bincount(dataset.y_train).tolist() == [360, 360]
    assert len(dataset.test_ids) == 80 and sorted(set(dataset.test_labels)) == ["cat", "dog"]
    assert all(i.split("/")[0] == label for i, label in zip(dataset.test_ids, dataset.test_labels))
    assert not set(dataset.test_ids) & set(dataset.x_train.files)
    images, labels = next(iter(dataset.x_train.tf_dataset(8, labels=dataset.y_train)))
    assert tuple(images.shape) == (8, 64, 64, 3)
    assert np.array_equal(images.numpy(), np.asarray(dataset.x_train[:8])) and labels.numpy().tolist() == \
        dataset.y_train[:8].tolist()
    result = kcnn("-w", tmp_path / "ws", "data", catsdogs, "--image-size", "64")
    assert result.exit_code == 0, result.output
    assert "train 720" in result.output and "test 80" in result.output and "most common" in result.output
    assert "held out" in result.output
    # a few real JPEGs, one of them cut short: skipped and reported
    small = tmp_path / "small"
    for name in ("cat", "dog"):
        (small / name).mkdir(parents=True)
        for path in sorted((catsdogs / name).iterdir())[:3]:
            shutil.copy(path, small / name / path.name)
    victim = min((small / "dog").iterdir())
    victim.write_bytes(victim.read_bytes()[:2000])
    dataset = load_dataset(small, image_size=32)
    assert len(dataset.y_train) == 5 and dataset.skipped[0][0] == f"dog/{victim.name}"


def test_flat_folder_holds_out_a_labelled_test_set_that_kcnn_score_reads(kcnn, tmp_path, digits):
    """Ten or more images in every class: 10% of each is the test set, fixed, and
    `kcnn score --answers FOLDER` scores a submission against its labels."""
    root = tmp_path / "digits"
    (images, labels) = digits
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / ("low" if label < 5 else "high")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:03d}.png")
    first, again = load_dataset(root), load_dataset(root)
    assert first.test_ids == again.test_ids and sorted(set(first.test_labels)) == ["high", "low"]
    assert len(first.test_ids) == math.ceil(0.1 * 60) and len(first.y_train) == 60 - len(first.test_ids)
    for name in ("low", "high"):  # stratified: each class gives its share
        share = sum((labels < 5) == (name == "low")) / 60
        assert abs(first.test_labels.count(name) - share * len(first.test_ids)) < 1
    assert first.fingerprint() == again.fingerprint()
    truth = dict(zip(first.test_ids, first.test_labels))
    submission = tmp_path / "guess.csv"
    rows = [f"{i},{truth[i] if n % 2 == 0 else 'wrong'}" for n, i in enumerate(first.test_ids)]
    submission.write_text("file,label\n" + "\n".join(rows) + "\n")
    result = kcnn("score", submission, "--answers", root)
    assert result.exit_code == 0, result.output
    expected = sum(n % 2 == 0 for n in range(len(rows))) / len(rows)
    assert f"accuracy {expected:.4f}" in result.output
