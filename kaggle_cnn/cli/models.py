"""`kcnn models`: the registered architectures."""

from __future__ import annotations

import click

from kaggle_cnn.cli import cli
from kaggle_cnn.config import parse_image_shape


@cli.command()
@click.option("--image-shape", callback=lambda ctx, param, value: parse_image_shape(value), default="28x28x1",
              show_default=True, help="Input shape to build with.")
@click.option("--classes", "n_classes", type=click.IntRange(min=2), default=10, show_default=True)
def models(image_shape, n_classes):
    """List the registered architectures: input size, parameter counts, pretrained backbones."""
    from kaggle_cnn import api
    from kaggle_cnn.cli.render import print_models

    print_models(api.models(image_shape, n_classes))
