"""Multi-label competitions: metrics against values worked out by hand, and
miniatures of Planet (space-separated tags) and RANZCR CLiP (one-hot columns
with several 1s) going data -> train -> vote -> check -> score through the CLI."""

import numpy as np
import pytest

from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metric_registry import accuracy, get_metric, log_loss

# 3 images x 3 labels; decisions at 0.5: [1,0,0], [0,1,1], [1,1,1]
TRUTH = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]], dtype=bool)
PROBA = np.array([[0.9, 0.2, 0.4], [0.3, 0.8, 0.6], [0.7, 0.6, 0.9]])


def value(name, proba=PROBA, **options):
    return get_metric(name).value(TRUTH, proba, **options)


def test_multi_label_metrics_match_hand_computation():
    # per row (tp, fp, fn): (1, 0, 1), (1, 1, 0), (2, 1, 0)
    # F1: 2/3, 2/3, 4/5; F2 = 5PR / (4P + R): 5/9, 5/6, 10/11
    assert value("f1_samples") == pytest.approx((2 / 3 + 2 / 3 + 4 / 5) / 3)
    assert value("f2_samples") == pytest.approx((5 / 9 + 5 / 6 + 10 / 11) / 3)
    assert value("f2_samples") == pytest.approx(455 / 594)
    # pooled: tp 4, fp 2, fn 1 -> 2 * 4 / (8 + 2 + 1)
    assert value("f1_micro") == pytest.approx(8 / 11)
    # columns: positives above every negative, above every negative, below both negatives
    assert value("mean_auc") == pytest.approx(2 / 3) and value("roc_auc") == pytest.approx(2 / 3)
    assert value("accuracy") == 0.0 and accuracy(TRUTH, PROBA) == 0.0  # no row has every label right
    cells = [0.9, 0.8, 0.4, 0.7, 0.8, 0.4, 0.7, 0.6, 0.1]  # the probability of each cell's truth
    assert value("logloss") == pytest.approx(-np.mean(np.log(cells))) == log_loss(TRUTH, PROBA)


def test_decisions_and_thresholds():
    # thresholds 0.5, 0.5, 0.95 drop the two wrong third-label decisions: rows (1,0,1), (1,0,0), (2,0,0)
    decided = PROBA >= np.array([0.5, 0.5, 0.95])
    assert value("f1_samples", predicted=decided) == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert value("accuracy", predicted=decided) == pytest.approx(2 / 3)
    with pytest.raises(InputError, match="the mean_auc metric needs probabilities"):
        get_metric("mean_auc").value(TRUTH, None, predicted=decided)
    with pytest.raises(InputError, match="qwk metric is for one ordinal label per row"):
        value("qwk")


def test_single_label_truth_under_the_multi_label_metrics():
    truth, proba = np.array([0, 1, 2, 2]), np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.2, 0.3],
                                                     [0.1, 0.1, 0.8]])
    assert get_metric("f1_micro").value(truth, proba) == pytest.approx(0.75) == accuracy(truth, proba)
    assert get_metric("f1_samples").value(truth, proba) == pytest.approx(0.75)
    # class 2's column: positives 0.3 and 0.8 against negatives 0.1, 0.1: AUC 1; classes 0 and 1 also 1
    assert get_metric("mean_auc").value(truth, proba) == pytest.approx(1.0)


# ---------------------------------------------------------------- miniatures

CIFAR = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
VEHICLES = {"airplane", "automobile", "ship", "truck"}
N_TRAIN, N_TEST = 240, 80
# RANZCR CLiP's label columns, a few of its 11: each image's class sets two of them
RANZCR = ["ETT - Abnormal", "ETT - Normal", "NGT - Normal", "CVC - Normal", "Swan Ganz Catheter Present"]


def tags_of(label: int) -> list[str]:
    """Two tags per image: what it is (animal or vehicle), and its CIFAR-10 class."""
    name = CIFAR[int(label)]
    return ["vehicle" if name in VEHICLES else "animal", name]


def ranzcr_row(label: int) -> list[int]:
    """RANZCR-like findings: label 0/1 of column k, two 1s per row (vehicles vs animals, and class mod 3)."""
    row = [0] * len(RANZCR)
    row[0 if CIFAR[int(label)] in VEHICLES else 1] = 1
    row[2 + int(label) % 3] = 1
    return row


@pytest.fixture(scope="module")
def cifar_images(shared_data):
    path = shared_data / "cifar10_subset.npz"
    if not path.exists():
        pytest.skip(f"needs the real dataset {path}")
    data = np.load(path)
    return data["x_train"][: N_TRAIN + N_TEST], data["y_train"][: N_TRAIN + N_TEST]


def save_images(folder, names, pixels, ext="jpg"):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for name, image in zip(names, pixels):
        Image.fromarray(image).save(folder / f"{name}.{ext}")


