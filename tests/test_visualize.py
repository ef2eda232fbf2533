"""Feature-map and filter-pattern figures on a real demo image, with untrained
cnn1 and kaggle_ensemble (the plumbing, not the training, is under test)."""

from __future__ import annotations

import numpy as np
import pytest

from kaggle_cnn.errors import InputError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def keras():
    from kaggle_cnn.backend import load_keras

    return load_keras()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    from kaggle_cnn.data import load_dataset

    return load_dataset().x_train[0]


@pytest.fixture(scope="module")
def cnn1(keras):
    from kaggle_cnn.architectures import build

    keras.utils.set_random_seed(0)
    return build("cnn1", (28, 28, 1), 10)


@pytest.fixture(scope="module")
def ensemble(keras):
    from kaggle_cnn.architectures import build

    keras.utils.set_random_seed(0)
    return build("kaggle_ensemble", (28, 28, 1), 10)


def _vis():
    from kaggle_cnn.report import model_views as visualize

    return visualize


def _image_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.images]


def _block_titles(fig) -> list[str]:
    return [block.get_suptitle() for block in fig.subfigs]


def _one_filter_means(keras, model, layer: str, images: np.ndarray) -> np.ndarray:
    """Mean output of filter i on image i: what the ascent is meant to raise."""
    extractor = keras.Model(model.inputs[0], model.get_layer(layer).output)
    maps = np.asarray(extractor(images.astype(np.float32), training=False))
    own = np.arange(len(images))
    return maps.mean(axis=(1, 2))[own, own]


# --- conv_layer_names --------------------------------------------------------------


# Keras numbers default layer names per process (conv2d, conv2d_1, ...), so the
# tests take names from the models rather than spelling them out.


def test_conv_layer_names_in_order(cnn1, ensemble):
    vis = _vis()
    assert [cnn1.get_layer(name) for name in vis.conv_layer_names(cnn1)] == [cnn1.layers[0]]
    conv_positions = [0, 1, 4, 5]  # conv, conv, pool, dropout, conv, conv, ...
    assert [ensemble.get_layer(name) for name in vis.conv_layer_names(ensemble)] == [
        ensemble.layers[i] for i in conv_positions
    ]


# --- activation_figure --------------------------------------------------------------


def test_activation_figure_one_block_per_conv_layer(ensemble, image):
    vis = _vis()
    fig = vis.activation_figure(ensemble, image)
    names = vis.conv_layer_names(ensemble)
    titles = _block_titles(fig)
    assert titles[0] == "input (28×28×1)"
    assert [t.split()[0] for t in titles[1:]] == names
    assert "(28×28×32)" in titles[1]  # the layer's output shape, batch axis dropped
    assert "first 32 of 64 maps" in titles[3]  # the third conv has 64 filters, 32 shown
    filters = [ensemble.get_layer(name).filters for name in names]
    assert len(_image_axes(fig)) == 1 + sum(min(f, 32) for f in filters)
    assert len(fig.axes) == len(_image_axes(fig)), "no empty panels"
    assert 10 <= fig.get_figwidth() <= 14


def test_activation_figure_respects_layers_and_max_maps(ensemble, image):
    vis = _vis()
    names = vis.conv_layer_names(ensemble)
    fig = vis.activation_figure(ensemble, image, layers=[names[3], names[0]], max_maps=8)
    titles = _block_titles(fig)
    assert [t.split()[0] for t in titles[1:]] == [names[3], names[0]]
    assert all("first 8 of" in t for t in titles[1:])
    assert len(_image_axes(fig)) == 1 + 8 + 8


def test_activation_figure_shows_the_input_first(cnn1, image):
    fig = _vis().activation_figure(cnn1, image)
    first = fig.subfigs[0].axes[0].images[0].get_array()
    np.testing.assert_allclose(first, image[..., 0])
    assert len(_image_axes(fig)) == 1 + 32


@pytest.mark.parametrize("bad", ["dense", "no_such_layer"])
def test_activation_figure_rejects_non_conv_layers(cnn1, image, bad):
    (conv,) = _vis().conv_layer_names(cnn1)
    bad = cnn1.layers[-1].name if bad == "dense" else bad
    with pytest.raises(InputError) as caught:
        _vis().activation_figure(cnn1, image, layers=[bad])
    message = str(caught.value)
    assert "\n" not in message
    assert message.endswith(f"choose one of: {conv}")
    assert repr(bad) in message


def test_layer_error_truncates_a_long_list(keras, image):
    many = keras.Sequential(
        [keras.Input((28, 28, 1))] + [keras.layers.Conv2D(1, 3, padding="same", name=f"c{i}") for i in range(11)]
    )
    with pytest.raises(InputError, match=r"c7, \.\.\. \(3 more\)$") as caught:
        _vis().activation_figure(many, image, layers=["c99"])
    assert "c8" not in str(caught.value)


