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
from conftest import kcnn
from PIL import Image
from test_bad_input import assert_refused

from kaggle_cnn.data import demo_path, load_dataset
from kaggle_cnn.data.loaders.folders import ImageFiles
from kaggle_cnn.store.workspace import Workspace

CATSDOGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "catsdogs"
PER_CLASS = 15  # enough for a held-out test set (10 a class) and a 3-part split


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    """A flat class folder: 15 cats and 15 dogs (JPEGs of varying size), or, without
    ../shared, 15 + 15 MNIST digits written as PNGs in folders `low` and `high`."""
    root = tmp_path_factory.mktemp("photos") / "pets"
    if CATSDOGS.is_dir():
        for name in ("cat", "dog"):
            (root / name).mkdir(parents=True)
            for path in sorted((CATSDOGS / name).iterdir())[:PER_CLASS]:
                shutil.copy(path, root / name / path.name)
        return root
    frame = pd.read_csv(demo_path() / "train.csv.gz", nrows=200)
    pixels = frame.drop(columns="label").to_numpy(dtype=np.uint8).reshape(-1, 28, 28)
    for name, rows in (("low", frame.index[frame["label"] < 5]), ("high", frame.index[frame["label"] >= 5])):
        (root / name).mkdir(parents=True)
        for row in rows[:PER_CLASS]:
            Image.fromarray(pixels[row]).save(root / name / f"{row:04d}.png")
    return root


def test_train_vote_metrics_score_on_an_image_folder(tmp_path, photo_folder, monkeypatch):
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
    vote = pd.read_csv(workspace / "submissions" / "ensemble" / "majority_vote.csv", dtype=str)
    assert list(vote.columns) == ["file", "label"] and len(vote) == 3  # 10% of the 30 held out, stratified
    assert set(vote["label"]) <= set(classes)  # labels written as the folder names
    assert all(file.split("/")[0] in classes for file in vote["file"])

    result = kcnn("-w", workspace, "metrics")
    assert result.exit_code == 0, result.output
    assert all(name in result.output for name in classes)

    result = kcnn("score", workspace / "submissions" / "ensemble" / "majority_vote.csv", "--answers", photo_folder)
    assert result.exit_code == 0 and "on 3 rows" in result.output, result.output

    result = kcnn("-w", workspace, "predict", runs[0].run_id, "--tta", "hflip")
    assert result.exit_code == 0, result.output
    assert np.load(runs[0].path / "test_proba_tta.npy").shape == (3, 2)


def test_a_val_folder_is_the_validation_split(tmp_path, photo_folder):
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
    result = kcnn("score", workspace / "submissions" / f"{run.run_id}.csv", "--answers", split)
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_done_when_vgg16_from_scratch_on_real_cats_and_dogs(tmp_path):
    """Issue 3's check, as written: 800 real JPEGs at 64x64, two runs, vote, metrics."""
    if not CATSDOGS.is_dir():
        pytest.skip(f"real cats/dogs JPEGs not present ({CATSDOGS})")
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", CATSDOGS, "--model", "vgg16", "--weights", "none",
                  "--image-size", 64, "--repeat", 2, "--keep-above", 0, "--epochs", 1)
    assert result.exit_code == 0, result.output
    assert kcnn("-w", workspace, "vote").exit_code == 0
    result = kcnn("-w", workspace, "metrics")
    assert result.exit_code == 0 and "cat" in result.output and "dog" in result.output
    vote = pd.read_csv(workspace / "submissions" / "ensemble" / "majority_vote.csv", dtype=str)
    assert len(vote) == 80 and set(vote["label"]) <= {"cat", "dog"}