@pytest.fixture(scope="module")
def planet(tmp_path_factory, cifar_images):
    """Planet's layout: train_v2.csv (image_name,tags), train-jpg/, test-jpg/ and test-jpg-additional/
    (file_0, ...), sample_submission_v2.csv (every row two tags), and the hidden answers in Planet's own layout."""
    import pandas as pd

    pixels, labels = cifar_images
    root = tmp_path_factory.mktemp("planet")
    train = [f"train_{i}" for i in range(N_TRAIN)]
    first = N_TEST - 20  # the rest come later, in their own folder
    names = [f"test_{i}" for i in range(first)] + [f"file_{i}" for i in range(N_TEST - first)]
    test = names[::-1]  # the sample's order is not the files' order
    save_images(root / "train-jpg", train, pixels[:N_TRAIN])
    save_images(root / "test-jpg", names[:first], pixels[N_TRAIN:N_TRAIN + first])
    save_images(root / "test-jpg-additional", names[first:], pixels[N_TRAIN + first:])
    pd.DataFrame({"image_name": train, "tags": [" ".join(tags_of(y)) for y in labels[:N_TRAIN]]}).to_csv(
        root / "train_v2.csv", index=False)
    pd.DataFrame({"image_name": test, "tags": "animal cat"}).to_csv(root / "sample_submission_v2.csv", index=False)
    answers = pd.DataFrame({"image_name": names, "tags": [" ".join(tags_of(y)) for y in labels[N_TRAIN:]]})
    answers.to_csv(tmp_path_factory.getbasetemp() / "planet_answers.csv", index=False)
    return root, test, tmp_path_factory.getbasetemp() / "planet_answers.csv"


@pytest.fixture(scope="module")
def ranzcr(tmp_path_factory, cifar_images):
    """RANZCR CLiP's layout: train.csv (StudyInstanceUID, the label columns, PatientID), train/, test/,
    a sample of one probability column per label, and the hidden answers as the grader reads them."""
    import pandas as pd

    pixels, labels = cifar_images
    root = tmp_path_factory.mktemp("ranzcr")
    uids = [f"1.2.826.0.1.{i}" for i in range(N_TRAIN + N_TEST)]
    save_images(root / "train", uids[:N_TRAIN], pixels[:N_TRAIN])
    save_images(root / "test", uids[N_TRAIN:], pixels[N_TRAIN:])
    rows = np.array([ranzcr_row(y) for y in labels])
    frame = pd.DataFrame({"StudyInstanceUID": uids, **{c: rows[:, k] for k, c in enumerate(RANZCR)},
                          "PatientID": [f"p{i % 37:03d}" for i in range(len(uids))]})
    frame[:N_TRAIN].to_csv(root / "train.csv", index=False)
    sample = frame[N_TRAIN:][["StudyInstanceUID", *RANZCR]].assign(**{c: 0 for c in RANZCR})
    sample.to_csv(root / "sample_submission.csv", index=False)
    frame[N_TRAIN:].to_csv(tmp_path_factory.getbasetemp() / "ranzcr_answers.csv", index=False)
    return root, uids[N_TRAIN:], tmp_path_factory.getbasetemp() / "ranzcr_answers.csv"


def test_planet_and_ranzcr_read_as_multi_label(planet, ranzcr):
    from kaggle_cnn.data import load_dataset

    root, test, _ = planet
    dataset = load_dataset(root, multi_label=True)
    assert dataset.task == "multi_label" and dataset.classes == sorted({"animal", "vehicle", *CIFAR})
    assert dataset.y_train.shape == (N_TRAIN, 12) and (dataset.y_train.sum(axis=1) == 2).all()
    assert dataset.submission_header == ("image_name", "tags") and dataset.submission_kind == "tags"
    assert dataset.test_ids == test and dataset.x_test.files[0] == f"test-jpg-additional/{test[0]}.jpg"
    assert dataset.x_test.files[-1] == "test-jpg/test_0.jpg"  # both test folders, in the sample's order
    assert "matched in test-jpg/ and test-jpg-additional/" in dataset.layout_notes[2]
    root, uids, _ = ranzcr
    dataset = load_dataset(root)  # rows of two 1s: multi-label without the option; PatientID is no label
    assert dataset.task == "multi_label" and dataset.classes == sorted(RANZCR)
    assert dataset.submission_kind == "class_columns" and dataset.test_ids == uids


# ---------------------------------------------------------------- the graders


def write(path, frame):
    import pandas as pd

    pd.DataFrame(frame).to_csv(path, index=False)
    return path


