"""Every registered architecture builds for the data it is given; the 28x28 Kaggle write-up's
models match the parameter counts of the report's layer tables."""

import pytest

from kaggle_cnn.architectures import build as registry_build
from kaggle_cnn.architectures import (
    check,
    check_options,
    get,
    names,
    option_checks,
    options,
    shapes_only_build,
)
from kaggle_cnn.errors import InputError


def build(name, shape, n_classes, **options):
    """Pretrained backbones with weights=None: nothing here reaches the network."""
    if get(name).pretrained:
        options.setdefault("weights", None)
    return registry_build(name, shape, n_classes, **options)

# Totals from the 28x28 Kaggle write-up's tables (28x28x1 input, 5 classes).
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


# A value of the wrong type for each kind of option.
WRONG_TYPE = {"int": "abc", "number": "abc", "flag": "abc", "text": 3, "choice": 3}
OPTIONS = [(name, option) for name in names() for option in options(name)]


def test_every_option_of_every_model_has_a_check():
    for name in names():
        assert set(option_checks(name)) == set(options(name)), name


@pytest.mark.parametrize("name, option", OPTIONS, ids=[f"{n}-{o}" for n, o in OPTIONS])
def test_a_wrong_typed_option_is_refused_naming_it(name, option):
    bad = WRONG_TYPE[option_checks(name)[option].kind]
    with pytest.raises(InputError, match=f"^{name}: {option} {bad!r}: must be "):
        check_options(name, {option: bad})
    with pytest.raises(InputError, match=f"^--set {option}=abc: must be " if bad == "abc" else f"--set {option}=3"):
        check_options(name, {option: bad}, "--set")
    with pytest.raises(InputError, match=f"{name}: {option} "):
        check(name, (28, 28, 1), 10, **{option: bad})  # before a backbone would fetch any weights


@pytest.mark.parametrize("name", names())
def test_every_default_passes_its_own_check(name):
    assert check_options(name, options(name)) == options(name)


@pytest.mark.parametrize("name, option, value, message", [
    ("cnn1", "dropout", 1.0, "cnn1: dropout 1.0: must be a finite number in [0, 1)"),
    ("cnn1", "dropout", None, "cnn1: dropout null: must be a finite number in [0, 1)"),
    ("cnn1", "dropout", float("nan"), "cnn1: dropout nan: must be a finite number in [0, 1)"),
    ("cnn1", "dense_units", 0, "cnn1: dense_units 0: must be an integer of at least 1"),
    ("cnn1", "dense_units", True, "cnn1: dense_units true: must be an integer of at least 1"),
    ("kaggle_ensemble", "dense1", 12.5, "kaggle_ensemble: dense1 12.5: must be an integer of at least 1"),
    ("basic_cnn", "dense_units", -1, "basic_cnn: dense_units -1: must be an integer of at least 0"),
    ("cifar100_cnn", "width", 0, "cifar100_cnn: width 0: must be an integer of at least 1"),
    ("vgg16", "input_size", 0, "vgg16: input_size 0: must be an integer of at least 1"),
    ("vgg16", "resize", "no", "vgg16: resize 'no': must be true or false"),
    ("vgg16", "dense", -1, "vgg16: dense -1: must be an integer of at least 0"),
    ("cnn1", "width", 3, "cnn1: cnn1 has no option 'width'"),
])
def test_option_ranges(name, option, value, message):
    with pytest.raises(InputError) as refused:
        check_options(name, {option: value})
    assert str(refused.value).startswith(message), str(refused.value)


def test_options_are_normalised_and_zero_means_none_where_documented():
    assert check_options("kaggle_ensemble", {"dense1": 128.0, "dropout1": 0}) == {"dense1": 128, "dropout1": 0.0}
    # dense_units=0: three conv blocks (320 + 9,248 + 9,248, batch norm 3 x 128) straight into softmax (4x4x32 -> 10)
    assert build("basic_cnn", (28, 28, 1), 10, dense_units=0).count_params() == 320 + 2 * 9_248 + 3 * 128 + 5_130
    assert check_options("vgg16", {"input_size": None, "weights": None}) == {"input_size": None, "weights": None}


@pytest.mark.parametrize("name, shape", [("cnn4", (4, 4, 1)), ("kaggle_ensemble", (784, 1, 1)),
                                         ("cnn1", (784, 1, 1))])
def test_images_too_small_for_the_model_are_one_line(name, shape):
    text = "x".join(map(str, shape))
    with pytest.raises(InputError, match=f"^{name} cannot take {text} images: its convolutions and pooling shrink "
                                         "them below 1 pixel"):
        check(name, shape, 10)


def test_shapes_only_builds_count_any_size_without_memory():
    """10 million classes: cnn1's head alone would be 5 GB of weights; counted, never allocated."""
    from keras.src.backend.common import global_state

    before = global_state.get_global_attribute("uninitialized_variables")
    model = shapes_only_build("cnn1", (28, 28, 1), 10_000_000)
    assert model.count_params() == 320 + 13 * 13 * 32 * 128 + 128 + 128 * 10_000_000 + 10_000_000
    assert global_state.get_global_attribute("uninitialized_variables") == before  # nothing left to allocate later
    assert build("cnn1", (28, 28, 1), 5).count_params() == SEED004_PARAMS["cnn1"]  # real builds as before
