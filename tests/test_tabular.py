"""Table columns beside the images (--tabular-columns): the encoder against values
worked out by hand, a SIIM-ISIC melanoma miniature (MNIST digits as the lesions,
the target partly given by a metadata column) going data -> train -> vote ->
check -> score through the CLI, predicted again from its saved model, and the bad
inputs."""

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_cnn.data.loaders.tabular import choose_columns, fit_encoding

N_TRAIN, N_TEST = 200, 60
META = ["patient_id", "sex", "age_approx", "anatom_site_general_challenge"]


# ---------------------------------------------------------------- the encoder


def test_encoder_by_hand(tmp_path):
    path = tmp_path / "train.csv"
    train = pd.DataFrame({"age": ["20", "40", "", "60"], "sex": ["m", "f", "", "m"]}, dtype=object)
    encoding = fit_encoding(train, ["age", "sex"], path)
    age, sex = encoding.columns
    std = np.sqrt(((20 - 40) ** 2 + 0 + (60 - 40) ** 2) / 3)  # of the three present values
    assert age == {"name": "age", "kind": "numeric", "mean": 40.0, "std": pytest.approx(std), "median": 40.0}
    assert sex == {"name": "sex", "kind": "categorical", "categories": ["f", "m", None]}
    assert encoding.names == ["age", "age missing", "sex=f", "sex=m", "sex=(missing)"]
    encoded = encoding.transform(train, path, [0, 1, 2, 3])
    expected = np.array([[-20 / std, 0, 0, 1, 0],
                         [0, 0, 1, 0, 0],
                         [0, 1, 0, 0, 1],  # age missing: the median (40), standardised to 0, and flagged
                         [20 / std, 0, 0, 1, 0]], dtype=np.float32)
    np.testing.assert_allclose(encoded, expected, rtol=1e-6)
    # a test row: a category training never saw is all zeros; a missing age the training median
    test = pd.DataFrame({"age": ["", "100"], "sex": ["x", "f"]}, dtype=object)
    np.testing.assert_allclose(encoding.transform(test, path, [0, 1]),
                               [[0, 1, 0, 0, 0], [60 / std, 0, 1, 0, 0]], rtol=1e-6)
    assert encoding.record()["width"] == 5


def test_auto_leaves_out_ids_constants_and_columns_test_lacks(tmp_path):
    table = pd.DataFrame({"image_name": [f"i{k}" for k in range(60)], "patient": [f"p{k}" for k in range(60)],
                          "visit": [f"v{k % 55}" for k in range(60)], "site": ["a", "b", "c"] * 20,
                          "scanner": "one", "age": [str(k) for k in range(60)], "diagnosis": "x", "target": "0"})
    chosen, left_out = choose_columns("auto", table, tmp_path / "train.csv", ["image_name", "target"],
                                      ["image_name", "patient", "visit", "site", "scanner", "age"],
                                      tmp_path / "test.csv")
    assert chosen == ["site", "age"]  # age: numbers, each row its own, still a column to use
    assert dict(left_out) == {"patient": "a different value on every row",
                              "visit": "55 categories: an identifier, at most 50 are one-hot",
                              "scanner": "constant", "diagnosis": "not in test.csv"}


# ---------------------------------------------------------------- the SIIM-ISIC miniature


def siim(root: Path, digits: np.ndarray, labels: np.ndarray, n_train: int) -> tuple[list[str], Path]:
    """SIIM-ISIC's layout: train.csv (image_name, patient_id, sex, age_approx,
    anatom_site_general_challenge, diagnosis, benign_malignant, target), test.csv of the
    same metadata, train/ and test/ images, sample_submission.csv (image_name,target) in
    its own order, and the hidden answers. target is 1 for a 0 digit, or when age_approx
    is 75 or more: the table says what the image cannot."""
    from PIL import Image

    n = len(digits)
    rng = np.random.default_rng(0)
    names = [f"ISIC_{k:07d}" for k in range(n)]
    age = rng.choice(np.arange(20, 95, 5), n)
    target = ((labels == 0) | (age >= 75)).astype(int)
    frame = pd.DataFrame({
        "image_name": names, "patient_id": [f"IP_{k // 3:04d}" for k in range(n)],
        "sex": rng.choice(["male", "female"], n),
        "age_approx": ["" if k % 17 == 3 else f"{a:.1f}" for k, a in enumerate(age)],  # some missing, as in SIIM
        "anatom_site_general_challenge": rng.choice(["torso", "lower extremity", "head/neck", ""], n),
        "diagnosis": np.where(target == 1, "melanoma", "nevus"),
        "benign_malignant": np.where(target == 1, "malignant", "benign"), "target": target})
    for part, rows in (("train", range(n_train)), ("test", range(n_train, n))):
        (root / part).mkdir(parents=True)
        for k in rows:
            Image.fromarray(digits[k]).save(root / part / f"{names[k]}.png")
    frame[:n_train].to_csv(root / "train.csv", index=False)
    frame[n_train:][["image_name", *META]].to_csv(root / "test.csv", index=False)
    test = names[n_train:][::-1]  # the sample's order is not test.csv's
    pd.DataFrame({"image_name": test, "target": 0}).to_csv(root / "sample_submission.csv", index=False)
    answers = root.parent / f"{root.name}_answers.csv"
    frame[n_train:][["image_name", "target"]].to_csv(answers, index=False)
    return test, answers


