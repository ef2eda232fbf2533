"""`kcnn doctor`: list what is broken in the workspace; --fix repairs what can be derived."""

from __future__ import annotations

import sys

import click

from kaggle_cnn.cli import cli
from kaggle_cnn.cli.options import workspace


@cli.command()
@click.option("--fix", is_flag=True, help="Repair what can be derived and move damaged runs to models/broken/.")
@click.pass_context
def doctor(ctx, fix):
    """List damaged or half-written files in the workspace, and how to repair each.

    Exit code 0 when nothing is left broken, 1 otherwise. --fix rebuilds the index
    from the kept runs, republishes missing member submissions, removes what killed
    commands left, drops vote records that no longer describe their CSV, and moves
    damaged runs aside; nothing you made is deleted.
    """
    from kaggle_cnn import api
    from kaggle_cnn.cli.render import print_doctor

    findings = api.doctor(workspace(ctx), fix=fix)
    print_doctor(findings, workspace(ctx), fix)
    sys.exit(1 if any(finding.unresolved for finding in findings) else 0)
