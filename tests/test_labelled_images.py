"""Competitions that ship a labels CSV naming image files: miniatures of Aerial Cactus,
Histopathologic Cancer Detection, APTOS 2019, Dog Breed Identification, Plant
Pathology 2020 and Plant Seedlings, built from real images (demo digits written as
image files; cats/dogs photos when the real datasets are present), each taken
through `kcnn data`, `train`, `vote` and `check`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kaggle_cnn.data import demo_path, load_dataset
from kaggle_cnn.errors import InputError

TRAIN, TEST = 24, 8  # images per miniature: enough for a split, a fold and a vote


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_csv(demo_path() / "train.csv.gz", nrows=TRAIN + TEST + 4)
    return frame.drop(columns="label").to_numpy(dtype=np.uint8).reshape(-1, 28, 28), frame["label"].to_numpy()


def save(path: Path, pixels: np.ndarray, fmt: str = "PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, fmt)


def csv(path: Path, frame: dict) -> None:
    pd.DataFrame(frame).to_csv(path, index=False)


def two_classes(labels) -> list[int]:
    return [int(v) % 2 for v in labels]


# ---------------------------------------------------------------- the miniatures
# Each returns (root, the sample's ids in order, or None when the test folder gives them).


def aerial_cactus(root: Path, digits):
    """train.csv (id,has_cactus), train/<id> JPEGs with the extension in the id, test/,
    a probability sample in its own order; a stray training image with no row, a test
    image the sample does not list."""
    pixels, labels = digits
    ids = [f"{i:04x}c8e.jpg" for i in range(TRAIN)]
    for i, name in enumerate(ids):
        save(root / "train" / name, pixels[i], "JPEG")
    save(root / "train" / "stray.jpg", pixels[-1], "JPEG")
    csv(root / "train.csv", {"id": ids, "has_cactus": two_classes(labels[:TRAIN])})
    test = [f"t{i:03d}.jpg" for i in range(TEST)]
    for i, name in enumerate(test):
        save(root / "test" / name, pixels[TRAIN + i], "JPEG")
    save(root / "test" / "unlisted.jpg", pixels[-2], "JPEG")
    order = test[::-1]
    csv(root / "sample_submission.csv", {"id": order, "has_cactus": 0.5})
    return root, order


def histopathologic(root: Path, digits):
    """train_labels.csv (id,label) with ids without the extension, train/<id>.tif, a
    test/ of .tif and no sample: the test ids are the test files' names without .tif."""
    pixels, labels = digits
    ids = [f"f{i:02d}a7" for i in range(TRAIN)]
    for i, name in enumerate(ids):
        save(root / "train" / f"{name}.tif", pixels[i], "TIFF")
    csv(root / "train_labels.csv", {"id": ids, "label": two_classes(labels[:TRAIN])})
    for i in range(TEST):
        save(root / "test" / f"z{i:02d}.tif", pixels[TRAIN + i], "TIFF")
    return root, None


def aptos(root: Path, digits):
    """train.csv (id_code,diagnosis) graded 0..2, train_images/<id_code>.png, test_images/,
    a label sample."""
    pixels, labels = digits
    ids = [f"{i:03d}f3ab" for i in range(TRAIN)]
    for i, name in enumerate(ids):
        save(root / "train_images" / f"{name}.png", pixels[i])
    csv(root / "train.csv", {"id_code": ids, "diagnosis": [int(v) % 3 for v in labels[:TRAIN]]})
    test = [f"e{i:03d}" for i in range(TEST)]
    for i, name in enumerate(test):
        save(root / "test_images" / f"{name}.png", pixels[TRAIN + i])
    csv(root / "sample_submission.csv", {"id_code": test, "diagnosis": 0})
    return root, test


def dog_breed(root: Path, digits):
    """labels.csv (id,breed), train/<id>.jpg, test/, a sample with one probability
    column per breed."""
    pixels, labels = digits
    breeds = np.array(["beagle", "collie", "pug"])[[int(v) % 3 for v in labels[:TRAIN]]]
    ids = [f"{i:03d}d0g" for i in range(TRAIN)]
    for i, name in enumerate(ids):
        save(root / "train" / f"{name}.jpg", pixels[i], "JPEG")
    csv(root / "labels.csv", {"id": ids, "breed": breeds})
    test = [f"{i:03d}t" for i in range(TEST)]
    for i, name in enumerate(test):
        save(root / "test" / f"{name}.jpg", pixels[TRAIN + i], "JPEG")
    csv(root / "sample_submission.csv", {"id": test, "beagle": 1 / 3, "collie": 1 / 3, "pug": 1 / 3})
    return root, test


ONE_HOT = ["healthy", "multiple_diseases", "rust", "scab"]


