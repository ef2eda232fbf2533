"""`kcnn data`: describe a dataset, preview augmentation, split an image folder."""

from __future__ import annotations

from pathlib import Path

import click

from kaggle_cnn.cli import cli
from kaggle_cnn.cli.options import column_options, workspace


class DefaultCommandGroup(click.Group):
    """`kcnn data PATH` describes; `kcnn data preview ...` is a sub-command."""

    default_command = "describe"

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@cli.group(cls=DefaultCommandGroup)
def data():
    """Describe a dataset (kcnn data [PATH]), preview augmentation, or split an image folder."""


@data.command("describe")
@click.argument("data_path", metavar="[PATH]", required=False, type=click.Path(path_type=Path))
@column_options
def describe(data_path, load_options):
    """Describe the dataset at PATH: kind, image shape, classes and their counts.

    PATH is a competition folder, .npz, or an image folder (one sub-folder of images
    per class, or train/ [val/] [test/]); default the built-in MNIST demo."""
    from kaggle_cnn import api
    from kaggle_cnn.cli.render_data import print_description

    print_description(api.data(data_path, **load_options))


@data.command("preview")
@click.argument("data_path", metavar="[PATH]", required=False, type=click.Path(path_type=Path))
@column_options
@click.option("--augment", required=True, metavar="SPEC", help="As for kcnn train, e.g. rotation=40,zoom=0.2,hflip.")
@click.option("--n", "count", type=click.IntRange(1, 32), default=6, show_default=True, help="Training images shown.")
@click.option("--copies", type=click.IntRange(1, 16), default=7, show_default=True, help="Augmented copies of each.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PNG to write [default: reports/plots/augment-preview.png in the workspace].")
@click.pass_context
def preview(ctx, data_path, load_options, augment, count, copies, out):
    """Save a PNG grid: training images, each followed by augmented copies."""
    from kaggle_cnn import api

    path = api.preview_augmentation(workspace(ctx), augment, data_path, count=count, copies=copies, out=out,
                                    **load_options)
    click.echo(f"preview: {path}")


@data.command("split")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--ratio", default="0.8,0.1,0.1", show_default=True, metavar="TRAIN,VAL[,TEST]",
              help="Shares of each class for train/, val/ and test/ (two numbers: no test/); they add up to 1.")
@click.option("--seed", type=int, default=0, show_default=True, help="Which files go where.")
def split(src, dst, ratio, seed):
    """Copy an image folder SRC (one sub-folder of images per class) into
    DST/train|val|test/<class>/, stratified per class. DST must not exist (or be empty)."""
    from kaggle_cnn import api
    from kaggle_cnn.cli.render_data import print_split

    print_split(api.data_split(src, dst, ratio, seed=seed), src, ratio, seed)
