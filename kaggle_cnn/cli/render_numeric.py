"""What `kcnn vote` says about a vote of numeric predictions (regression, ordinal grades)."""

from __future__ import annotations

import click


def print_numeric_vote(outcome) -> None:
    sidecar, metric = outcome.sidecar, outcome.sidecar["metric"]
    number = lambda value: "undefined" if value is None else f"{value:.4f}"  # noqa: E731
    click.echo(f"method: mean (the members' predicted numbers averaged)   members: {len(sidecar['members'])}   "
               f"rows: {sidecar['rows']}")
    grading = sidecar.get("grading")
    if grading and grading.get("cut_points") is not None:
        shown = ", ".join(f"{value:.3f}" for value in grading["cut_points"])
        click.echo(f"cut-points between grades (fitted on {grading['fitted_on']}): {shown}")
        click.echo(f"validation {metric}: {number(grading['val_score_cut_points'])} with cut-points (in-sample), "
                   f"{number(grading['val_score_rounding'])} rounding: "
                   + ("cut-points used" if grading["used"] == "cut_points" else "rounding kept"))
    elif grading:
        click.echo(f"grades: predictions rounded to the nearest of {grading['low']}..{grading['high']}")
    click.echo(f"validation {metric}: {number(sidecar['val_score'])} on {sidecar['val_rows']} rows "
               "every member has honest predictions for")
    click.echo(f"submission: {outcome.csv_path}")
    click.echo(f"details:    {outcome.json_path}")
