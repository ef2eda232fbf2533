"""`kcnn check` and `kcnn score`: a submission judged as a grader would."""

from __future__ import annotations

from pathlib import Path

import click

from kaggle_cnn.api import METRICS
from kaggle_cnn.cli import cli
from kaggle_cnn.cli.options import data_path_option


@cli.command()
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("--sample", type=click.Path(path_type=Path), default=None,
              help="The competition's sample_submission.csv [default: the one in --data's folder].")
@data_path_option("The competition (its training labels are the allowed labels).")
@click.option("--multi-label", is_flag=True, default=False,
              help="The label column holds space-separated tags (a multi-label competition, e.g. Planet; "
                   "--data's tags are read as tags without it when they show it).")
@click.option("--regression", is_flag=True, default=False,
              help="The label column holds a number per id (e.g. PetFinder's Pawpularity).")
@click.option("--ordinal", is_flag=True, default=False,
              help="The label column holds a whole grade per id, one of the training grades (e.g. APTOS's 0-4).")
def check(submission, sample, data_path, multi_label, regression, ordinal):
    """Check a submission as a grader would: header, ids, order, rows, labels."""
    from kaggle_cnn import api
    from kaggle_cnn.cli.render import print_check

    numeric = "ordinal" if ordinal else "regression" if regression else None
    print_check(api.check(submission, sample, data_path, multi_label=multi_label, numeric=numeric))


@cli.command()
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("--answers", type=click.Path(path_type=Path), default=None,
              help="CSV of true labels (id, label), or an image folder with labelled test images. "
                   "Default: the demo competition's hidden answers.")
@click.option("--metric", default=None, metavar="NAME",
              help=f"Also score by this metric (accuracy always): {', '.join(METRICS)} (map@K: e.g. map@5). "
                   "rmse and mae grade numbers; qwk on answers of numbers grades whole grades.")
@click.option("--multi-label", is_flag=True, default=False,
              help="Tags joined by spaces on both sides, graded by F2 over images by default (answers whose tags "
                   "show it, or with a 0/1 column per label, are multi-label without it; the latter graded by "
                   "mean column-wise ROC AUC).")
def score(submission, answers, metric, multi_label):
    """Score a submission against known answers: a local leaderboard."""
    from kaggle_cnn import api

    result = api.score(submission, answers, metric, multi_label=multi_label)
    also = f", {result['metric']} {result['score']:.4f}" if "metric" in result else ""
    click.echo(f"{submission}: accuracy {result['accuracy']:.4f}{also} on {result['rows']} rows")