def plant_pathology(root: Path, digits):
    """train.csv with one-hot label columns, images/ holding Train_i.jpg and Test_i.jpg,
    test.csv, and a sample in the one-hot layout (probabilities)."""
    pixels, labels = digits
    hot = np.eye(len(ONE_HOT), dtype=int)[[int(v) % 4 for v in labels[:TRAIN]]]
    ids = [f"Train_{i}" for i in range(TRAIN)]
    for i, name in enumerate(ids):
        save(root / "images" / f"{name}.jpg", pixels[i], "JPEG")
    csv(root / "train.csv", {"image_id": ids, **{c: hot[:, k] for k, c in enumerate(ONE_HOT)}})
    test = [f"Test_{i}" for i in range(TEST)]
    for i, name in enumerate(test):
        save(root / "images" / f"{name}.jpg", pixels[TRAIN + i], "JPEG")
    csv(root / "test.csv", {"image_id": test})
    csv(root / "sample_submission.csv", {"image_id": test, **{c: 0.25 for c in ONE_HOT}})
    return root, test


def plant_seedlings(root: Path, digits):
    """Class folders under train/, a flat test/ and a sample (file,species)."""
    pixels, labels = digits
    species = ["Charlock", "Maize"]
    for i in range(TRAIN):
        save(root / "train" / species[int(labels[i]) % 2] / f"{i:03d}.png", pixels[i])
    test = [f"{i:03x}ab.png" for i in range(TEST)]
    for i, name in enumerate(test):
        save(root / "test" / name, pixels[TRAIN + i])
    csv(root / "sample_submission.csv", {"file": test[::-1], "species": "Maize"})
    return root, test[::-1]


LAYOUTS = {"aerial_cactus": aerial_cactus, "histopathologic": histopathologic, "aptos": aptos,
           "dog_breed": dog_breed, "plant_pathology": plant_pathology, "plant_seedlings": plant_seedlings}


# ---------------------------------------------------------------- loading


def test_aerial_cactus_ids_order_header_and_what_was_left_out(tmp_path, digits):
    root, order = aerial_cactus(tmp_path / "cactus", digits)
    dataset = load_dataset(root)
    assert dataset.kind == "labelled_images" and dataset.classes == [0, 1]
    assert dataset.test_ids == order and dataset.x_test.files == tuple(f"test/{i}" for i in order)
    assert dataset.submission_header == ("id", "has_cactus") and dataset.submission_kind == "probability"
    assert dataset.y_train.tolist() == two_classes(digits[1][:TRAIN])
    assert dataset.x_train.files[0] == "train/0000c8e.jpg"
    assert dict(dataset.skipped) == {"train/stray.jpg": "no row in train.csv",
                                     "test/unlisted.jpg": "not in sample_submission.csv"}
    assert dataset.layout_notes[0] == "labels CSV train.csv (id column id, label has_cactus) naming images in train/"


def test_ids_without_extension_and_tiff_through_pillow(tmp_path, digits):
    root, _ = histopathologic(tmp_path / "histo", digits)
    dataset = load_dataset(root)
    assert dataset.submission_header == ("id", "label") and dataset.submission_kind == "label"
    assert dataset.test_ids == [f"z{i:02d}" for i in range(TEST)]  # spelled as train_labels.csv spells ids
    assert dataset.x_train.pillow and dataset.x_train.files[3] == "train/f03a7.tif"
    first = np.asarray(dataset.x_test[:1])[0, ..., 0]
    assert np.array_equal(first, digits[0][TRAIN] / np.float32(255))


def test_one_hot_labels_shared_image_folder_and_sample_layout(tmp_path, digits):
    root, test = plant_pathology(tmp_path / "plants", digits)
    save(root / "images" / "Extra_0.jpg", digits[0][-1], "JPEG")
    dataset = load_dataset(root)
    assert dataset.classes == ONE_HOT
    assert dataset.y_train.tolist() == [int(v) % 4 for v in digits[1][:TRAIN]]
    assert dataset.test_ids == test and dataset.x_test.files[0] == "images/Test_0.jpg"
    assert dataset.submission_header == ("image_id", *ONE_HOT) and dataset.submission_kind == "class_columns"
    assert dataset.skipped == (("images/Extra_0.jpg", "no row in train.csv nor in sample_submission.csv"),)


def test_named_files_and_folders_and_the_options_recorded(tmp_path, digits):
    root, test = aptos(tmp_path / "aptos", digits)
    (root / "train.csv").rename(root / "grades.csv")
    (root / "train_images").rename(root / "fundus")
    dataset = load_dataset(root, labels="grades.csv", train_images="fundus", test_images="test_images")
    assert dataset.classes == [0, 1, 2] and dataset.test_ids == test
    assert dataset.load_options["labels"] == str((root / "grades.csv").resolve())
    again = load_dataset(**{"path": root, **{k: v for k, v in dataset.load_options.items() if k != "path"}})
    assert again.fingerprint() == dataset.fingerprint()


