"""Data augmentation as Keras preprocessing layers, the ImageDataGenerator
settings of seeds 001 and 004 in today's Keras:

    rotation=40     degrees, either way          (rotation_range)
    shift=0.2       share of width and height    (width/height_shift_range)
    shear=0.2       shear intensity              (shear_range)
    zoom=0.2        zoom in or out by up to 20%  (zoom_range)
    hflip, vflip    random mirror                (horizontal_flip, vertical_flip)
    fill=nearest    how new pixels are filled: nearest, constant, reflect, wrap

and one that came later, random erasing (Zhong et al., 2017):

    erase=0.5       share of images that get a random rectangle (2-33% of the
                    image) filled with noise

The layers sit at the front of the model: active in training only, no-ops at
prediction, and on the accelerator when there is one.
"""

from __future__ import annotations

from kaggle_cnn.config import number, parse_text
from kaggle_cnn.errors import InputError

_NUMERIC = {"rotation": 360.0, "shift": 1.0, "shear": 1.0, "zoom": 1.0, "erase": 1.0}  # name -> largest value
_FLAGS = ("hflip", "vflip")
_FILLS = ("nearest", "constant", "reflect", "wrap")


def parse_augment(text: str) -> dict[str, float | bool | str]:
    """'rotation=40,shift=0.2,hflip' -> {'rotation': 40.0, 'shift': 0.2, 'hflip': True}."""
    spec: dict[str, float | bool | str] = {}
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        name, sep, value = part.partition("=")
        if name in _FLAGS and not sep:
            spec[name] = True
        elif name == "fill" and value in _FILLS:
            spec["fill"] = value
        elif name in _NUMERIC and sep:
            check = number(0, _NUMERIC[name], low_open=True)
            amount = check.convert(parse_text(value))
            if amount is None:
                raise InputError(f"--augment {part!r}: {name} must be {check.describe()}")
            spec[name] = amount
        else:
            raise InputError(f"--augment {part!r}: use rotation=DEG, shift=F, shear=F, zoom=F, erase=P, hflip, vflip, "
                             f"fill={'|'.join(_FILLS)}")
    if not any(k != "fill" for k in spec):
        raise InputError("--augment needs at least one transform, e.g. --augment rotation=10,zoom=0.1")
    return spec


def check_augment(text: str, image_shape) -> None:
    """Refuse an --augment its images cannot take: a mirror image needs 2 pixels
    across, a shift, rotation, shear or zoom at least 2x2 pixels to move."""
    spec = parse_augment(text)
    height, width = image_shape[:2]
    shape = "x".join(str(d) for d in image_shape)
    for flag, pixels, across in (("hflip", width, "wide"), ("vflip", height, "high")):
        if spec.get(flag) and pixels < 2:
            raise InputError(f"--augment {flag}: {shape} images are one pixel {across}; a mirror image is the image")
    moving = [name for name in ("rotation", "shift", "shear", "zoom") if name in spec]
    if moving and min(height, width) < 2:
        raise InputError(f"--augment {moving[0]}: {shape} images are too small to move; leave it out")


def augmentation_layers(text: str, seed: int | None = None) -> list:
    """The preprocessing layers for an --augment string, in ImageDataGenerator's order."""
    from kaggle_cnn.backend import load_keras

    layers = load_keras().layers
    spec = parse_augment(text)
    fill = str(spec.get("fill", "nearest"))
    made = []
    if spec.get("hflip") or spec.get("vflip"):
        mode = "horizontal_and_vertical" if spec.get("hflip") and spec.get("vflip") else (
            "horizontal" if spec.get("hflip") else "vertical")
        made.append(layers.RandomFlip(mode, seed=seed))
    if "rotation" in spec:
        made.append(layers.RandomRotation(spec["rotation"] / 360.0, fill_mode=fill, seed=seed))
    if "shift" in spec:
        made.append(layers.RandomTranslation(spec["shift"], spec["shift"], fill_mode=fill, seed=seed))
    if "shear" in spec:
        made.append(layers.RandomShear(x_factor=spec["shear"], y_factor=spec["shear"], fill_mode=fill, seed=seed))
    if "zoom" in spec:
        made.append(layers.RandomZoom(spec["zoom"], fill_mode=fill, seed=seed))
    if "erase" in spec:  # images are scaled to [0, 1] when loaded
        made.append(layers.RandomErasing(factor=spec["erase"], value_range=(0.0, 1.0), seed=seed))
    return made


def with_augmentation(model, text: str, seed: int | None = None):
    """The same model with the augmentation layers in front (a flat Sequential, so
    its own layers stay top-level for activations and filter pictures)."""
    from kaggle_cnn.backend import load_keras

    keras = load_keras()
    if len(model.inputs) > 1:  # images and table rows (architectures.table_join): the images alone are augmented
        inputs = [keras.Input(shape[1:]) for shape in model.input_shape]
        images = inputs[0]
        for layer in augmentation_layers(text, seed):
            images = layer(images)
        return keras.Model(inputs, model([images, *inputs[1:]]), name=model.name)
    front = [keras.Input(model.input_shape[1:]), *augmentation_layers(text, seed)]
    inner = list(model.layers) if isinstance(model, keras.Sequential) else [model]
    return keras.Sequential(front + inner, name=model.name)


def preview(images, text: str, copies: int = 7, seed: int = 0):
    """Each image followed by `copies` augmented versions of it, as (n, copies + 1, H, W, C)."""
    import numpy as np

    from kaggle_cnn.backend import load_keras

    keras = load_keras()
    augmenter = keras.Sequential(augmentation_layers(text, seed))
    rows = [np.stack([image] + [np.asarray(augmenter(image[None], training=True))[0] for _ in range(copies)])
            for image in images]
    return np.clip(np.stack(rows), 0.0, 1.0)
