"""Pretrained backbones: the input pipeline, densenet121's block cutting, local
weight files, frozen-then-fine-tuned training in two phases, and every bad
option refused before a workspace is touched. Nothing here downloads: ImageNet
weights are replaced by a locally saved base (what `--weights PATH` is for)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_cnn.architectures import build, get, load_model, names
from kaggle_cnn.architectures.backbones import (
    BACKBONES,
    BackbonePreprocess,
    find_backbone,
)
from kaggle_cnn.backend import load_keras
from kaggle_cnn.errors import InputError

keras = load_keras()


@pytest.fixture(scope="module")
def mobilenet_weights(tmp_path_factory) -> Path:
    """A MobileNetV2 base's weights saved to a file, standing in for ImageNet's."""
    path = tmp_path_factory.mktemp("weights") / "mobilenet_v2_notop.weights.h5"
    keras.utils.set_random_seed(1)
    keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(path)
    return path


def test_registry_marks_the_six_backbones_as_pretrained():
    assert sorted(n for n in names() if get(n).pretrained) == sorted(b.name for b in BACKBONES)
    assert get("inception_v3").min_size == 75 and not get("cnn1").pretrained


def test_grey_input_is_repeated_resized_and_preprocessed():
    model = build("vgg16", (28, 28, 1), 10, weights=None)
    layer_names = [layer.name for layer in model.layers]
    assert layer_names[1:4] == ["grey_to_rgb", "resize", "preprocess"]
    assert model.get_layer("resize").output.shape[1:] == (32, 32, 3)
    assert find_backbone(model).trainable  # from scratch: everything trains
    model = build("inception_v3", (28, 28, 1), 10, weights=None, input_size=150)  # the 28x28 Kaggle write-up's size
    assert model.get_layer("resize").output.shape[1:] == (150, 150, 3)
    assert "resize" not in [layer.name for layer in build("vgg16", (64, 64, 3), 2, weights=None).layers]


@pytest.mark.parametrize("spec", BACKBONES, ids=lambda spec: spec.name)
def test_preprocessing_is_the_backbones_own(spec):
    images = np.random.default_rng(0).random((2, 8, 8, 3), dtype=np.float32)
    ours = np.asarray(BackbonePreprocess(spec.module)(images))
    theirs = getattr(keras.applications, spec.module).preprocess_input(images * 255.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-4)


def test_from_scratch_batch_norm_settles_faster_and_pretrained_keeps_its_own(mobilenet_weights):
    def momenta(model):
        return {layer.momentum for layer in find_backbone(model).layers
                if isinstance(layer, keras.layers.BatchNormalization)}

    assert momenta(build("mobilenet_v2", (32, 32, 3), 2, weights=None)) == {0.9}
    assert momenta(build("mobilenet_v2", (32, 32, 3), 2, weights=str(mobilenet_weights))) == {0.999}


def test_densenet_drop_blocks_matches_seed_002s_table():
    """7M -> 5M (one block), 1.5M (two), 380,000 (three), as the DenseNet121 write-up reported."""
    counts = [find_backbone(build("densenet121", (32, 32, 3), 8, weights=None, drop_blocks=k)).count_params()
              for k in range(4)]
    assert counts == [7_037_504, 4_847_168, 1_444_928, 381_760]


def test_saved_backbone_model_loads_back_with_its_preprocessing(tmp_path):
    model = build("mobilenet_v2", (28, 28, 1), 3, weights=None)
    x = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    model.save(tmp_path / "model.keras")
    again = load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_frozen_base_then_fine_tuning_of_the_last_layers(mobilenet_weights):
    """Phase 1 leaves the loaded base as it was; phase 2 changes its last layers only."""
    from kaggle_cnn.config import TrainConfig
    from kaggle_cnn.data import load_dataset
    from kaggle_cnn.training.fit import fit_one

    demo = load_dataset()
    arrays = {"x_train": demo.x_train[:96], "y_train": demo.y_train[:96], "x_val": demo.x_train[96:128],
              "y_val": demo.y_train[96:128]}
    saved = keras.applications.MobileNetV2(include_top=False, weights=str(mobilenet_weights), input_shape=(32, 32, 3))
    options = {"weights": str(mobilenet_weights)}
    frozen = fit_one(TrainConfig(model="mobilenet_v2", epochs=1, batch_size=32, model_options=options), 0,
                     x_test=demo.x_test[:8], n_classes=10, **arrays)
    base = find_backbone(frozen.model)
    assert not base.trainable
    assert len(base.get_weights()) == len(saved.get_weights()) > 0
    assert all(np.array_equal(a, b) for a, b in zip(base.get_weights(), saved.get_weights()))
    assert [row["phase"] for row in frozen.history] == ["frozen"]

    tuned = fit_one(TrainConfig(model="mobilenet_v2", epochs=1, batch_size=32, fine_tune_epochs=2, unfreeze=4,
                                fine_tune_lr=1e-3, model_options=options), 0,
                    x_test=demo.x_test[:8], n_classes=10, **arrays)
    assert [(row["epoch"], row["phase"]) for row in tuned.history] == [(1, "frozen"), (2, "fine-tune"),
                                                                         (3, "fine-tune")]
    base = find_backbone(tuned.model)
    changed = {layer.name for layer, before in zip(base.layers, saved.layers)
               if any(not np.array_equal(a, b) for a, b in zip(layer.get_weights(), before.get_weights()))}
    trainable = {layer.name for layer in base.layers[-4:] if layer.weights
                 and not isinstance(layer, keras.layers.BatchNormalization)}
    assert changed and changed <= trainable


def test_fine_tuning_is_recorded_in_run_json_and_history(kcnn, tmp_path, competition, mobilenet_weights):
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", competition, "--model", "mobilenet_v2", "--weights",
                  mobilenet_weights, "--epochs", 1, "--fine-tune-epochs", 1, "--unfreeze", 10,
                  "--augment", "rotation=10,zoom=0.1", "--batch-size", 64)
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in (workspace / "models").iterdir() if (p / "run.json").exists()]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["config"]["fine_tune_epochs"] == 1 and record["config"]["unfreeze"] == 10
    assert record["config"]["augment"] == "rotation=10,zoom=0.1"
    assert record["config"]["model_options"]["weights"] == str(mobilenet_weights.resolve())
    assert record["phases"] == {"frozen": 1, "fine-tune": 1}
    history = pd.read_csv(run_dir / "history.csv")
    assert history["phase"].tolist() == ["frozen", "fine-tune"] and history["epoch"].tolist() == [1, 2]


def _no_network(*args, **kwargs):
    # what keras.utils.get_file raises on a machine without network
    raise Exception("URL fetch failure on https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
                    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5: None -- [Errno -2] Name or service not known")


@pytest.mark.parametrize("args, fragments", [
    (["--model", "vgg16"], ["cannot download the ImageNet weights", "--weights none",
                            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"]),
    (["--model", "vgg16", "--weights", "none", "--set", "resize=false"], ["at least 32x32, these are 28x28"]),
    (["--model", "cnn1", "--weights", "none"], ["--weights: cnn1 has no pretrained base"]),
    (["--model", "vgg16", "--weights", "none", "--drop-blocks", "1"], ["vgg16 has no dense blocks"]),
    (["--model", "densenet121", "--weights", "none", "--drop-blocks", "4"], ["0 to 3 can go"]),
    (["--model", "cnn1", "--fine-tune-epochs", "2"], ["cnn1 has no pretrained base to fine-tune"]),
    (["--model", "vgg16", "--weights", "none", "--fine-tune-epochs", "2"], ["fine-tuning needs --weights imagenet"]),
    (["--model", "vgg16", "--weights", "none", "--unfreeze", "3"], ["--unfreeze only applies with --fine-tune"]),
    (["--model", "vgg16", "--weights", "missing.h5"], ["--weights missing.h5: no such file"]),
    (["--model", "vgg16", "--weights", "none", "--set", "head=pool"], ["head='pool'"]),
], ids=["offline", "too-small", "weights-on-cnn", "drop-blocks-on-vgg", "drop-too-many", "fine-tune-cnn",
        "fine-tune-from-scratch", "unfreeze-alone", "missing-file", "bad-head"])
def test_bad_backbone_options_are_refused_before_anything_is_written(kcnn, assert_refused, tmp_path, competition,
                                                                      monkeypatch, args, fragments):
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", _no_network)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))  # no cached weights either
    workspace = tmp_path / "ws"
    assert_refused(kcnn("-w", workspace, "train", "--data", competition, "--epochs", 1, *args), *fragments)
    assert not workspace.exists()


def test_a_weights_file_for_another_network_is_refused(kcnn, assert_refused, tmp_path, competition,
                                                       mobilenet_weights):
    workspace = tmp_path / "ws"
    assert_refused(kcnn("-w", workspace, "train", "--data", competition, "--model", "vgg16", "--weights",
                        mobilenet_weights), "not vgg16 weights without its top")
    assert not workspace.exists()


def test_check_refuses_input_below_the_minimum_without_resizing():
    from kaggle_cnn.architectures import check

    with pytest.raises(InputError, match="inception_v3 needs images of at least 75x75"):
        check("inception_v3", (64, 64, 3), 2, weights=None, resize=False)
    check("inception_v3", (64, 64, 3), 2, weights=None)  # resized up inside the model


def test_dropout_sets_every_rate_of_the_model(kcnn, assert_refused, tmp_path, competition):
    from kaggle_cnn.training.settings import model_shortcuts

    assert model_shortcuts("kaggle_ensemble", 0.3, None, None) == {f"dropout{i}": 0.3 for i in range(1, 5)}
    assert model_shortcuts("cnn2", 0.1, None, None) == {"conv_dropout": 0.1, "dense_dropout": 0.1}
    assert model_shortcuts("vgg16", 0.2, "none", None) == {"dropout": 0.2, "weights": "none"}
    assert_refused(kcnn("-w", tmp_path / "ws", "train", "--data", competition, "--model", "basic_cnn",
                        "--dropout", 0.3), "basic_cnn has no dropout layers")
    assert not (tmp_path / "ws").exists()


def test_pictures_look_inside_the_backbone_also_behind_augmentation():
    """The DenseNet121 write-up drew its inner layers: activations and filter patterns
    reach the backbone's conv layers from the model's own input."""
    from kaggle_cnn.report.model_views import (
        conv_layer_names,
        default_layers,
        feature_maps,
        filter_patterns,
    )
    from kaggle_cnn.training.augment import with_augmentation

    model = with_augmentation(build("vgg16", (28, 28, 1), 2, weights=None), "hflip")
    names = conv_layer_names(model)
    assert len(names) == 13 and names[0] == "block1_conv1"
    picked = default_layers(model)
    assert len(picked) == 8 and picked[0] == names[0] and picked[-1] == names[-1]
    image = np.random.default_rng(0).random((28, 28, 1), dtype=np.float32)
    maps = feature_maps(model, image, ["block1_conv1", "block5_conv3"])
    assert maps["block1_conv1"].shape == (32, 32, 64) and maps["block5_conv3"].shape == (2, 2, 512)
    assert filter_patterns(model, "block2_conv1", n=2, steps=2).shape == (2, 28, 28, 1)
