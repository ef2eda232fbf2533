"""Every registered architecture builds for the data it is given; seed 004's
models match the parameter counts of the report's layer tables."""

import pytest

from kaggle_cnn.architectures import build as registry_build
from kaggle_cnn.architectures import get, names
from kaggle_cnn.errors import InputError


def build(name, shape, n_classes, **options):
    """Pretrained backbones with weights=None: nothing here reaches the network."""
    if get(name).pretrained:
        options.setdefault("weights", None)
    return registry_build(name, shape, n_classes, **options)

# Totals from seed 004's tables (28x28x1 input, 5 classes).
SEED004_PARAMS = {"cnn1": 693_317, "cnn2": 13_017_125, "cnn3": 19_342_629, "cnn4": 1_503_749}


@pytest.mark.parametrize("name", names())
def test_builds_with_shape_and_classes_from_the_data(name):
    model = build(name, (28, 28, 1), 7)
    assert model.input_shape == (None, 28, 28, 1)
    assert model.output_shape == (None, 7)


@pytest.mark.parametrize("name, params", sorted(SEED004_PARAMS.items()))
def test_seed004_tables_layer_for_layer(name, params):
    assert build(name, (28, 28, 1), 5).count_params() == params


def test_kaggle_ensemble_is_the_hyperas_model():
    model = build("kaggle_ensemble", (28, 28, 1), 5)
    dropouts = [layer.rate for layer in model.layers if layer.__class__.__name__ == "Dropout"]
    assert dropouts == pytest.approx([0.13243678, 0.25767502, 0.31440486, 0.12715375])
    dense = [layer.units for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert dense == [256, 512, 5]


def test_unknown_model_names_the_choices():
    with pytest.raises(InputError, match="unknown model 'cnn9'.*kaggle_ensemble"):
        build("cnn9", (28, 28, 1), 10)


@pytest.mark.parametrize("name", names())
def test_two_classes_get_one_sigmoid_unit(name):
    model = build(name, (28, 28, 1), 2)
    assert model.output_shape == (None, 1)
    assert model.layers[-1].activation.__name__ == "sigmoid"


TINY_INPUTS = [(28, 28, 1), (33, 33, 3)]
# every CNN at both sizes; each backbone at one (grey 28x28 exercises the 3-channel
# repeat and the resize), keeping the suite within minutes on CI's 2 cores
CASES = [(name, shape) for name in names() for shape in TINY_INPUTS
         if not get(name).pretrained or shape == TINY_INPUTS[0]]


@pytest.mark.parametrize("name, shape", CASES, ids=[f"{n}-{'x'.join(map(str, s))}" for n, s in CASES])
def test_trains_one_step_and_predicts_on_tiny_input(name, shape):
    import numpy as np

    from kaggle_cnn.backend import load_keras

    keras = load_keras()
    model = build(name, shape, 3)
    # Tracing a 100-400 layer backbone into a graph costs 20-60 s on a 2-core CPU;
    # run eagerly, the same build, step and prediction take a few seconds.
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=get(name).pretrained)
    x = np.random.default_rng(0).random((4, *shape), dtype=np.float32)
    model.fit(x, np.array([0, 1, 2, 0]), epochs=1, batch_size=4, verbose=0)
    assert model.predict(x, verbose=0).shape == (4, 3)
    assert keras.ops.all(keras.ops.isfinite(model.predict(x, verbose=0)))


def test_residual_skips_line_up_at_odd_sizes():
    assert build("residual_cnn", (150, 150, 3), 2).output_shape == (None, 1)
    assert build("residual_cnn", (75, 75, 3), 10).output_shape == (None, 10)