# ---------------------------------------------------------------- bad input


def refused(root, match, **options):
    with pytest.raises(InputError, match=match):
        load_dataset(root, **options)


def test_bad_labels_csvs_and_image_folders(tmp_path, digits):
    root, order = aerial_cactus(tmp_path / "cactus", digits)
    labels = pd.read_csv(root / "train.csv")
    (root / "train" / "0003c8e.jpg").unlink()
    refused(root, r"train.csv line 5: id '0003c8e.jpg' matches no image in .*train")
    save(root / "train" / "0003c8e.jpg", digits[0][3], "JPEG")
    save(root / "train" / "0003c8e.png", digits[0][3])
    labels.assign(id=labels["id"].str.replace(".jpg", "", regex=False)).to_csv(root / "train.csv", index=False)
    refused(root, r"two files for id '0003c8e' \(0003c8e.jpg, 0003c8e.png\)")
    (root / "train" / "0003c8e.png").unlink()
    refused(root, r"train.csv: no label column 'cactus' \(columns: id, has_cactus\)", label_column="cactus")
    csv(root / "sample_submission.csv", {"id": ["nowhere.jpg", *order], "has_cactus": 0.5})
    refused(root, r"sample_submission.csv line 2, column id: id 'nowhere.jpg' matches no image in .*test")


def test_one_hot_rows_of_several_ones_are_multi_label_and_of_none_need_the_option(tmp_path, digits):
    root, _ = plant_pathology(tmp_path / "plants", digits)
    table = pd.read_csv(root / "train.csv")
    table.loc[2, ONE_HOT] = [0, 0, 1, 1]
    table.to_csv(root / "train.csv", index=False)
    dataset = load_dataset(root)
    assert dataset.task == "multi_label" and dataset.y_train.dtype == bool
    assert dataset.y_train[2].tolist() == [False, False, True, True]
    assert dataset.y_train.sum(axis=1).tolist() == [1, 1, 2] + [1] * (TRAIN - 3)
    table.loc[2, ONE_HOT] = [0, 0, 0, 0]
    table.to_csv(root / "train.csv", index=False)
    refused(root, r"train.csv line 4: none of healthy, multiple_diseases, rust, scab is 1; each row needs exactly "
                  r"one 1 \(or several, or with --multi-label any number, for multi-label\)")
    dataset = load_dataset(root, multi_label=True)
    assert dataset.task == "multi_label" and not dataset.y_train[2].any()
    assert dataset.load_options["multi_label"] is True


def test_unreadable_images_skipped_in_train_fatal_in_test(tmp_path, digits):
    root, order = aerial_cactus(tmp_path / "cactus", digits)
    (root / "train" / "0001c8e.jpg").write_bytes(b"not a picture")
    dataset = load_dataset(root)
    assert dict(dataset.skipped)["train/0001c8e.jpg"] == "not an image" and len(dataset.y_train) == TRAIN - 1
    (root / "test" / order[0]).write_bytes(b"")
    refused(root, rf"test/{order[0]}: test image named in sample_submission.csv cannot be used \(empty file\)")


# ---------------------------------------------------------------- through the command line


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_data_train_vote_check(tmp_path, digits, kcnn, layout):
    """Each layout end to end: its submission has the sample's header, id spelling and order."""
    root, sample_ids = LAYOUTS[layout](tmp_path / layout, digits)
    shown = kcnn("data", root)
    assert shown.exit_code == 0, shown.output
    assert "task:        single-label" in shown.output
    dataset = load_dataset(root)
    graded_by = {"probability": "graded by roc_auc", "class_columns": "graded by logloss"}
    if dataset.submission_kind in graded_by:  # the task and the metric this submission layout is usually graded by
        assert graded_by[dataset.submission_kind] in shown.output, shown.output
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", root, "--model", "basic_cnn", "--epochs", 1, "--val-fraction", 0.25)
    assert result.exit_code == 0, result.output
    result = kcnn("-w", workspace, "vote")
    assert result.exit_code == 0, result.output
    (voted,) = (workspace / "submissions" / "ensemble").glob("*.csv")
    submission = pd.read_csv(voted, dtype=str)
    if sample_ids is not None:
        sample = pd.read_csv(root / "sample_submission.csv", dtype=str)
        assert list(submission.columns) == list(sample.columns)
        assert submission.iloc[:, 0].tolist() == sample_ids
    else:
        assert list(submission.columns) == ["id", "label"]
        assert submission["id"].tolist() == dataset.test_ids
    checked = kcnn("check", voted, "--data", root)
    assert checked.exit_code == 0, checked.output
    assert ("id set and order" in checked.output) == (sample_ids is not None)


