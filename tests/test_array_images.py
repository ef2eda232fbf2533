"""Images stored as arrays, built from MNIST digits: a miniature of SETI Breakthrough
Listen (a .npy per id in sub-folders named by the id's first character, channels
first, float values of any range, graded by ROC AUC) and one of the Statoil/C-CORE
Iceberg Classifier Challenge (train.json and test.json records with two radar bands
as flat lists, graded by log-loss), each taken through `kcnn data`, `train`, `vote`,
`check` and `score`; each array that cannot be an image is refused."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_cnn.data import load_dataset
from kaggle_cnn.errors import InputError

SETI_TRAIN, SETI_TEST = 160, 40
STATOIL_TRAIN, STATOIL_TEST = 120, 30
CADENCES = 6  # channels per array, as SETI's six observations


def csv(path: Path, frame: dict) -> None:
    pd.DataFrame(frame).to_csv(path, index=False)


@pytest.fixture(scope="module")
def digits(mnist) -> tuple[np.ndarray, np.ndarray]:
    with np.load(mnist) as data:
        n = SETI_TRAIN + SETI_TEST
        return data["x_train"][:n], data["y_train"][:n]


@pytest.fixture(scope="module")
def seti(tmp_path_factory, digits) -> Path:
    """train_labels.csv (id,target: digit < 5), train/<id[0]>/<id>.npy and test/ alike,
    each a 6 x 28 x 28 float16 stack of noisy copies of a digit around -2..5; a sample
    of 0.5s in an order of its own."""
    root = tmp_path_factory.mktemp("seti")
    pixels, labels = digits
    rng = np.random.default_rng(0)
    ids = [f"{'0123456789abcdef'[i % 16]}{i:05x}e7" for i in range(len(pixels))]
    for i, (name, digit) in enumerate(zip(ids, pixels)):
        stack = np.stack([digit / 255 * 3 + rng.normal(0, 0.5, digit.shape) for _ in range(CADENCES)])
        path = root / ("train" if i < SETI_TRAIN else "test") / name[0] / f"{name}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, stack.astype(np.float16))
    csv(root / "train_labels.csv", {"id": ids[:SETI_TRAIN], "target": (labels[:SETI_TRAIN] < 5).astype(int)})
    order = ids[SETI_TRAIN:][::3] + ids[SETI_TRAIN:][1::3] + ids[SETI_TRAIN:][2::3]
    csv(root / "sample_submission.csv", {"id": order, "target": 0.5})
    csv(root / "answers.csv", {"id": ids[SETI_TRAIN:], "target": (labels[SETI_TRAIN:] < 5).astype(int)})
    return root


def test_seti_arrays_are_found_by_id_and_read_channels_first(seti):
    dataset = load_dataset(seti)
    assert dataset.image_shape == (28, 28, CADENCES) and len(dataset.y_train) == SETI_TRAIN
    assert dataset.submission_kind == "probability" and dataset.submission_header == ("id", "target")
    first = dataset.x_train.files[0]
    stored = np.load(seti / first).astype(np.float32)
    low, span = dataset.x_train.array.low, dataset.x_train.array.span
    assert low < 0 and span > 3  # the training range, not 0..1 nor 0..255
    image = dataset.x_train[0]
    assert image.shape == (28, 28, CADENCES) and 0 <= image.min() and image.max() <= 1
    np.testing.assert_allclose(image[..., 2], (stored[2] - low) / span, rtol=1e-5, atol=1e-6)
    test_ids = pd.read_csv(seti / "sample_submission.csv", dtype=str)["id"].tolist()
    assert dataset.test_ids == test_ids
    assert dataset.x_test.files[0] == f"test/{test_ids[0][0]}/{test_ids[0]}.npy"


@pytest.mark.parametrize("shape, image", [
    ((6, 273, 256), (273, 256, 6)),  # SETI: channels first
    ((3, 28, 28), (28, 28, 3)),
    ((64, 64, 3), (64, 64, 3)),  # channels last
    ((8, 8, 3), (8, 8, 3)),  # both axes small: channels last
    ((9, 40, 40), (9, 40, 40)),  # a first axis above 8 is a height
    ((28, 28), (28, 28, 1)),
])
def test_the_channels_order_rule(shape, image):
    from kaggle_cnn.data.loaders.arrays import image_shape

    assert image_shape(shape) == image


def test_channels_last_whole_numbers_are_divided_by_255(tmp_path, digits):
    """uint8 arrays of H x W x 3, and ids spelled with .npy: one more image format."""
    pixels, labels = digits
    ids = [f"img{i:02d}.npy" for i in range(24)]
    for i, name in enumerate(ids):
        (tmp_path / "train").mkdir(exist_ok=True)
        np.save(tmp_path / "train" / name, np.repeat(pixels[i][..., None], 3, axis=-1))
    csv(tmp_path / "train.csv", {"id": ids, "label": labels[:24]})
    dataset = load_dataset(tmp_path)
    assert dataset.image_shape == (28, 28, 3) and (dataset.x_train.array.low, dataset.x_train.array.span) == (0, 255)
    np.testing.assert_allclose(dataset.x_train[4][..., 1], pixels[4] / 255, atol=1e-6)


def test_class_folders_of_arrays(tmp_path, digits, kcnn, assert_refused):
    """<class>/<name>.npy: class folders hold arrays as they hold image files; a bad
    array among them is refused, not skipped as an unreadable photo is."""
    pixels, labels = digits
    for i in range(40):
        path = tmp_path / "cf" / ("small" if labels[i] < 5 else "big") / f"{i:03d}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.stack([pixels[i], pixels[i].T]).astype(np.float32) / 255)
    dataset = load_dataset(tmp_path / "cf")
    assert dataset.kind == "image_folder" and dataset.image_shape == (28, 28, 2) and dataset.classes == ["big", "small"]
    assert len(dataset.y_train) + len(dataset.x_test) == 40
    (tmp_path / "cf" / "big" / "zzz.npy").write_bytes(b"no array")
    assert_refused(kcnn("data", tmp_path / "cf"), "big/zzz.npy: not a valid .npy file")


def test_describing_arrays_needs_no_tensorflow(seti, statoil):
    """`kcnn data` and `kcnn check` on array images, in a fresh interpreter: TensorFlow is never imported."""
    import subprocess
    import sys

    code = ("import sys\nfrom click.testing import CliRunner\nfrom kaggle_cnn.cli import cli\n"
            f"for path in ({str(seti)!r}, {str(statoil)!r}):\n"
            "    assert CliRunner().invoke(cli, ['data', path]).exit_code == 0\n"
            f"assert CliRunner().invoke(cli, ['check', {str(seti / 'sample_submission.csv')!r}, '--data', "
            f"{str(seti)!r}]).exit_code == 0\n"
            "print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-2000:]


def test_without_a_sample_the_test_ids_are_the_file_names(seti, tmp_path):
    """As the labels CSV spells them: the id, not test/<first character>/<id>."""
    root = Path(shutil.copytree(seti, tmp_path / "seti"))
    (root / "sample_submission.csv").unlink()
    dataset = load_dataset(root)
    names = sorted(p.stem for p in (root / "test").glob("*/*.npy"))
    assert sorted(dataset.test_ids) == names and dataset.x_test.files[0] == f"test/{dataset.test_ids[0][0]}/" \
        f"{dataset.test_ids[0]}.npy"


def test_seti_through_the_command_line(seti, tmp_path, kcnn, assert_refused):
    """data -> train -> vote -> check -> score: the vote has the sample's header, ids and order."""
    shown = kcnn("data", seti)
    assert shown.exit_code == 0, shown.output
    assert f"array images {CADENCES}x28x28 (channels first: {CADENCES} channels of 28x28)" in shown.output
    assert "the training range" in shown.output and "probability of the second class" in shown.output
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", seti, "--model", "basic_cnn", "--epochs", 1,
                  "--val-fraction", 0.25, "--metric", "roc_auc", "--batch-size", 32)
    assert result.exit_code == 0, result.output
    voted, submission = _vote_as_the_sample_asks(kcnn, workspace, seti)
    assert pd.to_numeric(submission["target"]).between(0, 1).all()
    checked = kcnn("check", voted, "--data", seti)
    assert checked.exit_code == 0 and "id set and order" in checked.output, checked.output
    scored = kcnn("score", voted, "--answers", seti / "answers.csv", "--metric", "roc_auc")
    assert scored.exit_code == 0 and "roc_auc" in scored.output, scored.output
    # a Kaggle notebook bundle's predict.py reads image files, not arrays: refused, nothing written
    assert_refused(kcnn("-w", workspace, "export-inference", voted, tmp_path / "bundle"), "trained on .npy arrays")
    assert not (tmp_path / "bundle").exists()
    preview = kcnn("-w", workspace, "data", "preview", seti, "--augment", "hflip", "--n", 2, "--copies", 1)
    assert preview.exit_code == 0 and (workspace / "reports" / "plots" / "augment-preview.png").is_file(), preview.output


