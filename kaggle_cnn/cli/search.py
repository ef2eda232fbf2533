"""`kcnn search`: hyperparameter search on hyperopt (TPE, random) or a grid."""

from __future__ import annotations

from pathlib import Path

import click

from kaggle_cnn import fileio
from kaggle_cnn.api import SEARCH_ALGOS
from kaggle_cnn.cli import cli
from kaggle_cnn.cli.options import data_options, workspace
from kaggle_cnn.errors import InputError


@cli.command()
@data_options
@click.option("--space", "space_path", type=click.Path(path_type=Path), default=None,
              help="YAML search space (see examples/spaces/).")
@click.option("--template", "template_path", type=click.Path(path_type=Path), default=None,
              help="Instead of --space: a hyperas-style model.py with {{choice(...)}} markers.")
@click.option("--model", default=None, help="Architecture to tune [default: the space's, else small_resnet].")
@click.option("--algo", type=click.Choice(SEARCH_ALGOS), default="tpe", show_default=True)
@click.option("--max-evals", type=int, default=20, show_default=True, help="Trials in the study (a grid stops at its size).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Epochs per trial [default: the space's].")
@click.option("--keep-above", type=float, default=0.0, show_default=True, help="Trials at or above this are kept runs.")
@click.option("--study", "study_name", default=None,
              help="Study name (letters, digits, '_', '-', '.'; at most 100 characters); re-running it continues "
                   "[default: the space file's name].")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Makes the proposed parameters reproducible.")
@click.option("--val-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None)
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Trials trained at once, in separate processes (--space searches).")
@click.option("--tensorboard", is_flag=True,
              help="Write each trial's learning curves as TensorBoard event files as it trains (--space searches; "
                   "as kcnn train --tensorboard).")
@click.option("--show", is_flag=True, help="Print the study's leaderboard (and write it as CSV).")
@click.option("--export", "export_path", type=click.Path(path_type=Path), default=None,
              help="Write the best trial as a config for `kcnn train --config`.")
@click.pass_context
def search(ctx, data_path, load_options, space_path, template_path, model, algo, max_evals, epochs, keep_above,
           study_name, seed, val_fraction, jobs, tensorboard, show, export_path):
    """Hyperparameter search on hyperopt (TPE, random) or a grid.

    Every trial is a run of the workspace; the study is saved after each trial,
    so running the same command again continues it. Then:
    kcnn search ... --export best.yaml; kcnn train --config best.yaml --repeat 30.
    """
    from kaggle_cnn import api
    from kaggle_cnn.cli import render

    if space_path is not None and template_path is not None:
        raise InputError("give --space or --template, not both")
    if space_path is None and template_path is None and not (study_name and (show or export_path)):
        raise InputError("give --space SPACE.yaml or --template model.py to search, or --study NAME with --show/--export")
    if template_path is not None:
        given = [name for name, value in (("--model", model), ("--epochs", epochs), ("--val-fraction", val_fraction))
                 if value is not None] + (["--jobs"] if jobs != 1 else []) + (["--tensorboard"] if tensorboard else [])
        if given:
            raise InputError(f"{given[0]} applies to --space searches; a template sets it in its own code")
    if export_path is not None:
        fileio.check_file_target(export_path, "--export")  # before any trial trains
    on_trial, common = render.trial_line(render.console()), {"algo": algo, "max_evals": max_evals, "seed": seed}
    common.update(keep_above=keep_above, study=study_name, on_trial=on_trial)
    if template_path is not None:
        study_name = api.search_template(workspace(ctx), template_path, **common).name
    elif space_path is not None:
        dataset = api.load_data(data_path, **load_options)
        with render.RichTrainReporter(render.console(), finished_lines=False) as reporter:  # trial_line says it
            study_name = api.search(dataset, workspace(ctx), space_path, model=model, epochs=epochs, jobs=jobs,
                                    val_fraction=val_fraction, reporter=reporter, tensorboard=tensorboard,
                                    **common).name
    render.print_study(api.study(workspace(ctx), study_name, export=export_path))
