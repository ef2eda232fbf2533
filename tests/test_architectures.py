"""Every registered architecture builds for the data it is given; seed 004's
models match the parameter counts of the report's layer tables."""

import pytest

from kaggle_cnn.architectures import build, names
from kaggle_cnn.errors import InputError

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