def test_seti_grader_roc_auc_on_a_hand_made_example(tmp_path, kcnn):
    """AUC by hand: positives b (0.8), d (0.35); negatives a (0.1), c (0.4), e (0.35).
    Pairs positive above negative: b beats all 3; d beats a, ties e (one half), loses
    to c: (3 + 1.5) / 6 = 0.75."""
    from kaggle_cnn import api

    csv(tmp_path / "answers.csv", {"id": list("abcde"), "target": [0, 1, 0, 1, 0]})
    csv(tmp_path / "sub.csv", {"id": list("edcba"), "target": [0.35, 0.35, 0.4, 0.8, 0.1]})
    assert api.score(tmp_path / "sub.csv", tmp_path / "answers.csv", "roc_auc")["score"] == pytest.approx(0.75)
    shown = kcnn("score", tmp_path / "sub.csv", "--answers", tmp_path / "answers.csv", "--metric", "roc_auc")
    assert shown.exit_code == 0 and "roc_auc 0.7500 on 5 rows" in shown.output, shown.output


# ---------------------------------------------------------------- arrays that cannot be images


@pytest.fixture
def spoilt(seti, tmp_path) -> Path:
    """This test's own copy of the SETI miniature, to spoil."""
    return Path(shutil.copytree(seti, tmp_path / "seti"))


