"""`kcnn plot ...`: pictures of the workspace, saved as PNG under reports/plots/."""

from __future__ import annotations

import click

from kaggle_cnn.cli import cli
from kaggle_cnn.cli.options import data_path_option, workspace


@cli.group()
def plot():
    """Pictures of the workspace, saved as PNG under reports/plots/."""


@plot.command("curves")
@click.argument("runs", nargs=-1)
@click.pass_context
def curves(ctx, runs):
    """Accuracy and loss against epochs for RUNS (default every attempt)."""
    from kaggle_cnn import api

    click.echo(f"curves: {api.plot_curves(workspace(ctx), list(runs) or None)}")


@plot.command("confusion")
@click.argument("source", required=False)
@click.pass_context
def confusion(ctx, source):
    """Confusion matrix of SOURCE (a run id or ensemble/NAME; default the best vote),
    and for a vote its per-class P/R/F1 against its best member."""
    from kaggle_cnn import api

    for path in api.plot_confusion(workspace(ctx), source):
        click.echo(f"picture: {path}")


@plot.command("activations")
@click.argument("run")
@click.option("--image", type=int, default=0, show_default=True, help="Which validation image (0-based).")
@click.option("--layers", default=None, help="Comma-separated conv layer names [default: all, or 8 spread through a deep network].")
@data_path_option("Where the run's data is now.")
@click.pass_context
def activations(ctx, run, image, layers, data_path):
    """Feature maps of every convolution layer of RUN for one validation image."""
    from kaggle_cnn import api

    names = [n.strip() for n in layers.split(",") if n.strip()] if layers else None
    click.echo(f"activations: {api.plot_activations(workspace(ctx), run, image, names, data_path)}")


@plot.command("filters")
@click.argument("run")
@click.option("--layer", required=True, help="A convolution layer of RUN's model.")
@click.option("--n", type=int, default=16, show_default=True, help="How many filters.")
@click.option("--steps", type=int, default=40, show_default=True, help="Gradient-ascent steps.")
@click.pass_context
def filters(ctx, run, layer, n, steps):
    """The input each filter of LAYER responds to most, by gradient ascent from noise."""
    from kaggle_cnn import api

    click.echo(f"filters: {api.plot_filters(workspace(ctx), run, layer, n, steps)}")
