"""`kcnn vote`: combine member submissions into one."""

from __future__ import annotations

from pathlib import Path

import click

from kaggle_cnn.api import METRICS, VOTE_MAX_ROUNDS, VOTE_METHODS, VOTE_NAME_LENGTH
from kaggle_cnn.cli import cli
from kaggle_cnn.cli.options import workspace
from kaggle_cnn.errors import InputError


def _renamed_weights(ctx, param, value):
    if value is not None:  # `train --weights` is a backbone's weights: a vote's are --member-weights
        raise InputError("kcnn vote takes member weights as --member-weights CSV (columns member,weight)")


@cli.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--method", type=click.Choice(VOTE_METHODS), default=None,
              help="hard: majority vote; soft: mean probability; weighted: by validation score (a loss: its "
                   "reciprocal; or --member-weights); greedy: Caruana forward selection on the validation rows; "
                   "stack: a logistic regression on the members' probabilities, fitted on the validation rows "
                   "[default: hard; soft when the members are probabilities].")
@click.option("--geometric", is_flag=True,
              help="Average probabilities geometrically (soft, weighted, greedy; not stack).")
@click.option("--member-weights", type=click.Path(path_type=Path), default=None,
              help="weighted: a CSV member,weight (one row per member) instead of validation accuracies.")
@click.option("--weights", hidden=True, expose_value=False, callback=_renamed_weights)
@click.option("--keep-above", type=float, default=None,
              help="Only members scoring at or above this by the metric (for logloss: at or below).")
@click.option("--top", type=int, default=None, help="Only the K best members by the metric (K >= 1).")
@click.option("--model", default=None, help="Only members that are runs of this architecture.")
@click.option("--rounds", type=int, default=25, show_default=True,
              help=f"greedy: members added after the first ones (0 to {VOTE_MAX_ROUNDS}).")
@click.option("--init", "init", type=int, default=1, show_default=True,
              help="greedy: start from the best K members (at most the number of members).")
@click.option("--metric", default=None, metavar="NAME",
              help=f"What members are judged, filtered (--keep-above, --top), weighted and greedily selected by: "
                   f"{', '.join(METRICS)} [default: the workspace's, else accuracy]. Ties in greedy selection go "
                   "to the lower log-loss.")
@click.option("--tta/--no-tta", default=None,
              help="Use the members' test-time-augmented predictions (kcnn tta), or not [default: when every member "
                   "has them and their soft vote scores better on the validation rows].")
@click.option("--finish/--no-finish", default=None,
              help="Fit the metric's finishing step on the validation rows and apply it to the test rows: per-label "
                   "decision thresholds for multi-label F1/F2, a temperature for logloss, cut-points between "
                   "ordinal grades for qwk [default: when the metric "
                   "has one]. Recorded in the sidecar with its cross-fitted validation score.")
@click.option("--across-data", is_flag=True,
              help="Vote members whose runs were trained on different data (refused otherwise); the vote then "
                   "has no shared validation rows.")
@click.option("--explain", is_flag=True, help="Print diagnostics: disagreement, vote margins, ties, per-class gain.")
@click.option("--name", default=None,
              help=f"Output name under submissions/ensemble/: up to {VOTE_NAME_LENGTH} letters, digits, '_', '-', '.' "
                   "[default: by method].")
@click.pass_context
def vote(ctx, directory, method, geometric, member_weights, keep_above, top, model, rounds, init, metric, tta,
         finish, across_data, explain, name):
    """Combine the submission CSVs in DIRECTORY (default submissions/) into one.

    Members must share header, ids and id order. A member that is a kept run's
    own CSV brings the run's stored probabilities; any other CSV votes by its
    labels only. A hard-vote tie goes to the highest mean stored probability,
    else the best member's vote, else the smallest label. Weights, selections
    and a stack's meta-model are chosen on the training rows where every member
    has honest predictions (the hold-out split; for k-fold runs alone, every row
    out of fold); the 5-fold estimate printed beside the in-sample figure
    (chosen on 4 folds of those rows, scored on the fifth) is the figure to
    trust before spending a submission. Members written as probabilities
    (id,cat,dog) are voted as probabilities and the vote is written in their
    layout; a hard vote is refused.
    """
    from kaggle_cnn import api
    from kaggle_cnn.cli.render import print_vote

    spec = api.VoteSpec(method=method, geometric=geometric, keep_above=keep_above, top=top, rounds=rounds, init=init,
                        metric=metric)
    outcome = api.vote(workspace(ctx), directory, spec=spec, name=name, model=model, member_weights=member_weights,
                       tta=tta, across_data=across_data, finish=finish)
    print_vote(outcome, explain)