def test_planet_grader_mean_f2_over_images(tmp_path, kcnn):
    from kaggle_cnn import api

    answers = write(tmp_path / "answers.csv", {"image_name": ["a", "b", "c"],
                                               "tags": ["clear primary", "haze", "cloudy"]})
    # in another order; a: tp 2, fp 1 -> P 2/3, R 1, F2 = 5 * 2/3 / (8/3 + 1) = 10/11;
    # b: 'road' is a tag the answers never hold: tp 0 -> F2 0; c: exact -> 1
    sub = write(tmp_path / "sub.csv", {"image_name": ["c", "b", "a"], "tags": ["cloudy", "road", "clear primary water"]})
    result = api.score(sub, answers, multi_label=True)
    assert result["metric"] == "f2_samples" and result["score"] == pytest.approx((10 / 11 + 0 + 1) / 3)
    assert result["accuracy"] == pytest.approx(1 / 3)  # c alone has every tag right
    shown = kcnn("score", sub, "--answers", answers, "--multi-label")
    assert shown.exit_code == 0 and f"f2_samples {(10 / 11 + 1) / 3:.4f} on 3 rows" in shown.output, shown.output
    f1 = kcnn("score", sub, "--answers", answers, "--multi-label", "--metric", "f1_samples")
    assert f"f1_samples {(0.8 + 0 + 1) / 3:.4f}" in f1.output, f1.output  # a: F1 = 2 * 2/3 / (5/3) = 4/5


def test_ranzcr_grader_mean_column_auc(tmp_path, kcnn, assert_refused):
    from kaggle_cnn import api

    uids = ["1.1", "1.2", "1.3", "1.4"]
    answers = write(tmp_path / "answers.csv", {"StudyInstanceUID": uids, "ETT - Normal": [1, 0, 1, 0],
                                               "CVC - Normal": [0, 0, 1, 1], "PatientID": ["p1", "p1", "p2", "p3"]})
    # ETT: positives 0.9, 0.4 vs negatives 0.5, 0.1: 3 of 4 pairs ordered -> 0.75
    # CVC: positives 0.8, 0.2 vs negatives 0.3, 0.6: 2 of 4 pairs -> 0.5; mean 0.625
    sub = write(tmp_path / "sub.csv", {"StudyInstanceUID": uids[::-1], "ETT - Normal": [0.1, 0.4, 0.5, 0.9],
                                       "CVC - Normal": [0.2, 0.8, 0.3, 0.6]})
    result = api.score(sub, answers)  # a 0/1 answers column per submission column: multi-label without the option
    assert result["metric"] == "mean_auc" and result["score"] == pytest.approx(0.625)
    shown = kcnn("score", sub, "--answers", answers)
    assert shown.exit_code == 0 and "mean_auc 0.6250 on 4 rows" in shown.output, shown.output
    write(tmp_path / "bad.csv", {"StudyInstanceUID": uids, "ETT - Normal": [1, 0, 2, 0],
                                 "CVC - Normal": [0, 0, 1, 1]})
    assert_refused(kcnn("score", sub, "--answers", tmp_path / "bad.csv"), "bad.csv line 4, column ETT - Normal",
                   "'2' is not 0 or 1")


# ---------------------------------------------------------------- through the command line


def voted_and_sidecar(workspace):
    import json

    import pandas as pd

    voted = workspace / "submissions" / "ensemble" / "soft_vote.csv"
    return voted, pd.read_csv(voted, dtype=str, keep_default_na=False), json.loads(voted.with_suffix(".json").read_text())


