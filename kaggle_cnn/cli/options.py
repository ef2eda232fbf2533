"""Options that several commands share, and the workspace they act on."""

from __future__ import annotations

from pathlib import Path

import click

from kaggle_cnn.config import parse_image_shape, parse_image_size


def workspace(ctx: click.Context):
    from kaggle_cnn.api import Workspace

    return Workspace(ctx.obj["workspace"])


def _shape(ctx, param, value):
    return None if value is None else parse_image_shape(value)


def _size(ctx, param, value):
    return None if value is None else parse_image_size(value)


def column_options(command):
    """Options that say how to read a competition's files; the command receives
    them as one dict, `load_options`, for api.load_data and friends."""
    options = [
        click.option("--label-column", default=None, help="Label column of train.csv (default: detected, e.g. label/Label)."),
        click.option("--id-column", default=None, help="Id column of test.csv (default: detected, e.g. id/Id/ImageId)."),
        click.option("--image-shape", callback=_shape, default=None,
                     help="HxWxC when the pixel count does not say it (784 -> 28x28x1 is inferred)."),
        click.option("--image-size", callback=_size, default=None, metavar="N|HxW",
                     help="Image files: resize every image to N x N or H x W pixels (needed when sizes differ)."),
        click.option("--labels", default=None, metavar="CSV",
                     help="Labels CSV naming image files (default: train.csv, train_labels.csv, labels.csv or "
                          "trainLabels.csv beside an image folder)."),
        click.option("--train-images", default=None, metavar="DIR",
                     help="Folder of the images the labels CSV names (default: train/, train_images/ or images/)."),
        click.option("--test-images", default=None, metavar="DIR",
                     help="Folder of the test images (default: test/, test_images/, or images/ shared with train)."),
        click.option("--image-fields", default=None, metavar="A,B",
                     help="train.json records: the array fields that are images, stacked as channels (default: "
                          "every field holding a list), e.g. band_1,band_2."),
        click.option("--multi-label", is_flag=True, default=False,
                     help="Any number of labels per image: the label column holds space-separated tags (tags that "
                          "show it, and one-hot rows with several 1s, are multi-label without it)."),
        click.option("--tabular-columns", default=None, metavar="A,B|auto",
                     help="Labels CSV naming images: table columns joined to each image's network (numbers "
                          "standardised, text one-hot; test rows from test.csv by id); auto: every usable column "
                          "but the id and label(s)."),
        click.option("--regression", is_flag=True, default=False,
                     help="The label column is a number per image (a score, e.g. PetFinder's Pawpularity): one "
                          "linear output trained on the standardised target (--metric rmse or mae imply it)."),
        click.option("--ordinal", is_flag=True, default=False,
                     help="The label column is a whole grade per image whose order matters (e.g. APTOS's 0-4): "
                          "trained as regression; the vote fits cut-points between grades for --metric qwk."),
    ]
    for option in reversed(options):
        command = option(command)
    return _gathered(command, ("label_column", "id_column", "image_shape", "image_size", "labels", "train_images",
                               "test_images", "image_fields", "multi_label", "tabular_columns", "regression",
                               "ordinal"))


def _gathered(command, names):
    """Pass the options `names` to the command as one dict, `load_options`."""
    import functools

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        kwargs["load_options"] = {name: kwargs.pop(name) for name in names}
        return command(*args, **kwargs)

    return wrapper


DATA_HELP = ("Competition folder (a labels CSV naming images or .npy arrays in train/ and test/; or train.csv and "
             "test.csv of pixels; or train.json and test.json records of arrays; [sample_submission.csv]), .npz, CIFAR batches, or an image folder (<class>/ folders, or "
             "train/ [val/] [test/]). Default: the built-in MNIST demo.")


def data_options(command):
    """--data PATH plus the column options: for commands that read a competition."""
    return data_path_option(DATA_HELP)(column_options(command))


def data_path_option(help_text: str):
    return click.option("--data", "data_path", type=click.Path(path_type=Path), default=None, help=help_text)


def renamed_option(old: str, new: str, what: str):
    """A hidden option under a former name: typing it is refused with the new name,
    so no old spelling is silently taken for something else."""

    def refuse(ctx, param, value):
        if value is not None:
            raise click.UsageError(f"{old}: the option is {new} ({what})")

    return click.option(old, expose_value=False, hidden=True, default=None, callback=refuse)
