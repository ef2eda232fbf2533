"""`kcnn distill`: one student model taught by a vote's test probabilities."""

from __future__ import annotations

from pathlib import Path

import click

from kaggle_cnn.api import OPTIMIZERS, PRESETS
from kaggle_cnn.cli import cli
from kaggle_cnn.cli.options import column_options, data_path_option, workspace
from kaggle_cnn.cli.train import BATCH_SIZE_HELP, _typed, recipe_option, setting
from kaggle_cnn.config import TRAIN_OPTIONS


@cli.command()
@click.argument("vote", type=click.Path(path_type=Path))
@data_path_option("The competition the vote's runs were trained on [default: where they were loaded from].")
@column_options
@click.option("--preset", default=None, metavar="NAME", help=f"A named recipe: {', '.join(PRESETS)}.")
@recipe_option("--model", help="The student's architecture (see `kcnn models`).")
@click.option("--temperature", type=float, default=1.0, show_default=True,
              help="Soften the vote's probabilities: p^(1/T), renormalised (1 keeps them, above 1 softens).")
@setting("--keep-above", help="Keep the student when its validation score clears this [default: keep it].")
@setting("--epochs", metavar="N|auto")
@setting("--batch-size", show_default=False, help=BATCH_SIZE_HELP)
@setting("--lr", help="Learning rate (the peak, after warm-up).")
@recipe_option("--optimizer", type=click.Choice(list(OPTIMIZERS)))
@recipe_option("--augment", metavar="SPEC|none", help="Augmentation layers, as for kcnn train.")
@click.option("--set", "set_options", multiple=True, metavar="NAME=VALUE", help="An architecture option; repeatable.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="Settings from a YAML file; options given here win.")
@setting("--seed", default=0, show_default=True, help="The student's base seed.")
@click.pass_context
def distill(ctx, vote, data_path, load_options, preset, temperature, keep_above, set_options, config_file, seed,
            **settings):
    """Train one student model on a vote's test probabilities.

    The student learns the training labels and VOTE's probabilities for every
    test image. VOTE is a vote of this workspace (kcnn vote, which stores its test
    probabilities beside its CSV), its member runs still here. The student is an
    ordinary run, judged on the same validation split as every run; its run.json
    records the vote (distilled_from) and its prediction time per image beside the
    ensemble's.
    """
    from kaggle_cnn import api
    from kaggle_cnn.cli import render

    typed = {name: value for name, value in settings.items() if name in TRAIN_OPTIONS and _typed(ctx, name)}
    config = api.train_config(typed, config_file=config_file, explicit=typed, set_options=set_options, preset=preset)
    dataset = None if data_path is None else api.load_data(data_path, **load_options)
    console = render.console()
    with render.RichTrainReporter(console) as reporter:
        summary = api.distill(dataset, workspace(ctx), vote, config, temperature=temperature, keep_above=keep_above,
                              seed=seed, reporter=reporter)
    render.print_training(console, summary, workspace(ctx))
