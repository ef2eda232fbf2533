"""`kcnn models`: the registered architectures."""

from __future__ import annotations

import click

from kaggle_cnn.cli import cli
from kaggle_cnn.config import parse_image_shape

MAX_CLASSES = 100_000  # ImageNet-21k has about 21,000


@cli.command()
@click.option("--image-shape", callback=lambda ctx, param, value: parse_image_shape(value), default="28x28x1",
              show_default=True, help="Input shape to build with.")
@click.option("--classes", "n_classes", type=click.IntRange(2, MAX_CLASSES), default=10, show_default=True)
def models(image_shape, n_classes):
    """List the registered architectures (input size, parameter counts, pretrained
    backbones) and the presets of `kcnn train`.

    A model that cannot take images of --image-shape (its pooling would shrink
    them below one pixel) is listed as not fitting.
    """
    from rich.table import Table

    from kaggle_cnn import api
    from kaggle_cnn.cli.render import console, print_models

    print_models(api.models(image_shape, n_classes))
    presets = Table("preset (kcnn train --preset NAME)", "recipe")
    for name, summary in api.preset_summaries().items():
        presets.add_row(name, summary)
    console().print(presets)