@pytest.fixture(scope="module")
def mnist(shared_data):
    path = shared_data / "mnist.npz"
    if not path.exists():
        pytest.skip(f"needs the real dataset {path}")
    data = np.load(path)
    return data["x_train"][: N_TRAIN + N_TEST], data["y_train"][: N_TRAIN + N_TEST]


@pytest.fixture(scope="module")
def melanoma(tmp_path_factory, mnist):
    root = tmp_path_factory.mktemp("siim") / "siim-isic"
    test, answers = siim(root, *mnist, N_TRAIN)
    return root, test, answers


def test_siim_data_train_vote_check_score(melanoma, tmp_path, kcnn):
    from sklearn.metrics import roc_auc_score

    from kaggle_cnn import api

    root, test, answers = melanoma
    shown = kcnn("data", root, "--tabular-columns", "auto")
    assert shown.exit_code == 0, shown.output
    assert ("table: 3 columns joined to the images, 8 numbers a row: sex (2 categories), age_approx (numeric), "
            "anatom_site_general_challenge (4 categories)") in shown.output, shown.output
    assert ("table: left out patient_id (67 categories: an identifier, at most 50 are one-hot); diagnosis (not in "
            "test.csv); benign_malignant (not in test.csv)") in shown.output, shown.output
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", root, "--tabular-columns", "auto", "--model", "basic_cnn",
                  "--epochs", 1, "--repeat", 2, "--metric", "roc_auc", "--keep-above", 0)
    assert result.exit_code == 0 and "val_roc_auc" in result.output, result.output
    runs = sorted((workspace / "models").glob("*/run.json"))
    record = json.loads(runs[0].read_text())["data"]
    assert record["load_options"]["tabular_columns"] == "auto"
    train = pd.read_csv(root / "train.csv")
    ages = train["age_approx"].dropna()
    age = record["tabular"]["columns"][1]
    assert age == {"name": "age_approx", "kind": "numeric", "mean": pytest.approx(ages.mean()),
                   "std": pytest.approx(ages.std(ddof=0)), "median": ages.median()}
    assert record["tabular"]["columns"][2]["categories"] == ["head/neck", "lower extremity", "torso", None]
    assert record["tabular"]["width"] == 8 and "patient_id" in record["tabular"]["left_out"]
    # the network has the table as its second input, joined before the classifier
    from kaggle_cnn.architectures import load_model

    model = load_model(runs[0].parent / "model.keras")
    assert [tuple(i.shape) for i in model.inputs] == [(None, 28, 28, 1), (None, 8)]
    assert model.get_layer("table_join").output.shape[-1] == model.get_layer("predictions").input.shape[-1]

    result = kcnn("-w", workspace, "vote")
    assert result.exit_code == 0 and "validation roc_auc" in result.output, result.output
    voted = workspace / "submissions" / "ensemble" / "soft_vote.csv"
    submission = pd.read_csv(voted, dtype=str)
    sample = pd.read_csv(root / "sample_submission.csv", dtype=str)
    assert list(submission.columns) == ["image_name", "target"] == list(sample.columns)
    assert submission["image_name"].tolist() == sample["image_name"].tolist() == test
    checked = kcnn("check", voted, "--data", root)
    assert checked.exit_code == 0 and "id set and order" in checked.output, checked.output
    scored = kcnn("score", voted, "--answers", answers, "--metric", "roc_auc")
    truth = pd.read_csv(answers).set_index("image_name").loc[test, "target"]
    expected = roc_auc_score(truth, submission["target"].astype(float))
    assert scored.exit_code == 0 and f"roc_auc {expected:.4f} on {N_TEST} rows" in scored.output, scored.output

    # predicted again from the saved model: the table rows go with the images (hflip: the same
    # probabilities come back only if the table went in as in training, tested on the plain view)
    run_id = runs[0].parent.name
    result = kcnn("-w", workspace, "tta", run_id, "--transforms", "hflip")
    assert result.exit_code == 0, result.output
    dataset = api.load_data(root, tabular_columns="auto")
    from kaggle_cnn.training.fit import predict_proba

    again = predict_proba(model, dataset.x_test, 32, 2)
    np.testing.assert_allclose(again, np.load(runs[0].parent / "test_proba.npy"), atol=1e-5)
    assert np.load(runs[0].parent / "test_proba_tta.npy").shape == (N_TEST, 2)
    assert dataset.x_test.table.shape == (N_TEST, 8)
    assert pickle.loads(pickle.dumps(dataset.x_test)).table.tobytes() == dataset.x_test.table.tobytes()  # to workers
    assert_exported = kcnn("-w", workspace, "export-inference", voted, tmp_path / "bundle")
    assert assert_exported.exit_code == 2 and "table columns" in assert_exported.stderr