def test_activation_figure_builds_an_unbuilt_sequential(keras, image):
    model = keras.Sequential([keras.layers.Conv2D(4, 3, name="only"), keras.layers.Flatten()])
    fig = _vis().activation_figure(model, image)
    assert _block_titles(fig)[1] == "only  (26×26×4)"


def test_activation_figure_rejects_a_batch(cnn1, image):
    with pytest.raises(InputError, match="one image"):
        _vis().activation_figure(cnn1, image[None])


# --- filter_patterns -------------------------------------------------------------


def test_filter_patterns_shape_and_dtype(ensemble):
    layer = _vis().conv_layer_names(ensemble)[2]
    patterns = _vis().filter_patterns(ensemble, layer, n=5, steps=5)
    assert patterns.shape == (5, 28, 28, 1)
    assert patterns.dtype == np.uint8


def test_filter_patterns_caps_n_at_the_filter_count(cnn1):
    (layer,) = _vis().conv_layer_names(cnn1)
    patterns = _vis().filter_patterns(cnn1, layer, n=100, steps=2)
    assert patterns.shape == (32, 28, 28, 1)


def test_filter_patterns_are_deterministic_and_distinct(ensemble):
    vis = _vis()
    layer = vis.conv_layer_names(ensemble)[3]
    first = vis.filter_patterns(ensemble, layer, n=8, steps=10, seed=3)
    again = vis.filter_patterns(ensemble, layer, n=8, steps=10, seed=3)
    other_seed = vis.filter_patterns(ensemble, layer, n=8, steps=10, seed=4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other_seed)
    assert len({pattern.tobytes() for pattern in first}) == 8, "each filter has its own pattern"
    assert first.std() > 10, "deprocessed to visible contrast, not flat grey"


@pytest.mark.parametrize(("which", "position"), [("cnn1", 0), ("ensemble", 0), ("ensemble", 3)])
def test_ascent_raises_each_filters_mean_activation(request, keras, which, position):
    vis = _vis()
    model = request.getfixturevalue(which)
    layer = vis.conv_layer_names(model)[position]
    raw = vis.ascend(model, layer, n=16, steps=40, step_size=1.0, seed=0)
    start = vis.starting_noise(raw.shape, seed=0)
    before = _one_filter_means(keras, model, layer, start)
    after = _one_filter_means(keras, model, layer, raw)
    # Including the filters that are off everywhere on the noise (ReLU at 0).
    assert (after > before).all(), (before, after)


@pytest.mark.parametrize("bad", ["dense", "no_such_layer"])
def test_filter_patterns_rejects_non_conv_layers(cnn1, bad):
    (conv,) = _vis().conv_layer_names(cnn1)
    bad = cnn1.layers[-1].name if bad == "dense" else bad
    with pytest.raises(InputError, match=f"choose one of: {conv}$") as caught:
        _vis().filter_patterns(cnn1, bad)
    assert "\n" not in str(caught.value)


def test_deprocess_centres_and_scales():
    x = np.random.default_rng(0).normal(3.0, 7.0, size=(2, 28, 28, 1))
    out = _vis().deprocess(x)
    assert out.dtype == np.uint8
    assert abs(out.mean() - 127.5) < 2
    assert 20 < out.std() < 30  # std 0.1 of the [0, 1] range, i.e. ~25.5


# --- filter_figure / charts.save -----------------------------------------------------


def test_filter_figure_labels_each_pattern():
    patterns = np.random.default_rng(0).integers(0, 256, size=(10, 28, 28, 1), dtype=np.uint8)
    fig = _vis().filter_figure(patterns, "conv2d")
    axes = _image_axes(fig)
    assert len(axes) == len(fig.axes) == 10
    assert [ax.get_xlabel() for ax in axes] == [f"filter {i}" for i in range(10)]
    assert axes[0].images[0].get_array().ndim == 2
    assert axes[0].images[0].get_cmap().name == "gray"
    assert "conv2d" in fig.get_suptitle()


def test_filter_figure_rgb_patterns():
    patterns = np.zeros((3, 8, 8, 3), dtype=np.uint8)
    fig = _vis().filter_figure(patterns, "c")
    assert fig.axes[0].images[0].get_array().shape == (8, 8, 3)


def test_save_writes_a_png_atomically(tmp_path):
    from kaggle_cnn.report import charts

    fig = _vis().filter_figure(np.zeros((4, 28, 28, 1), dtype=np.uint8), "conv2d")
    out = charts.save(fig, tmp_path / "sub" / "filters.png", dpi=_vis().DPI, tight=False)
    assert out == tmp_path / "sub" / "filters.png"
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in out.parent.iterdir()] == ["filters.png"], "no temporary file left"


def test_save_refuses_other_formats(tmp_path):
    from kaggle_cnn.report import charts

    fig = _vis().filter_figure(np.zeros((1, 4, 4, 1), dtype=np.uint8), "c")
    with pytest.raises(InputError, match=r"\.png"):
        charts.save(fig, tmp_path / "filters.jpg")
    assert list(tmp_path.iterdir()) == []
