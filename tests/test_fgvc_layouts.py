"""Three more labels-CSV layouts, as mle-bench prepares them: Hotel-ID 2021
(train.csv `image,chain,hotel_id`, training images stored in
`train_images/<chain>/`, five hotels a row, MAP@5), iMet 2020 (`id,attribute_ids`,
the attributes space-separated numbers, F1 micro) and Plant Pathology 2021
(`image,labels`, space-separated diseases, F1 micro). Built from real MNIST
digits; Hotel-ID and Plant Pathology go data -> train -> vote -> check -> score
through the CLI, and the graders are checked on hand-made examples."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kaggle_cnn.labels import looks_like_tags

TRAIN, TEST = 200, 40
DISEASES = ["healthy", "scab", "rust", "complex", "frog_eye_leaf_spot", "powdery_mildew"]


def file_name(i: int) -> str:
    return f"{(i * 2654435761) % 16**12:012x}.jpg"  # like Hotel-ID's and Plant Pathology's hex names


def diseases(digit: int) -> str:
    """0: healthy; else one disease by the digit, and 'complex' beside it from 7 up."""
    if digit == 0:
        return "healthy"
    return " ".join(sorted({DISEASES[1 + digit % 5], *(["complex"] if digit >= 7 else [])}))


@pytest.fixture(scope="module")
def digits(mnist):
    with np.load(mnist) as arrays:
        return arrays["x_train"][: TRAIN + TEST], arrays["y_train"][: TRAIN + TEST]


def save(path: Path, pixels) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, "JPEG", quality=95)


@pytest.fixture(scope="module")
def hotels(tmp_path_factory, digits) -> Path:
    """Hotel-ID: train_images/<chain>/<image>, test_images/<image>, the sample's five
    hotels a row, and the private answers (image,chain,hotel_id) beside."""
    pixels, labels = digits
    root = tmp_path_factory.mktemp("hotel") / "hotel-id-2021-fgvc8"
    names, hotel, chain = [file_name(i) for i in range(TRAIN + TEST)], labels * 1000 + 17, labels % 3
    for i, name in enumerate(names):
        save(root / ("train_images" if i < TRAIN else "test_images") / (str(chain[i]) if i < TRAIN else "") / name,
             pixels[i])
    frame = pd.DataFrame({"image": names, "chain": chain, "hotel_id": hotel})
    frame[:TRAIN].to_csv(root / "train.csv", index=False)
    frame[TRAIN:][["image", "hotel_id"]].assign(hotel_id="36363 53586 18807 64314 60181").to_csv(
        root / "sample_submission.csv", index=False)
    frame[TRAIN:].to_csv(root.parent / "answers.csv", index=False)
    return root


@pytest.fixture(scope="module")
def plants(tmp_path_factory, digits) -> Path:
    """Plant Pathology 2021: train_images/, test_images/, train.csv image,labels (tags), a sample of 'healthy'."""
    pixels, labels = digits
    root = tmp_path_factory.mktemp("plant") / "plant-pathology-2021-fgvc8"
    names = [file_name(i) for i in range(TRAIN + TEST)]
    for i, name in enumerate(names):
        save(root / ("train_images" if i < TRAIN else "test_images") / name, pixels[i])
    frame = pd.DataFrame({"image": names, "labels": [diseases(d) for d in labels]})
    frame[:TRAIN].to_csv(root / "train.csv", index=False)
    frame[TRAIN:].assign(labels="healthy").to_csv(root / "sample_submission.csv", index=False)
    frame[TRAIN:].to_csv(root.parent / "answers.csv", index=False)
    return root


def train_and_vote(kcnn, data: Path, workspace: Path, metric: str) -> Path:
    trained = kcnn("-w", workspace, "train", "--data", data, "--model", "cnn1", "--epochs", 1, "--batch-size", 32,
                   "--metric", metric, "--keep-above", 0)
    assert trained.exit_code == 0, trained.output
    voted = kcnn("-w", workspace, "vote")
    assert voted.exit_code == 0, voted.output
    (csv,) = (workspace / "submissions" / "ensemble").glob("*.csv")
    return csv


def score_of(output: str, metric: str) -> float:
    return float(output.split(f"{metric} ")[1].split()[0])


def test_tags_are_told_from_class_names_with_spaces():
    assert looks_like_tags(["scab", "scab frog_eye_leaf_spot", "rust", "healthy"])  # Plant Pathology 2021
    # Planet: 17 tags in 449 combinations; here 5 in 7
    assert looks_like_tags(["clear primary", "haze primary", "clear primary road", "clear primary water",
                            "clear road", "haze water", "haze primary road"])
    assert not looks_like_tags(["clear primary", "haze primary", "cloudy"])  # too few rows to tell: --multi-label
    assert looks_like_tags(["13 405", "13 1092", "405 1092", "13"])  # iMet's attribute ids
    # plant-seedlings' classes: names with spaces, whose words outnumber them and never stand alone
    assert not looks_like_tags(["Common Chickweed", "Common wheat", "Fat Hen", "Loose Silky-bent", "Maize"])
    assert not looks_like_tags(["w_1287fbc", "new_whale", "w_98baff9"])  # one word a label


def test_hotel_id_images_in_chain_folders_go_through(hotels, kcnn, tmp_path):
    shown = kcnn("data", hotels)
    assert shown.exit_code == 0, shown.output
    assert "id column image, label hotel_id" in shown.output  # chain is storage, not the label
    assert "naming images in train_images/" in shown.output and f"train {TRAIN}" in shown.output
    assert "top-5 answers" in shown.output and "map@5" in shown.output

    csv = train_and_vote(kcnn, hotels, tmp_path / "ws", "map@5")
    submission, sample = pd.read_csv(csv, dtype=str), pd.read_csv(hotels / "sample_submission.csv", dtype=str)
    assert list(submission.columns) == ["image", "hotel_id"] and submission["image"].tolist() == sample["image"].tolist()
    assert (submission["hotel_id"].str.split(" ").map(len) == 5).all()
    assert kcnn("check", csv, "--data", hotels).exit_code == 0
    scored = kcnn("score", csv, "--answers", hotels.parent / "answers.csv")  # answers with a chain column too
    assert scored.exit_code == 0, scored.output
    answers = pd.read_csv(hotels.parent / "answers.csv", dtype=str).set_index("image")["hotel_id"]
    ranks = [row.split(" ").index(answers[image]) + 1 if answers[image] in row.split(" ") else None
             for image, row in zip(submission["image"], submission["hotel_id"])]
    assert score_of(scored.output, "map@5") == pytest.approx(np.mean([1 / r if r else 0 for r in ranks]), abs=1e-4)


def test_plant_pathology_tags_are_multi_label_without_the_option(plants, kcnn, tmp_path):
    shown = kcnn("data", plants)
    assert shown.exit_code == 0, shown.output
    assert "multi-label tags in labels" in shown.output and "task:        multi-label" in shown.output
    assert "--metric f2_samples (Planet), f1_micro (iMet, Plant Pathology 2021)" in shown.output
    assert "classes:     6" in shown.output  # the diseases, not their 8 combinations

    csv = train_and_vote(kcnn, plants, tmp_path / "ws", "f1_micro")
    submission = pd.read_csv(csv, dtype=str)
    assert list(submission.columns) == ["image", "labels"]
    assert submission["image"].tolist() == pd.read_csv(plants / "sample_submission.csv")["image"].tolist()
    assert set(" ".join(submission["labels"]).split()) <= set(DISEASES)
    checked = kcnn("check", csv, "--data", plants)
    assert checked.exit_code == 0 and "tags" in checked.output, checked.output
    scored = kcnn("score", csv, "--answers", plants.parent / "answers.csv", "--metric", "f1_micro")
    assert scored.exit_code == 0, scored.output
    assert score_of(scored.output, "f1_micro") == pytest.approx(
        grade_f1_micro(csv, plants.parent / "answers.csv", "image", "labels"), abs=1e-4)


def test_multi_label_k_fold_fits_thresholds_out_of_fold(plants, kcnn, tmp_path):
    from kaggle_cnn.store.validation import find_folds
    from kaggle_cnn.store.workspace import Workspace

    workspace = tmp_path / "ws"
    trained = kcnn("-w", workspace, "train", "--data", plants, "--model", "cnn1", "--epochs", 1, "--batch-size", 32,
                   "--folds", 2, "--metric", "f1_micro", "--keep-above", 0)
    assert trained.exit_code == 0, trained.output
    (run,) = Workspace(workspace).runs()
    folds = find_folds(Workspace(workspace), run.fingerprint)  # the table of labels comes back as it was saved
    assert folds.labels.dtype == bool and folds.labels.shape == (TRAIN, len(DISEASES))
    assert sorted(np.bincount(folds.fold_of_row)) == [TRAIN // 2, TRAIN // 2]
    assert (folds.labels.sum(axis=1) >= 1).all() and run.required_proba("oof_proba.npy", TRAIN).shape == (TRAIN, 6)
    voted = kcnn("-w", workspace, "vote")
    assert voted.exit_code == 0, voted.output
    assert f"decision thresholds, fitted on {TRAIN} out-of-fold rows (every training row):" in voted.output
    (csv,) = (workspace / "submissions" / "ensemble").glob("*.csv")
    assert kcnn("check", csv, "--data", plants).exit_code == 0


def grade_f1_micro(submission: Path, answers: Path, id_column: str, column: str) -> float:
    """mle-bench's iMet / Plant Pathology 2021 grade.py: F1 micro over the answers' tags."""
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    sub = pd.read_csv(submission, dtype=str).sort_values(id_column)
    ans = pd.read_csv(answers, dtype=str).sort_values(id_column)
    binarizer = MultiLabelBinarizer(classes=sorted(set(ans[column].str.split().explode())))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a predicted tag the answers never hold
        truth = binarizer.fit_transform(ans[column].str.split())
        predicted = binarizer.transform(sub[column].fillna("").str.split())
    return f1_score(truth, predicted, average="micro")


def test_f1_micro_grader_leaves_out_tags_the_answers_never_hold(tmp_path, kcnn):
    ids = ["a", "b", "c"]
    pd.DataFrame({"id": ids, "attribute_ids": ["13", "405 1092", "7"]}).to_csv(tmp_path / "answers.csv", index=False)
    # a: 13 right, 999 never in the answers (left out); b: 405 right, 1092 missed; c: 13 wrong, 7 missed
    pd.DataFrame({"id": ids[::-1], "attribute_ids": ["13", "405", "13 999"]}).to_csv(tmp_path / "sub.csv", index=False)
    scored = kcnn("score", tmp_path / "sub.csv", "--answers", tmp_path / "answers.csv", "--metric", "f1_micro")
    assert scored.exit_code == 0, scored.output  # tags in the answers: graded as multi-label without the option
    # tp 2 (a:13, b:405), fp 1 (c:13), fn 2 (b:1092, c:7): 2 * 2 / (4 + 1 + 2)
    assert score_of(scored.output, "f1_micro") == pytest.approx(4 / 7, abs=1e-4)


def test_imet_attribute_ids_read_as_tags(tmp_path, digits, kcnn):
    pixels, labels = digits
    root = tmp_path / "imet-2020-fgvc7"
    ids = [file_name(i)[:-4] for i in range(60)]
    for i, name in enumerate(ids):
        (root / "train").mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[i]).save(root / "train" / f"{name}.png")
    style = np.arange(60) % 3 + 14  # an attribute the image does not show, as many are
    attributes = [" ".join(map(str, sorted({int(d), 10 + int(d) % 2, int(s)}))) for d, s in zip(labels, style)]
    pd.DataFrame({"id": ids[:50], "attribute_ids": attributes[:50]}).to_csv(root / "train.csv", index=False)
    (root / "test").mkdir()
    for name, image in zip(ids[50:], pixels[50:60]):
        Image.fromarray(image).save(root / "test" / f"{name}.png")
    pd.DataFrame({"id": ids[50:], "attribute_ids": "0 1 2"}).to_csv(root / "sample_submission.csv", index=False)
    shown = kcnn("data", root)
    assert shown.exit_code == 0, shown.output
    assert "multi-label tags in attribute_ids" in shown.output
    assert f"classes:     {len({a for row in attributes[:50] for a in row.split()})}" in shown.output
