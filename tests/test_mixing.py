"""--mix (mixup, CutMix) and augmentations the images cannot take."""

import numpy as np
import pytest

from kaggle_cnn.errors import InputError
from kaggle_cnn.training.augment import check_augment
from kaggle_cnn.training.mixing import check_mix, mixed_batches, parse_mix


def _batches(kind: str, n_classes: int = 3):
    import tensorflow as tf

    images = np.stack([np.full((6, 6, 1), value, np.float32) for value in (0.0, 1.0, 0.0, 1.0)])
    labels = np.array([0, 1, 2, 1]) % n_classes
    stream = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    return [(np.asarray(x), np.asarray(y)) for x, y in mixed_batches(stream, kind, n_classes, seed=3).repeat(5)]


def test_mixup_blends_images_and_labels_in_the_same_share():
    for images, labels in _batches("mixup=1"):
        assert labels.shape == (4, 3) and np.allclose(labels.sum(axis=1), 1.0)
        # images are 0 or 1 everywhere: a blend's value is the share of the 1-image, as the label's class 1
        share_of_ones = images.reshape(4, -1).mean(axis=1)
        assert np.allclose(share_of_ones, labels[:, 1], atol=1e-5)


def test_cutmix_pastes_a_rectangle_and_labels_follow_its_area():
    for images, labels in _batches("cutmix=1"):
        assert np.allclose(labels.sum(axis=1), 1.0)
        assert set(np.unique(images)) <= {0.0, 1.0}  # pasted, not blended
        assert np.allclose(images.reshape(4, -1).mean(axis=1), labels[:, 1], atol=1e-5)


def test_two_classes_mix_the_second_class_s_probability():
    images, labels = _batches("mixup=0.2,cutmix=1", n_classes=2)[0]
    assert labels.shape == (4,) and ((labels >= 0) & (labels <= 1)).all()


@pytest.mark.parametrize("text, message", [
    ("mixup=-1", "--mix 'mixup=-1': mixup must be a finite number in (0, 1]"),
    ("cutmix=2", "--mix 'cutmix=2': cutmix must be a finite number in (0, 1]"),
    ("mixup", "--mix 'mixup': use mixup=A and/or cutmix=A"),
    (",", "--mix needs mixup=A or cutmix=A"),
])
def test_bad_mixes_are_refused(text, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        parse_mix(text)


def test_augmentations_the_images_cannot_take_are_refused():
    with pytest.raises(InputError, match="--augment hflip: 28x1x1 images are one pixel wide"):
        check_augment("hflip", (28, 1, 1))
    with pytest.raises(InputError, match="--augment vflip: 1x28x1 images are one pixel high"):
        check_augment("vflip,shift=0.1", (1, 28, 1))
    with pytest.raises(InputError, match="--augment shift: 1x1x3 images are too small to move"):
        check_augment("shift=0.1", (1, 1, 3))
    with pytest.raises(InputError, match="--mix cutmix: 1x5x1 images have no rectangle to paste"):
        check_mix("cutmix=1", (1, 5, 1))
    check_augment("hflip,shift=0.1", (2, 2, 1))
    check_mix("mixup=0.2", (1, 1, 1))


def test_training_with_mix_records_it(kcnn, competition, tmp_path):
    import json

    result = kcnn("-w", tmp_path, "train", "--data", competition, "--epochs", 1, "--batch-size", 32,
                  "--set", "width=4", "--set", "stages=2", "--mix", "mixup=0.2,cutmix=1")
    assert result.exit_code == 0, result.output
    record = json.loads(next((tmp_path / "models").glob("*/run.json")).read_text())
    assert record["config"]["mix"] == "mixup=0.2,cutmix=1" and record["phases"] == {"train": 1}
    assert np.isfinite(record["scores"]["val_loss"])