def _a_train_array(root: Path) -> Path:
    name = pd.read_csv(root / "train_labels.csv", dtype=str)["id"][3]
    return root / "train" / name[0] / f"{name}.npy"


def test_arrays_of_different_shapes_are_refused_naming_both(spoilt, tmp_path, kcnn, assert_refused):
    odd = _a_train_array(spoilt)
    np.save(odd, np.zeros((3, 28, 28), dtype=np.float16))
    workspace = tmp_path / "ws"
    assert_refused(kcnn("-w", workspace, "train", "--data", spoilt, "--epochs", 1),
                   "arrays differ in shape", f"is {CADENCES}x28x28", f"{odd.relative_to(spoilt).as_posix()} is 3x28x28")
    assert not workspace.exists()
    np.save(odd, np.ones((CADENCES, 40, 40), dtype=np.float16))  # the same channels, another size: resized
    assert_refused(kcnn("data", spoilt), f"is {CADENCES}x40x40", "pass --image-size")
    dataset = load_dataset(spoilt, image_size=(28, 28))
    row = dataset.x_train.files.index(odd.relative_to(spoilt).as_posix())
    assert dataset.x_train[row].shape == (28, 28, CADENCES)
    np.save(odd, np.ones((40, 40, CADENCES), dtype=np.float16))  # channels last among channels first
    with pytest.raises(InputError, match="the same channels, in the same order"):
        load_dataset(spoilt, image_size=(28, 28))


