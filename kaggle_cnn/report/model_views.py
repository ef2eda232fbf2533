"""What a CNN sees: feature maps of its conv layers on one image, and the input
patterns each filter responds to most (the cats-vs-dogs write-up, done by hand there).

Figures use matplotlib's object API (`Figure`, no pyplot), so nothing needs a
display and no global state leaks between calls. Keras is imported lazily: the
figure helper (`filter_figure`) works without TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from kaggle_cnn.errors import InputError

FIG_WIDTH = 12.0  # inches; at DPI this is 1200 px, wide enough for 16 maps a row
DPI = 100
MAP_COLUMNS = 16  # feature maps per row in activation_figure
MAX_LISTED = 8  # valid layer names shown in an error message before "..."


# --- layers ------------------------------------------------------------------


def conv_layer_names(model: Any) -> list[str]:
    """Names of the model's Conv2D layers, in order: its own, or for a pretrained
    backbone model the backbone's (the CIFAR-10 DenseNet write-up looked inside DenseNet121)."""
    keras = _keras()
    owner, _ = conv_view(model)
    return [layer.name for layer in owner.layers if isinstance(layer, keras.layers.Conv2D)]


def conv_view(model: Any) -> tuple[Any, Any]:
    """(the model that owns the conv layers, a model from the input to that owner's
    input, or None when it is the model itself).

    A backbone model (kaggle_cnn.architectures.backbones) keeps its conv layers in
    the nested "backbone" model, fed by the "preprocess" layer; an augmented one is
    wrapped once more in a Sequential whose augmentation layers do nothing at
    inference, so the view starts at the inner model's input."""
    keras = _keras()
    if any(isinstance(layer, keras.layers.Conv2D) for layer in model.layers):
        return model, None
    from kaggle_cnn.architectures.backbones import find_backbone

    backbone = find_backbone(model)
    if backbone is None:
        return model, None
    core = model
    while not any(layer.name == "preprocess" for layer in core.layers):
        core = next(layer for layer in core.layers if isinstance(layer, keras.Model))
    return backbone, keras.Model(core.inputs[0], core.get_layer("preprocess").output)


def default_layers(model: Any, most: int = 8) -> list[str]:
    """Every conv layer, or `most` of them evenly spread (first and last included)
    for deep networks, where all of them would make a figure metres long."""
    names = conv_layer_names(model)
    if len(names) <= most:
        return names
    picks = np.linspace(0, len(names) - 1, most).round().astype(int)
    return [names[i] for i in dict.fromkeys(picks.tolist())]


def _check_conv_layers(model: Any, requested: Sequence[str] | None) -> list[str]:
    """The requested conv layer names (default all), or InputError naming the valid ones."""
    valid = conv_layer_names(model)
    if not valid:
        raise InputError(f"model {model.name!r} has no Conv2D layers to visualise")
    if requested is None:
        return default_layers(model)
    if isinstance(requested, str):
        requested = [requested]
    if len(requested) == 0:
        raise InputError(f"no layers given; choose from the conv layers of {model.name!r}: {_listing(valid)}")
    for name in requested:
        if name not in valid:
            raise InputError(f"{name!r} is not a conv layer of {model.name!r}; choose one of: {_listing(valid)}")
    return list(dict.fromkeys(requested))  # keep the caller's order, drop repeats


def _listing(names: list[str]) -> str:
    """A comma list short enough for a one-line error."""
    if len(names) <= MAX_LISTED:
        return ", ".join(names)
    return ", ".join(names[:MAX_LISTED]) + f", ... ({len(names) - MAX_LISTED} more)"


def _model_input(model: Any, image_shape: tuple[int, ...] | None = None) -> Any:
    """The model's symbolic input; builds a Sequential model on a dummy batch if it has none yet."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        if image_shape is None:
            raise InputError(f"model {model.name!r} has no input shape yet; call it on a batch first")
        model(np.zeros((1, *image_shape), dtype=np.float32))
        inputs = model.inputs
    if len(inputs) != 1:
        raise InputError(f"model {model.name!r} has {len(inputs)} inputs; only single-input models are supported")
    return inputs[0]


def _shape_text(shape: Sequence[int | None]) -> str:
    """(None, 26, 26, 32) -> '26×26×32': the batch axis says nothing here."""
    return "×".join(str(d) for d in tuple(shape)[1:])


# --- activation figure ---------------------------------------------------------


def feature_maps(model: Any, image: np.ndarray, layers: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Each requested conv layer's output on `image`, (H', W', filters) per layer."""
    image = _check_image(model, image)
    names = _check_conv_layers(model, layers)
    keras = _keras()
    owner, front = conv_view(model)
    if front is None:
        extractor = keras.Model(_model_input(model, image.shape), [model.get_layer(name).output for name in names])
        outputs = extractor(image[None], training=False)
    else:
        extractor = keras.Model(owner.inputs[0], [owner.get_layer(name).output for name in names])
        outputs = extractor(front(image[None], training=False), training=False)
    if len(names) == 1 and not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return {name: np.asarray(out)[0] for name, out in zip(names, outputs)}


