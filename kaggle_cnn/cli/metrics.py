"""`kcnn metrics`: per-class precision, recall and F1 of runs and votes."""

from __future__ import annotations

import click

from kaggle_cnn.cli import cli
from kaggle_cnn.cli.options import workspace


@cli.command()
@click.argument("sources", nargs=-1)
@click.option("--timing", is_flag=True, help="Also per model: seconds per epoch, prediction seconds, images per second.")
@click.pass_context
def metrics(ctx, sources, timing):
    """Per-class precision, recall, F1 on the validation split.

    SOURCES are run ids or ensemble/<name>; default every kept run and vote.
    Per-class tables print for the votes and the best run; reports/metrics.csv
    has them all, reports/confusion/ the confusion matrices. A vote whose JSON
    sidecar does not describe the CSV beside it (a vote cut short, a CSV
    replaced) is left out with a warning.
    """
    from kaggle_cnn import api
    from kaggle_cnn.cli.render import print_metrics

    report = api.metrics(workspace(ctx), list(sources) or None)
    print_metrics(report, list(sources), api.timing_table(workspace(ctx)) if timing else None)