def test_planet_data_train_vote_check_score(planet, tmp_path, kcnn, assert_refused):
    import pandas as pd
    from sklearn.metrics import fbeta_score
    from sklearn.preprocessing import MultiLabelBinarizer

    root, test, answers = planet
    shown = kcnn("data", root, "--multi-label")
    assert shown.exit_code == 0 and "task:        multi-label" in shown.output, shown.output
    assert "image_name,tags  (the labels that apply, joined by spaces)" in shown.output
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", root, "--multi-label", "--model", "basic_cnn", "--epochs", 1,
                  "--repeat", 2, "--metric", "f2_samples", "--val-fraction", 0.25)
    assert result.exit_code == 0 and "val_f2_samples" in result.output, result.output
    assert_refused(kcnn("-w", workspace, "vote", "--method", "hard"), "--method hard: a multi-label vote averages")
    assert_refused(kcnn("-w", workspace, "vote", "--top", 1), "--top: a multi-label vote averages every member's")
    assert not (workspace / "submissions" / "ensemble").exists()
    result = kcnn("-w", workspace, "vote")
    assert result.exit_code == 0 and "decision thresholds, fitted on 60 hold-out rows:" in result.output, result.output
    voted, submission, sidecar = voted_and_sidecar(workspace)
    sample = pd.read_csv(root / "sample_submission_v2.csv", dtype=str)
    assert list(submission.columns) == list(sample.columns) and submission["image_name"].tolist() == test
    classes = sorted({"animal", "vehicle", *CIFAR})
    assert sidecar["task"] == "multi_label" and sidecar["classes"] == classes and len(sidecar["members"]) == 2
    assert sorted(sidecar["thresholds"]) == classes and all(0 < t < 1 for t in sidecar["thresholds"].values())
    assert sidecar["val_score"] >= sidecar["val_score_at_0.5"]  # the fit starts from 0.5 and only moves up
    assert all(tags and set(tags.split()) <= set(classes) for tags in submission["tags"])
    # the thresholds are what the test rows were decided by: the members' mean probabilities against them
    mean = np.mean([np.load(workspace / "models" / m["run_id"] / "test_proba.npy") for m in sidecar["members"]], axis=0)
    cut = np.array([sidecar["thresholds"][c] for c in classes])
    decided = (mean >= cut) | ((mean >= cut).sum(axis=1, keepdims=True) == 0) & (mean == mean.max(axis=1, keepdims=True))
    assert submission["tags"].tolist() == [" ".join(c for c, on in zip(classes, row) if on) for row in decided]
    from kaggle_cnn.training.teacher import read_vote

    with pytest.raises(InputError, match="a multi-label vote; pseudo-labels and distillation learn from single-label"):
        read_vote(voted, None)
    tables = kcnn("-w", workspace, "metrics")  # a row per label, counted on its own
    assert tables.exit_code == 0 and "tp  fp  fn  tn" in tables.output, tables.output
    checked = kcnn("check", voted, "--data", root, "--multi-label")
    assert checked.exit_code == 0 and "id set and order" in checked.output and "tags" in checked.output
    scored = kcnn("score", voted, "--answers", answers, "--multi-label")
    assert scored.exit_code == 0, scored.output
    truth = pd.read_csv(answers, dtype=str).set_index("image_name").loc[submission["image_name"], "tags"]
    binarizer = MultiLabelBinarizer(classes=classes)
    expected = fbeta_score(binarizer.fit_transform(truth.str.split()), binarizer.transform(submission["tags"].str.split()),
                           beta=2, average="samples")
    assert f"f2_samples {expected:.4f} on {N_TEST} rows" in scored.output, scored.output


def test_ranzcr_data_train_vote_check_score(ranzcr, tmp_path, kcnn):
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    root, uids, answers = ranzcr
    shown = kcnn("data", root)
    assert shown.exit_code == 0 and "task:        multi-label" in shown.output, shown.output
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", root, "--model", "basic_cnn", "--epochs", 1,
                  "--metric", "mean_auc", "--val-fraction", 0.25)
    assert result.exit_code == 0 and "val_mean_auc" in result.output, result.output
    result = kcnn("-w", workspace, "vote")
    assert result.exit_code == 0 and "validation mean_auc" in result.output, result.output
    voted, submission, sidecar = voted_and_sidecar(workspace)
    sample = pd.read_csv(root / "sample_submission.csv", dtype=str)
    assert list(submission.columns) == list(sample.columns) and submission["StudyInstanceUID"].tolist() == uids
    assert sidecar["thresholds"] is None  # ROC AUC ranks probabilities: no decisions to fit
    checked = kcnn("check", voted, "--data", root)
    assert checked.exit_code == 0 and "id set and order" in checked.output, checked.output
    scored = kcnn("score", voted, "--answers", answers)
    assert scored.exit_code == 0, scored.output
    truth, proba = pd.read_csv(answers), pd.read_csv(voted)
    expected = np.mean([roc_auc_score(truth[c], proba[c]) for c in RANZCR])  # the mle-bench grader's arithmetic
    assert f"mean_auc {expected:.4f} on {N_TEST} rows" in scored.output, scored.output


def test_tags_unknown_to_training_are_refused(planet, tmp_path, kcnn, assert_refused):
    import shutil

    import pandas as pd

    root = tmp_path / "planet"
    shutil.copytree(planet[0], root)
    sample = pd.read_csv(root / "sample_submission_v2.csv", dtype=str)
    sample.loc[1, "tags"] = "animal haze"
    sample.to_csv(root / "sample_submission_v2.csv", index=False)
    assert_refused(kcnn("data", root, "--multi-label"),
                   "sample_submission_v2.csv line 3, column tags: tag 'haze' never occurs in training")
    sample.loc[1, "tags"] = "animal cat"
    sample.to_csv(root / "sample_submission_v2.csv", index=False)
    sample.loc[2, "tags"] = "cat haze"
    sample.to_csv(tmp_path / "sub.csv", index=False)
    assert_refused(kcnn("check", tmp_path / "sub.csv", "--data", root, "--multi-label"),
                   "sub.csv line 4, column tags: tag 'haze' is not a label of the training data")
    assert_refused(kcnn("check", tmp_path / "sub.csv", "--data", root), "for tags joined by spaces pass --multi-label")