def _check_image(model: Any, image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise InputError(f"expected one image of shape (H, W, C), got an array of shape {image.shape}")
    try:
        expected = tuple(model.inputs[0].shape[1:])
    except (AttributeError, ValueError, IndexError, TypeError):
        return image  # unbuilt Sequential: the image decides its input shape
    if any(e is not None and e != s for e, s in zip(expected, image.shape)) or len(expected) != 3:
        raise InputError(f"image shape {image.shape} does not fit model {model.name!r} input {expected}")
    return image


def activation_figure(
    model: Any, image: np.ndarray, layers: Sequence[str] | None = None, *, max_maps: int = 32
) -> Figure:
    """The input image, then one block of feature maps per conv layer (at most `max_maps` each).

    Each map has its own colour scale, so faint filters stay visible; a flat
    dark map is a filter that is off everywhere on this image.
    """
    if max_maps < 1:
        raise InputError(f"max_maps must be at least 1, got {max_maps}")
    maps = feature_maps(model, image, layers)
    image = np.asarray(image, dtype=np.float32)
    columns = min(MAP_COLUMNS, max(min(m.shape[-1], max_maps) for m in maps.values()))
    cell = _cell_width(columns)
    title_h = 0.5  # inches for a block's title, set nearer its maps than the block above
    input_h = 1.9
    heights = [input_h] + [math.ceil(min(m.shape[-1], max_maps) / columns) * cell + title_h for m in maps.values()]
    fig = Figure(figsize=(FIG_WIDTH, sum(heights)), dpi=DPI)
    blocks = fig.subfigures(len(heights), 1, height_ratios=heights, hspace=0)
    blocks = list(np.atleast_1d(blocks))
    _draw_input(blocks[0], image, title_h / input_h)
    for block, (name, fmap), height in zip(blocks[1:], maps.items(), heights[1:]):
        shape = conv_view(model)[0].get_layer(name).output.shape
        _draw_maps(block, name, shape, fmap, max_maps, columns, cell, title_h / height)
    return fig


def _draw_input(block: SubFigure, image: np.ndarray, title_frac: float) -> None:
    _block_title(block, f"input ({'×'.join(map(str, image.shape))})")
    ax = block.add_axes((0.0, 0.03, 1.0, 0.97 - title_frac))
    _show(ax, _displayable(image), vmin=0.0, vmax=1.0)


def _draw_maps(
    block: SubFigure,
    name: str,
    shape: Sequence[int | None],
    fmap: np.ndarray,
    max_maps: int,
    columns: int,
    cell: float,
    title_frac: float,
) -> None:
    """One layer's block: the title, then its first `max_maps` maps on a grid."""
    total = fmap.shape[-1]
    shown = min(total, max_maps)
    title = f"{name}  ({_shape_text(shape)})"
    if shown < total:
        title += f"  – first {shown} of {total} maps"
    _block_title(block, title)
    rows = math.ceil(shown / columns)
    left, right = _centred(columns * cell, margin=0.005)
    grid = block.add_gridspec(rows, columns, left=left, right=right, bottom=0.01, top=1 - title_frac,
                              wspace=0.06, hspace=0.06)
    for index in range(shown):
        ax = block.add_subplot(grid[index // columns, index % columns])
        _show(ax, fmap[..., index], cmap="viridis")


def _cell_width(columns: int) -> float:
    """Inches per grid cell: the figure width shared out, but never over 1.5 in."""
    return FIG_WIDTH / max(columns, 8)


def _centred(width: float, margin: float) -> tuple[float, float]:
    """left, right (figure fractions) of a grid `width` inches wide, centred."""
    side = (1 - width / FIG_WIDTH) / 2
    return side + margin, 1 - side - margin


def _block_title(block: SubFigure, text: str) -> None:
    """Title hung 0.18 in below the block's top, so it sits close to its own maps."""
    height = block.get_window_extent().height / block.figure.dpi  # inches
    block.suptitle(text, fontsize=12, fontweight="bold", y=1 - 0.18 / height, va="top")


def _displayable(image: np.ndarray) -> np.ndarray:
    """(H, W, 1) -> (H, W) so imshow draws grayscale; 3 channels as RGB; others by their mean."""
    if image.shape[-1] == 1:
        return image[..., 0]
    if image.shape[-1] == 3:
        return image
    return image.mean(axis=-1)


def _show(ax: Axes, data: np.ndarray, *, cmap: str = "gray", **limits: float) -> None:
    ax.imshow(data, cmap=cmap if data.ndim == 2 else None, interpolation="nearest", **limits)
    ax.set_axis_off()


# --- filter patterns ------------------------------------------------------------


def filter_patterns(
    model: Any, layer: str, *, n: int = 16, steps: int = 40, step_size: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Inputs that maximise each of the first `n` filters of `layer`, as uint8 images (n, H, W, C).

    All filters are optimised together as one batch (image i for filter i), so
    the cost is one forward/backward pass per step whatever `n` is. The target is
    the mean of the filter's output map (after its activation, as
    activation_figure shows it); a filter that is off everywhere on the start
    image climbs on its raw response instead, which a ReLU would give no gradient.
    """
    (name,) = _check_conv_layers(model, [layer])
    if n < 1 or steps < 0:
        raise InputError(f"need n >= 1 and steps >= 0, got n={n}, steps={steps}")
    images = ascend(model, name, n=n, steps=steps, step_size=step_size, seed=seed)
    return deprocess(images)


def starting_noise(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Mid-grey plus faint uniform noise: a neutral start every filter can move from."""
    rng = np.random.default_rng(seed)
    return (0.5 + (rng.random(shape) - 0.5) * 0.1).astype(np.float32)


def ascend(model: Any, layer: str, *, n: int, steps: int, step_size: float, seed: int) -> np.ndarray:
    """Gradient ascent on the raw float images (before deprocessing); see filter_patterns."""
    import tensorflow as tf

    keras = _keras()
    owner, front = conv_view(model)
    conv = owner.get_layer(layer)
    n = min(n, conv.filters)
    inp = _model_input(model)
    image_shape = tuple(inp.shape[1:])
    if any(d is None for d in image_shape):
        raise InputError(f"model {model.name!r} input shape {image_shape} is not fixed; cannot make patterns")
    if front is None:
        extractor = keras.Model(inp, conv.input)
    else:  # from the model's own input, through its preprocessing, into the backbone
        inner = keras.Model(owner.inputs[0], conv.input)

        def extractor(images, training=False):
            return inner(front(images, training=training), training=training)
    kernel = conv.kernel[..., :n]
    bias = conv.bias[:n] if conv.use_bias else None
    own = tf.one_hot(tf.range(n), n)[:, None, None, :]  # picks filter i's map on image i
    activation = conv.activation or (lambda z: z)

    def loss_fn(images: tf.Tensor) -> tf.Tensor:
        response = conv.convolution_op(extractor(images, training=False), kernel)
        if bias is not None:
            response = response + bias
        raw = tf.reduce_sum(response * own, axis=-1)  # (n, H', W'): filter i on image i
        active = activation(raw)
        # A filter that is off everywhere (ReLU at 0) has no gradient; push its
        # raw response up until it switches on.
        alive = tf.reduce_max(active, axis=(1, 2)) > 0
        means = tf.where(alive, tf.reduce_mean(active, axis=(1, 2)), tf.reduce_mean(raw, axis=(1, 2)))
        return tf.reduce_sum(means)

    @tf.function
    def step(images: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(images)
            loss = loss_fn(images)
        grads = tape.gradient(loss, images)
        # Per image: each filter climbs at the same pace whatever its gradient scale.
        grads = tf.math.l2_normalize(grads, axis=list(range(1, len(image_shape) + 1)))
        return images + step_size * grads

    images = tf.constant(starting_noise((n, *image_shape), seed))
    for _ in range(steps):
        images = step(images)
    return images.numpy()


def deprocess(images: np.ndarray) -> np.ndarray:
    """The cats-vs-dogs write-up's display transform, per image: zero mean, std 0.1, centred on 0.5, as uint8."""
    x = np.asarray(images, dtype=np.float64)
    axes = tuple(range(1, x.ndim))
    x = x - x.mean(axis=axes, keepdims=True)
    x = x / (x.std(axis=axes, keepdims=True) + 1e-5) * 0.1 + 0.5
    return (np.clip(x, 0.0, 1.0) * 255).round().astype(np.uint8)


def filter_figure(patterns: np.ndarray, layer: str) -> Figure:
    """The patterns from filter_patterns on a grid, each with its filter number under it."""
    patterns = np.asarray(patterns)
    if patterns.ndim != 4 or len(patterns) == 0:
        raise InputError(f"expected patterns of shape (n, H, W, C), got {patterns.shape}")
    count = len(patterns)
    columns = min(count, 8 if count <= 32 else 16)
    rows = math.ceil(count / columns)
    cell = _cell_width(columns)
    label_h, title_h = 0.3, 0.6  # inches
    height = rows * (cell + label_h) + title_h
    fig = Figure(figsize=(FIG_WIDTH, height), dpi=DPI)
    fig.suptitle(f"{layer}: inputs that maximise each filter", fontsize=13, fontweight="bold",
                 y=1 - 0.15 / height)
    left, right = _centred(columns * cell, margin=0.01)
    grid = fig.add_gridspec(rows, columns, left=left, right=right, bottom=label_h / height,
                            top=1 - title_h / height, wspace=0.08, hspace=label_h / cell + 0.05)
    for index, pattern in enumerate(patterns):
        ax = fig.add_subplot(grid[index // columns, index % columns])
        ax.imshow(_displayable(pattern), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xlabel(f"filter {index}", fontsize=10, labelpad=2)
    return fig


# --- output ---------------------------------------------------------------------


def _keras() -> Any:
    from kaggle_cnn.backend import load_keras

    return load_keras()