def test_real_photos_in_the_dog_breed_layout(tmp_path, kcnn, assert_refused, catsdogs):
    """Cats and dogs JPEGs of many sizes behind labels.csv, resized by --image-size."""
    root = tmp_path / "pets"
    photos = sorted(catsdogs.glob("*/*.jpg"))[:: len(list(catsdogs.glob("*/*.jpg"))) // 32][:32]
    ids = [f"{i:04x}" for i in range(len(photos))]
    for name, photo in zip(ids, photos):
        (root / ("train" if int(name, 16) < TRAIN else "test")).mkdir(parents=True, exist_ok=True)
        shutil.copy(photo, root / ("train" if int(name, 16) < TRAIN else "test") / f"{name}.jpg")
    csv(root / "labels.csv", {"id": ids[:TRAIN], "breed": [p.parent.name for p in photos[:TRAIN]]})
    csv(root / "sample_submission.csv", {"id": ids[TRAIN:], "cat": 0.5, "dog": 0.5})
    assert_refused(kcnn("data", root), "images differ in size", "pass --image-size")
    dataset = load_dataset(root, image_size=(32, 32))
    assert sorted(set(dataset.classes)) == ["cat", "dog"] and dataset.image_shape == (32, 32, 3)
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", root, "--image-size", 32, "--model", "basic_cnn", "--epochs", 1)
    assert result.exit_code == 0, result.output
    (member,) = (workspace / "submissions").glob("*.csv")
    submission = pd.read_csv(member, dtype=str)
    assert list(submission.columns) == ["id", "cat", "dog"] and submission["id"].tolist() == ids[TRAIN:]
    checked = kcnn("check", member, "--sample", root / "sample_submission.csv")
    assert checked.exit_code == 0 and "id set and order" in checked.output, checked.output


def test_score_reads_probability_submissions(tmp_path, kcnn):
    """A local leaderboard for probability submissions: the top class's accuracy and the metric asked for."""
    from sklearn.metrics import log_loss, roc_auc_score

    from kaggle_cnn import api

    truth = [0, 1, 1, 0, 1, 0]
    p = [0.2, 0.9, 0.4, 0.1, 0.7, 0.6]
    csv(tmp_path / "answers.csv", {"id": [f"{i}.jpg" for i in range(6)], "has_cactus": truth})
    csv(tmp_path / "sub.csv", {"id": [f"{i}.jpg" for i in range(6)], "has_cactus": p})
    result = api.score(tmp_path / "sub.csv", tmp_path / "answers.csv", "roc_auc")
    assert result["accuracy"] == pytest.approx(4 / 6) and result["score"] == pytest.approx(roc_auc_score(truth, p))
    pets = ["cat", "dog", "dog", "cat"]
    dog = np.array([0.3, 0.8, 0.45, 0.5])
    csv(tmp_path / "pets.csv", {"id": list("abcd"), "breed": pets})
    csv(tmp_path / "pets_sub.csv", {"id": list("abcd"), "dog": dog, "cat": 1 - dog})  # columns in another order
    result = api.score(tmp_path / "pets_sub.csv", tmp_path / "pets.csv", "logloss")
    assert result["accuracy"] == pytest.approx(3 / 4)  # c (dog 0.45) is wrong; d, a tie, goes to the first class: cat
    assert result["score"] == pytest.approx(log_loss([0, 1, 1, 0], np.column_stack([1 - dog, dog])))
    shown = kcnn("score", tmp_path / "sub.csv", "--answers", tmp_path / "answers.csv", "--metric", "roc_auc")
    assert shown.exit_code == 0 and f"accuracy 0.6667, roc_auc {roc_auc_score(truth, p):.4f} on 6 rows" in shown.output


def test_a_label_sample_judged_by_roc_auc_gets_probabilities(tmp_path, digits, kcnn):
    """Histopathologic's sample says `label` 0 for every id, but the grader ranks by ROC AUC:
    a workspace judged by a probability metric writes the second class's probability."""
    root, _ = histopathologic(tmp_path / "histo", digits)
    test = [f"z{i:02d}" for i in range(TEST)][::-1]
    csv(root / "sample_submission.csv", {"id": test, "label": 0})
    assert load_dataset(root).submission_kind == "label"
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", root, "--model", "basic_cnn", "--epochs", 1,
                  "--val-fraction", 0.25, "--metric", "roc_auc")
    assert result.exit_code == 0, result.output
    (member,) = (workspace / "submissions").glob("*.csv")
    submission = pd.read_csv(member)
    assert submission["id"].tolist() == test and submission["label"].between(0, 1).all()
    assert not submission["label"].isin([0, 1]).all()
    checked = kcnn("check", member, "--data", root)
    assert checked.exit_code == 0 and "probabilities" in checked.output, checked.output