@pytest.mark.parametrize("spoil, why", [
    (lambda path: path.write_bytes(b"\x93NUMPY garbage"), "not a valid .npy file"),
    (lambda path: path.write_bytes(path.read_bytes()[:300]), "not a valid .npy file (EOF"),
    (lambda path: np.save(path, np.zeros((2, 3, 28, 28))), "has 4 dimensions (2x3x28x28)"),
    (lambda path: np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True), "object array"),
    (lambda path: np.save(path, np.array(["a", "b"])), "not numbers"),
])
def test_arrays_that_are_no_image_are_refused(spoilt, tmp_path, kcnn, assert_refused, spoil, why):
    bad = _a_train_array(spoilt)
    spoil(bad)
    workspace = tmp_path / "ws"
    assert_refused(kcnn("-w", workspace, "train", "--data", spoilt, "--epochs", 1),
                   bad.relative_to(spoilt).as_posix(), why)
    assert not workspace.exists()


def test_a_bad_test_array_is_refused(spoilt, kcnn, assert_refused):
    name = pd.read_csv(spoilt / "sample_submission.csv", dtype=str)["id"][0]
    np.save(spoilt / "test" / name[0] / f"{name}.npy", np.zeros((28,)))
    assert_refused(kcnn("data", spoilt), f"test/{name[0]}/{name}.npy", "has 1 dimension (28)")


# ---------------------------------------------------------------- Statoil: records of bands


@pytest.fixture(scope="module")
def statoil(tmp_path_factory, mnist) -> Path:
    """train.json records {id, band_1, band_2, inc_angle, is_iceberg}: each band a flat
    list of 28 * 28 decibel-like floats (about -30..5) from a digit and its mirror image,
    is_iceberg = digit < 5; test.json without the label; a sample of 0.5s in reverse order."""
    root = tmp_path_factory.mktemp("statoil")
    with np.load(mnist) as data:
        pixels, labels = data["x_test"][:STATOIL_TRAIN + STATOIL_TEST], data["y_test"][:STATOIL_TRAIN + STATOIL_TEST]
    rng = np.random.default_rng(1)
    records = []
    for i, (digit, label) in enumerate(zip(pixels, labels)):
        band_1 = digit / 255 * 30 - 25 + rng.normal(0, 2, digit.shape)
        band_2 = digit[:, ::-1] / 255 * 20 - 30 + rng.normal(0, 2, digit.shape)
        records.append({"id": f"{i * 7919:08x}", "band_1": np.round(band_1, 4).ravel().tolist(),
                        "band_2": np.round(band_2, 4).ravel().tolist(), "inc_angle": "na" if i % 9 == 0 else 39.2,
                        "is_iceberg": int(label < 5)})
    (root / "train.json").write_text(json.dumps(records[:STATOIL_TRAIN]))
    test = records[STATOIL_TRAIN:]
    (root / "test.json").write_text(json.dumps([{k: v for k, v in r.items() if k != "is_iceberg"} for r in test]))
    csv(root / "sample_submission.csv", {"id": [r["id"] for r in test][::-1], "is_iceberg": 0.5})
    csv(root / "answers.csv", {"id": [r["id"] for r in test], "is_iceberg": [r["is_iceberg"] for r in test]})
    return root


