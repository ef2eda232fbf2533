"""`kcnn tta`: test-time augmentation of kept runs' predictions."""

from __future__ import annotations

import click

from kaggle_cnn.cli import cli
from kaggle_cnn.cli.options import data_path_option, workspace

TRANSFORMS_HELP = ("Transforms to average over: hflip, vflip, shift_px=N (pixels), rotate=DEGREES; "
                   "e.g. hflip,shift_px=2.")
MOVED_DATA_HELP = "Where the runs' data is now, if it moved since training."


@cli.command()
@click.argument("runs", nargs=-1)
@click.option("--transforms", required=True, metavar="SPEC", help=TRANSFORMS_HELP)
@data_path_option(MOVED_DATA_HELP)
@click.pass_context
def tta(ctx, runs, transforms, data_path):
    """Recompute kept runs' probabilities with test-time augmentation.

    Stores val_proba_tta.npy and test_proba_tta.npy beside the plain ones (RUNS:
    run ids, default every kept run); `kcnn vote --tta` then uses them.
    """
    from kaggle_cnn import api
    from kaggle_cnn.cli.render import print_tta

    print_tta(api.tta(workspace(ctx), list(runs) or None, transforms=transforms, data_path=data_path))


@cli.command(hidden=True)
@click.argument("runs", nargs=-1)
@click.option("--tta", "transforms", required=True, metavar="SPEC", help=TRANSFORMS_HELP)
@data_path_option(MOVED_DATA_HELP)
@click.pass_context
def predict(ctx, runs, transforms, data_path):
    """`kcnn tta` under another name; hidden from the command list."""
    click.echo("note: `kcnn predict --tta SPEC` runs `kcnn tta --transforms SPEC`", err=True)
    ctx.invoke(tta, runs=runs, transforms=transforms, data_path=data_path)