# ---------------------------------------------------------------- bad input


@pytest.fixture
def small(tmp_path, mnist):
    root = tmp_path / "small"
    siim(root, mnist[0][:30], mnist[1][:30], 20)
    return root


def edit(path: Path, row: int, column: str, value: str) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row, column] = value
    frame.to_csv(path, index=False)


def test_bad_table_columns_are_refused(small, tmp_path, kcnn, assert_refused):
    workspace = tmp_path / "ws"
    train = ("-w", workspace, "train", "--data", small, "--epochs", 1, "--repeat", 1)
    assert_refused(kcnn(*train, "--tabular-columns", "age_approx,weight"),
                   "--tabular-columns weight: no such column in train.csv")
    assert_refused(kcnn(*train, "--tabular-columns", "sex,diagnosis"),
                   "--tabular-columns diagnosis: in train.csv but not in test.csv")
    assert_refused(kcnn(*train, "--tabular-columns", "target"), "--tabular-columns target: the id or label column")
    assert_refused(kcnn(*train, "--tabular-columns", "sex", "--mix", "mixup=0.2"),
                   "--mix mixup=0.2: it blends images, not their table rows")
    edit(small / "train.csv", 3, "age_approx", "seventy")
    assert_refused(kcnn(*train, "--tabular-columns", "auto"),
                   "train.csv line 5, column age_approx: 'seventy' is not a number")
    edit(small / "train.csv", 3, "age_approx", "70")
    edit(small / "test.csv", 6, "age_approx", "old")
    assert_refused(kcnn("data", small, "--tabular-columns", "age_approx"),
                   "test.csv line 8, column age_approx: 'old' is not a number")
    edit(small / "test.csv", 6, "age_approx", "")
    test = pd.read_csv(small / "test.csv", dtype=str)
    test[1:].to_csv(small / "test.csv", index=False)
    assert_refused(kcnn("data", small, "--tabular-columns", "sex"),
                   f"test id '{test['image_name'][0]}' has no row in test.csv")
    assert not workspace.exists() or not any(workspace.rglob("*.json"))
    shutil.rmtree(small)


# ---------------------------------------------------------------- the network


def test_every_architecture_joins_the_table_before_its_classifier():
    """Every registered network (its weights not allocated) takes (images, table rows)
    and ends with the heads' classifier, reading the joined features: a softmax, one
    sigmoid unit for two classes, a sigmoid per label for multi-label."""
    from kaggle_cnn.architectures import names, registry
    from kaggle_cnn.architectures.heads import multi_label_head
    from kaggle_cnn.architectures.table_join import TABLE_UNITS, with_table
    from kaggle_cnn.backend import load_keras

    for name in names():
        options = {"weights": "none"} if "weights" in registry.options(name) else {}
        for n_classes, multi in ((2, False), (5, False), (5, True)):
            with registry._weights_deferred(load_keras()), multi_label_head(multi):
                model = registry.build(name, (32, 32, 3), n_classes, **options)
                features = model.get_layer("predictions").input.shape[-1]
                joined = with_table(model, 7, n_classes)
            head = joined.get_layer("predictions")
            assert [tuple(i.shape) for i in joined.inputs] == [(None, 32, 32, 3), (None, 7)], name
            assert head.input.shape[-1] == features + TABLE_UNITS, name
            assert head.units == (1 if n_classes == 2 else 5), name
            assert head.activation.__name__ == ("softmax" if n_classes == 5 and not multi else "sigmoid"), name