def test_statoil_bands_are_stacked_as_channels(statoil):
    dataset = load_dataset(statoil, image_fields="band_2,band_1")
    assert dataset.image_shape == (28, 28, 2) and dataset.classes == [0, 1] and len(dataset.y_train) == STATOIL_TRAIN
    assert dataset.submission_kind == "probability" and dataset.submission_header == ("id", "is_iceberg")
    records = json.loads((statoil / "train.json").read_text())
    low = min(min(r["band_1"] + r["band_2"]) for r in records)  # one map for every band: the training range
    high = max(max(r["band_1"] + r["band_2"]) for r in records)
    band_1, band_2 = (np.array(records[5][b], dtype=np.float32).reshape(28, 28) for b in ("band_1", "band_2"))
    image = dataset.x_train[5]
    assert dataset.y_train[5] == records[5]["is_iceberg"]
    np.testing.assert_allclose(image[..., 0], (band_2 - low) / (high - low), atol=1e-5)
    np.testing.assert_allclose(image[..., 1], (band_1 - low) / (high - low), atol=1e-5)
    sample = pd.read_csv(statoil / "sample_submission.csv", dtype=str)["id"].tolist()
    assert dataset.test_ids == sample
    by_default = load_dataset(statoil)  # the fields holding lists, in the records' order
    assert np.array_equal(by_default.x_train[5][..., ::-1], image)


def test_gzipped_records_read_the_same(statoil, tmp_path):
    import gzip

    root = tmp_path / "statoil"
    root.mkdir()
    shutil.copy(statoil / "sample_submission.csv", root)
    for name in ("train.json", "test.json"):
        (root / f"{name}.gz").write_bytes(gzip.compress((statoil / name).read_bytes()))
    assert load_dataset(root).fingerprint() == load_dataset(statoil).fingerprint()


def test_statoil_through_the_command_line(statoil, tmp_path, kcnn, assert_refused):
    shown = kcnn("data", statoil, "--image-fields", "band_1,band_2")
    assert shown.exit_code == 0, shown.output
    assert "image fields band_1, band_2 stacked as channels; inc_angle left out" in shown.output
    assert "array images 28x28, 2 channels" in shown.output and "the training range" in shown.output
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", statoil, "--image-fields", "band_1,band_2", "--model",
                  "basic_cnn", "--epochs", 1, "--val-fraction", 0.25, "--metric", "logloss", "--batch-size", 32)
    assert result.exit_code == 0, result.output
    voted, submission = _vote_as_the_sample_asks(kcnn, workspace, statoil)
    checked = kcnn("check", voted, "--data", statoil)
    assert checked.exit_code == 0 and "id set and order" in checked.output, checked.output
    scored = kcnn("score", voted, "--answers", statoil / "answers.csv", "--metric", "logloss")
    assert scored.exit_code == 0 and "logloss" in scored.output, scored.output
    assert_refused(kcnn("-w", workspace, "export-inference", voted, tmp_path / "bundle"), "json_records data")
    assert not (tmp_path / "bundle").exists()


def test_statoil_grader_log_loss_on_a_hand_made_example(tmp_path, kcnn):
    """Icebergs b, c; ships a, d: -(ln 0.75 + ln 0.8 + ln 0.5 + ln 0.5) / 4 = 0.474280."""
    csv(tmp_path / "answers.csv", {"id": list("abcd"), "is_iceberg": [0, 1, 1, 0]})
    csv(tmp_path / "sub.csv", {"id": list("dcba"), "is_iceberg": [0.5, 0.5, 0.8, 0.25]})
    expected = -(math.log(0.75) + math.log(0.8) + 2 * math.log(0.5)) / 4
    assert expected == pytest.approx(0.474280, abs=1e-6)
    shown = kcnn("score", tmp_path / "sub.csv", "--answers", tmp_path / "answers.csv", "--metric", "logloss")
    assert shown.exit_code == 0 and f"logloss {expected:.4f} on 4 rows" in shown.output, shown.output


