"""`kcnn download` and `kcnn submit`: a competition's files from kaggle.com, and a
submission back to it, through the official Kaggle command-line tool."""

from __future__ import annotations

from pathlib import Path

import click

from kaggle_cnn.cli import cli

SHOWN_ENTRIES = 20  # a folder of loose files lists the first ones and counts the rest

NEEDS = ("Needs the Kaggle command-line tool (pip install 'kaggle_cnn[kaggle]') and your API token "
         "(KAGGLE_API_TOKEN, or kaggle.json in ~/.kaggle); see docs/kaggle.md.")


@cli.command(epilog=NEEDS)
@click.argument("competition")
@click.argument("folder", metavar="[DIR]", required=False, type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print what would run; download and write nothing.")
def download(competition, folder, dry_run):
    """Download a competition's files from kaggle.com, unzipped.

    The files go into DIR (default ./COMPETITION). COMPETITION is the last part of the competition's URL (titanic, dogs-vs-cats);
    accept its rules on kaggle.com first. Zips inside the download are unzipped too.
    DIR must be new or empty, and appears only once everything is in it."""
    from kaggle_cnn import api

    result = api.download(competition, folder, dry_run=dry_run)
    if result.dry_run:
        click.echo("Would run:")
        for step in result.commands:
            click.echo(f"  {step}")
        return
    click.echo(f"Downloaded {result.competition} into {result.folder}/: {result.files} files")
    for entry in result.entries[:SHOWN_ENTRIES]:
        click.echo(f"  {entry}")
    if len(result.entries) > SHOWN_ENTRIES:
        click.echo(f"  ... and {len(result.entries) - SHOWN_ENTRIES} more")
    click.echo(f"Next: kcnn data {result.folder}")


@cli.command(epilog=NEEDS)
@click.argument("submission", metavar="FILE", type=click.Path(path_type=Path))
@click.option("--message", "-m", required=True, help="What this submission is; Kaggle lists it beside the score.")
@click.option("--competition", default=None, metavar="NAME",
              help="The competition (the last part of its URL). Default: the one --data was downloaded from.")
@click.option("--data", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="The competition folder kcnn download wrote: names the competition, and its "
                   "sample_submission.csv and labels are what FILE is checked against.")
@click.option("--dry-run", is_flag=True, help="Check FILE and print the command; send nothing.")
def submit(submission, message, competition, data, dry_run):
    """Check a submission (as kcnn check does), then send it to Kaggle.

    A file that fails the check (header, unique ids, and with --data the sample's ids
    and order and the allowed labels) is not sent."""
    from kaggle_cnn import api

    result = api.submit(submission, message, competition=competition, data=data, dry_run=dry_run)
    click.echo(f"{result.submission}: {result.rows} rows, checked {', '.join(result.checked)}")
    if result.dry_run:
        click.echo(f"Would run: {result.command}")
        return
    click.echo(f"Submitted {result.submission} to {result.competition}: {result.message!r}")
    for line in result.output:
        click.echo(f"  {line}")


@cli.command("export-inference")
@click.argument("vote", metavar="VOTE.csv", type=click.Path(path_type=Path))
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@click.pass_context
def export_inference(ctx, vote, directory):
    """Bundle a vote for a code competition: its models, predict.py, bundle.json.

    In a Kaggle notebook without internet, `python DIR/predict.py --test
    /kaggle/input/COMPETITION --out submission.csv` writes the submission the vote
    wrote, from the competition's test data, with TensorFlow, numpy and pandas only
    (no kaggle_cnn). VOTE.csv may also be a kept run's own submission
    (submissions/RUN_ID.csv, a distilled student's): a bundle of that one model.
    DIR must be new or empty; it appears only once complete. Votes made with --tta
    are refused (predict.py does not augment)."""
    from kaggle_cnn import api
    from kaggle_cnn.cli.options import workspace

    bundle = api.export_inference(workspace(ctx), vote, directory)
    click.echo(f"Wrote {bundle.directory}/: predict.py, bundle.json and {len(bundle.models)} model file(s) of "
               f"{len(bundle.members)} member(s) ({bundle.method} vote {bundle.vote}, {bundle.data_kind} test data)")
    click.echo(f"Run: python {bundle.directory}/predict.py --test COMPETITION_DIR --out submission.csv")
