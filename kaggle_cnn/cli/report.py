"""`kcnn report`: one self-contained HTML page of the workspace."""

from __future__ import annotations

import click

from kaggle_cnn.cli import cli
from kaggle_cnn.cli.options import workspace


@cli.command()
@click.pass_context
def report(ctx):
    """One self-contained HTML page of the workspace: reports/report.html."""
    from kaggle_cnn import api

    click.echo(f"report: {api.report(workspace(ctx))}")
