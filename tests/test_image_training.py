"""Image folders through the whole workflow: train (streamed, never decoded whole),
vote, metrics, score against the held-out answers, TTA, and a val/ folder as the
validation split. Real photos when ../shared is present, else real digits as PNGs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kaggle_cnn.data import demo_path, load_dataset
from kaggle_cnn.data.loaders.images import ImageFiles
from kaggle_cnn.store.workspace import Workspace

PER_CLASS = 15  # enough for a held-out test set (10 a class) and a 3-part split


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, shared_data) -> Path:
    """A flat class folder: 15 cats and 15 dogs (JPEGs of varying size), or, without
    ../shared, 15 + 15 MNIST digits written as PNGs in folders `low` and `high`."""
    root = tmp_path_factory.mktemp("photos") / "pets"
    catsdogs = shared_data / "catsdogs"
    if catsdogs.is_dir():
        for name in ("cat", "dog"):
            (root / name).mkdir(parents=True)
            for path in sorted((catsdogs / name).iterdir())[:PER_CLASS]:
                shutil.copy(path, root / name / path.name)
        return root
    frame = pd.read_csv(demo_path() / "train.csv.gz", nrows=200)
    pixels = frame.drop(columns="label").to_numpy(dtype=np.uint8).reshape(-1, 28, 28)
    for name, rows in (("low", frame.index[frame["label"] < 5]), ("high", frame.index[frame["label"] >= 5])):
        (root / name).mkdir(parents=True)
        for row in rows[:PER_CLASS]:
            Image.fromarray(pixels[row]).save(root / name / f"{row:04d}.png")
    return root


def test_train_vote_metrics_score_on_an_image_folder(kcnn, tmp_path, photo_folder, monkeypatch):
    def whole_folder_decoded(self, *args, **kwargs):
        raise AssertionError("training decoded a whole ImageFiles instead of streaming it")

    workspace = tmp_path / "ws"
    with monkeypatch.context() as patch:
        patch.setattr(ImageFiles, "__array__", whole_folder_decoded)
        result = kcnn("-w", workspace, "train", "--data", photo_folder, "--model", "vgg16", "--weights", "none",
                      "--image-size", 32, "--repeat", 2, "--keep-above", 0, "--epochs", 1, "--batch-size", 8)
    assert result.exit_code == 0, result.output
    classes = sorted(p.name for p in photo_folder.iterdir())
    runs = Workspace(workspace).runs()
    assert len(runs) == 2 and runs[0].classes == classes
    assert runs[0].record["data"]["kind"] == "image_folder"
    assert runs[0].record["data"]["load_options"]["image_size"] == [32, 32]

    result = kcnn("-w", workspace, "vote")
    assert result.exit_code == 0, result.output
    vote_csv = workspace / "submissions" / "ensemble" / "majority_vote.csv"
    vote = pd.read_csv(vote_csv, dtype=str)
    held_out = load_dataset(photo_folder, image_size=32)  # 10% of each class, labelled by its folder
    assert list(vote.columns) == ["file", "label"] and vote["file"].tolist() == held_out.test_ids
    assert len(vote) == 3 and set(vote["label"]) <= set(classes)  # labels written as the folder names
    for run in runs:
        assert run.test_proba().shape == (3, 2)
        np.testing.assert_allclose(run.test_proba().sum(axis=1), 1.0, atol=1e-5)

    result = kcnn("-w", workspace, "metrics")
    assert result.exit_code == 0, result.output
    metrics = pd.read_csv(workspace / "reports" / "metrics.csv")
    assert set(metrics["source"]) == {runs[0].run_id, runs[1].run_id, "ensemble/majority_vote"}
    assert set(classes) <= set(metrics["class"])

    result = kcnn("score", vote_csv, "--answers", photo_folder)
    assert result.exit_code == 0, result.output
    accuracy = np.mean(vote["label"].to_numpy() == np.array(held_out.test_labels))
    assert f"accuracy {accuracy:.4f} on 3 rows" in result.output

    run = runs[0]
    result = kcnn("-w", workspace, "tta", run.run_id, "--transforms", "hflip")
    assert result.exit_code == 0, result.output
    val_tta = np.load(run.path / "val_proba_tta.npy")
    assert np.load(run.path / "test_proba_tta.npy").shape == (3, 2) and val_tta.shape == run.val_proba().shape
    split = Workspace(workspace).find_split(run.fingerprint)
    recorded = Workspace(workspace).load_run(run.run_id).record["tta"]
    assert recorded["transforms"] == "hflip"
    assert recorded["val_accuracy"] == pytest.approx(np.mean(val_tta.argmax(axis=1) == split.val_labels))


def test_a_val_folder_is_the_validation_split(kcnn, assert_refused, tmp_path, photo_folder):
    split = tmp_path / "split"
    result = kcnn("data", "split", photo_folder, split, "--ratio", "0.6,0.2,0.2")
    assert result.exit_code == 0, result.output
    dataset = load_dataset(split, image_size=(32, 32))
    workspace = tmp_path / "ws"
    assert_refused(kcnn("-w", workspace, "train", "--data", split, "--image-size", 32, "--model", "basic_cnn",
                        "--val-fraction", 0.3, "--epochs", 1), "val/ folder is the validation set")
    assert not workspace.exists()
    result = kcnn("-w", workspace, "train", "--data", split, "--image-size", 32, "--model", "basic_cnn",
                  "--epochs", 1, "--batch-size", 8, "--keep-above", 0)
    assert result.exit_code == 0, result.output
    (split_file,) = (workspace / "models" / "splits").iterdir()
    assert json.loads(split_file.read_text())["val_indices"] == dataset.val_rows.tolist()
    (run,) = Workspace(workspace).runs()
    assert run.record["data"]["n_val"] == len(dataset.val_rows)
    submission = pd.read_csv(workspace / "submissions" / f"{run.run_id}.csv", dtype=str)
    assert submission["file"].tolist() == dataset.test_ids  # test/<class>/ images, labelled
    result = kcnn("score", workspace / "submissions" / f"{run.run_id}.csv", "--answers", split)
    assert result.exit_code == 0, result.output
    accuracy = np.mean(submission["label"].to_numpy() == np.array(dataset.test_labels))
    assert f"accuracy {accuracy:.4f} on {len(dataset.test_ids)} rows" in result.output


@pytest.mark.slow
def test_vgg16_from_scratch_learns_real_cats_and_dogs(kcnn, catsdogs, tmp_path):
    """VGG16 training checked at a size CI affords: VGG16 from scratch (no ImageNet weights)
    on 10 real photos of each class at 32x32, the smallest input VGG16 takes. Too few
    to generalise from, but enough to show the whole network trains: the model it
    saves has learnt its own training photos, which a network stuck at chance (as
    VGG16 is at Adam's default 1e-3 here) does not."""
    from kaggle_cnn.architectures import load_model
    from kaggle_cnn.training.fit import class_probabilities

    pets = tmp_path / "pets"
    for name in ("cat", "dog"):
        (pets / name).mkdir(parents=True)
        for path in sorted((catsdogs / name).iterdir())[:10]:
            shutil.copy(path, pets / name / path.name)
    workspace = Workspace(tmp_path / "ws")
    result = kcnn("-w", workspace.root, "train", "--data", pets, "--preset", "kaggle28", "--model", "vgg16",
                  "--weights", "none",
                  "--image-size", 32, "--epochs", 10, "--batch-size", 4, "--lr", 5e-5, "--set", "dropout=0",
                  "--reduce-lr-patience", 20, "--keep-above", 0)
    assert result.exit_code == 0, result.output
    (run,) = workspace.runs()
    dataset = load_dataset(pets, image_size=32)  # 10% of each class held out: one cat, one dog
    split = workspace.find_split(run.fingerprint)
    train_rows = split.train_indices(len(dataset.y_train))
    assert (len(dataset.test_ids), len(split.val_indices), len(train_rows)) == (2, 2, 16)
    assert run.classes == ["cat", "dog"] and run.record["params"] > 14_000_000  # all of VGG16, from scratch

    # predictions: one probability per class, summing to 1; the submission is their argmax
    test_proba = run.test_proba()
    assert test_proba.shape == (2, 2) and run.val_proba().shape == (2, 2)
    np.testing.assert_allclose(test_proba.sum(axis=1), 1.0, atol=1e-5)
    submission = pd.read_csv(workspace.member_submission(run.run_id), dtype=str)
    assert submission["file"].tolist() == dataset.test_ids
    assert submission["label"].tolist() == [run.classes[i] for i in test_proba.argmax(axis=1)]
    result = kcnn("score", workspace.member_submission(run.run_id), "--answers", pets)
    accuracy = np.mean(submission["label"].to_numpy() == np.array(dataset.test_labels))
    assert result.exit_code == 0 and f"accuracy {accuracy:.4f} on 2 rows" in result.output, result.output

    # it learnt: the training loss fell well below chance's ln 2 ...
    history = pd.read_csv(run.path / "history.csv")
    assert len(history) == 10 and history["loss"].iloc[-1] < 0.2, history["loss"].tolist()
    # ... and the saved model tells its 16 training photos apart (chance: 8)
    model = load_model(run.path / "model.keras")
    proba = class_probabilities(model.predict(np.asarray(dataset.x_train[train_rows]), verbose=0))
    assert np.mean(proba.argmax(axis=1) == dataset.y_train[train_rows]) >= 15 / 16
    np.testing.assert_allclose(class_probabilities(model.predict(np.asarray(dataset.x_train[split.val_indices]),
                                                                 verbose=0)), run.val_proba(), atol=1e-5)