def test_check_and_score_take_probabilities_as_the_graders_do(statoil, tmp_path, kcnn, assert_refused):
    """Both graders read one column of numbers in [0, 1]: 0s and 1s pass (AUC by hand:
    positives b, d at 1; negatives a, e at 0 and c at 1: (2 + 0.5) * 2 / 6 = 5/6);
    1.2 is refused, by check against the sample and by score."""
    sample = pd.read_csv(statoil / "sample_submission.csv", dtype=str)
    hard = sample.assign(is_iceberg=[i % 2 for i in range(len(sample))])
    hard.to_csv(tmp_path / "hard.csv", index=False)
    checked = kcnn("check", tmp_path / "hard.csv", "--data", statoil)
    assert checked.exit_code == 0 and "probabilities" in checked.output, checked.output
    over = sample.assign(is_iceberg=["0.5"] * 3 + ["1.2"] + ["0.5"] * (len(sample) - 4))
    over.to_csv(tmp_path / "over.csv", index=False)
    assert_refused(kcnn("check", tmp_path / "over.csv", "--data", statoil),
                   "over.csv line 5, column is_iceberg: '1.2' is not a probability between 0 and 1")
    csv(tmp_path / "answers.csv", {"id": list("abcde"), "is_iceberg": [0, 1, 0, 1, 0]})
    csv(tmp_path / "sub.csv", {"id": list("abcde"), "is_iceberg": [0, 1, 1, 1, 0]})
    shown = kcnn("score", tmp_path / "sub.csv", "--answers", tmp_path / "answers.csv", "--metric", "roc_auc")
    assert shown.exit_code == 0 and f"roc_auc {5 / 6:.4f} on 5 rows" in shown.output, shown.output
    csv(tmp_path / "sub.csv", {"id": list("abcde"), "is_iceberg": [0, 1, 1.5, 1, 0]})
    assert_refused(kcnn("score", tmp_path / "sub.csv", "--answers", tmp_path / "answers.csv", "--metric", "logloss"),
                   "sub.csv line 4, column is_iceberg: '1.5' is not a probability between 0 and 1")


def _spoil_record(root: Path, number: int, **fields) -> None:
    records = json.loads((root / "train.json").read_text())
    for name, value in fields.items():
        if value is None:
            del records[number][name]
        else:
            records[number][name] = value
    (root / "train.json").write_text(json.dumps(records))


@pytest.mark.parametrize("fields, why", [
    ({"band_2": -21.5}, "train.json record 4, field band_2: -21.5 is not an array"),
    ({"band_1": [0.5] * 27 * 28}, "train.json record 4, field band_1: 756 values do not form a square image"),
    ({"band_1": [0.5] * 27 * 27}, "train.json record 4, field band_1: 729 values (27x27), but record 1's band_1 "
                                  "is 784 values (28x28)"),
    ({"band_2": None}, "train.json record 4: no field 'band_2'"),
    ({"band_1": ["a"] * 784}, "train.json record 4, field band_1: not an array of numbers"),
])
def test_records_that_are_no_image_are_refused(statoil, tmp_path, kcnn, assert_refused, fields, why):
    root = Path(shutil.copytree(statoil, tmp_path / "statoil"))
    _spoil_record(root, 3, **fields)
    workspace = tmp_path / "ws"
    assert_refused(kcnn("-w", workspace, "train", "--data", root, "--image-fields", "band_1,band_2", "--epochs", 1),
                   why)
    assert not workspace.exists()


def test_image_fields_are_for_records_only(statoil, seti, kcnn, assert_refused):
    assert_refused(kcnn("data", seti, "--image-fields", "band_1"), "--image-fields applies to a folder with train.json")
    assert_refused(kcnn("data", statoil, "--image-fields", "band_1,band_3"), "record 1: no field 'band_3'")
    assert_refused(kcnn("data", statoil, "--image-fields", "band_1,,band_2"), "--image-fields", "distinct field names")


def _vote_as_the_sample_asks(kcnn, workspace, data):
    """kcnn vote on the workspace's runs: its CSV, whose header, ids and order are the sample's."""
    result = kcnn("-w", workspace, "vote")
    assert result.exit_code == 0, result.output
    (voted,) = (workspace / "submissions" / "ensemble").glob("*.csv")
    submission = pd.read_csv(voted, dtype=str)
    sample = pd.read_csv(data / "sample_submission.csv", dtype=str)
    assert list(submission.columns) == list(sample.columns) and submission["id"].tolist() == sample["id"].tolist()
    return voted, submission
