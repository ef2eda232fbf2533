"""Augmentation as preprocessing layers: parsing, training with it, the preview."""

from __future__ import annotations

import numpy as np
import pytest

from kaggle_cnn.data import load_dataset
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.workspace import Workspace
from kaggle_cnn.training.augment import augmentation_layers, parse_augment, preview


def test_parse_the_seed_settings():
    assert parse_augment("rotation=40,shift=0.2,shear=0.2,zoom=0.2,hflip,fill=reflect") == {
        "rotation": 40.0, "shift": 0.2, "shear": 0.2, "zoom": 0.2, "hflip": True, "fill": "reflect"}


@pytest.mark.parametrize("spec, fragment", [
    ("spin=3", "spin=3"), ("rotation=x", "rotation must be a finite number in (0, 360]"),
    ("zoom=2", "zoom must be a finite number in (0, 1]"), ("rotation=nan", "rotation must be a finite number"),
    ("shift=inf", "shift must be a finite number"), ("rotation=1e400", "rotation must be a finite number"),
    ("shear=0", "shear must be a finite number in (0, 1]"),
    ("fill=nearest", "at least one"), ("", "at least one")])
def test_bad_specs(spec, fragment):
    with pytest.raises(InputError) as refused:
        parse_augment(spec)
    assert fragment in str(refused.value)


def test_layers_in_imagedatagenerator_order():
    names = [type(layer).__name__ for layer in augmentation_layers("zoom=0.1,rotation=10,hflip,shift=0.1,shear=0.1")]
    assert names == ["RandomFlip", "RandomRotation", "RandomTranslation", "RandomShear", "RandomZoom"]


def test_preview_keeps_originals_and_changes_copies():
    images = load_dataset().x_train[:2]
    grid = preview(images, "rotation=30,zoom=0.2", copies=3)
    assert grid.shape == (2, 4, 28, 28, 1)
    assert np.array_equal(grid[:, 0], images)
    for copy in range(1, 4):  # every copy is changed, and each differently
        assert not np.allclose(grid[:, copy], images)
    assert not np.allclose(grid[:, 1], grid[:, 2])


def test_training_with_augmentation(kcnn, competition, tmp_path):
    result = kcnn("-w", tmp_path, "train", "--data", competition, "--model", "cnn1", "--epochs", 1,
                  "--augment", "rotation=10,zoom=0.1")
    assert result.exit_code == 0, result.output
    run = Workspace(tmp_path).runs()[0]
    assert run.record["config"]["augment"] == "rotation=10,zoom=0.1"
    from kaggle_cnn.backend import load_keras

    model = load_keras().saving.load_model(run.path / "model.keras")
    assert [type(layer).__name__ for layer in model.layers[:2]] == ["RandomRotation", "RandomZoom"]
    dataset = load_dataset(competition)
    split = Workspace(tmp_path).find_split(run.fingerprint)
    # augmentation is a no-op at prediction: the saved model predicts the stored probabilities
    np.testing.assert_allclose(model.predict(dataset.x_train[split.val_indices], verbose=0), run.val_proba(),
                               atol=1e-5)
    np.testing.assert_allclose(model.predict(dataset.x_test, verbose=0), run.test_proba(), atol=1e-5)


def test_preview_command_and_its_bad_input(kcnn, assert_refused, tmp_path):
    result = kcnn("-w", tmp_path, "data", "preview", "--augment", "shift=0.1,hflip", "--n", 2, "--copies", 3)
    assert result.exit_code == 0, result.output
    png = tmp_path / "reports" / "plots" / "augment-preview.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_refused(kcnn("-w", tmp_path / "ws", "data", "preview", "--augment", "spin=3"), "spin=3")
    assert_refused(kcnn("-w", tmp_path / "ws", "train", "--model", "cnn1", "--augment", "zoom=5"), "zoom")
    assert not (tmp_path / "ws").exists()
