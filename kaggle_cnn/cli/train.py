"""`kcnn train`: attempts of one configuration, the good ones kept."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from kaggle_cnn.cli import cli
from kaggle_cnn.cli.options import data_options, workspace
from kaggle_cnn.config import OPTIMIZERS, OPTIONS, SETTING_CHECKS, check_setting
from kaggle_cnn.errors import InputError

# The options that are TrainConfig settings (a --config file may set them too).
SETTINGS = ("model", "epochs", "batch_size", "lr", "optimizer", "weight_decay", "patience", "reduce_lr_patience",
            "reduce_lr_factor", "min_lr", "augment", "fine_tune_epochs", "fine_tune_lr", "unfreeze", "mixed_precision")
# Options named otherwise than their parameter (typed beside --resume, they are checked against the plan).
PARAMETERS = {"set": "set_options", "config": "config_file"}


class Setting(click.ParamType):
    """A numeric option checked by kaggle_cnn.config's table, the same check a
    --config file, --set or the Python API gets: "--lr nan: must be a finite number
    greater than 0" (an InputError, so one line)."""

    def __init__(self, setting: str):
        self.setting = setting
        self.name = "integer" if SETTING_CHECKS[setting].kind == "int" else "float"

    def convert(self, value, param, ctx):
        return check_setting(self.setting, value, OPTIONS, typed=True)


class SettingOption(click.Option):
    """--help shows a Setting's bounds as it shows click's ranges: [default: 20; x>=1]."""

    def get_help_extra(self, ctx):
        extra = super().get_help_extra(ctx)
        if isinstance(self.type, Setting) and SETTING_CHECKS[self.type.setting].interval():
            extra["range"] = SETTING_CHECKS[self.type.setting].interval()
        return extra


def setting(*declarations, **attributes):
    """click.option for a setting of kaggle_cnn.config's table (its name from the option's)."""
    name = declarations[-1].lstrip("-").replace("-", "_")
    return click.option(*declarations, cls=SettingOption, type=Setting(name), **attributes)


@cli.command()
@data_options
@click.option("--model", default="kaggle_ensemble", show_default=True, help="Architecture name (see `kcnn models`).")
@setting("--repeat", default=None, help="Attempts to make [default: 1].")
@setting("--until-kept", default=None, help="Instead of --repeat: keep going until this many runs are kept.")
@setting("--max-attempts", default=None, help="Cap on attempts with --until-kept [default: 10 x K].")
@setting("--keep-above", default=0.0, show_default=True,
         help="Keep a run when its validation accuracy is at or above this (0-1).")
@setting("--epochs", default=20, show_default=True)
@setting("--batch-size", default=128, show_default=True)
@setting("--lr", default=1e-3, show_default=True, help="Learning rate.")
@click.option("--optimizer", type=click.Choice(list(OPTIMIZERS)), default="adam", show_default=True,
              help="sgd uses momentum 0.9.")
@setting("--weight-decay", default=None, help="Decoupled weight decay.")
@setting("--patience", default=None,
         help="Stop when validation loss has not improved for this many epochs (best weights kept).")
@setting("--reduce-lr-patience", default=5, show_default=True,
         help="ReduceLROnPlateau: epochs without improvement before the rate drops.")
@setting("--reduce-lr-factor", default=0.2, show_default=True)
@setting("--min-lr", default=1e-5, show_default=True)
@click.option("--augment", default=None, metavar="SPEC",
              help="Augmentation layers, e.g. rotation=10,shift=0.1,shear=0.2,zoom=0.1,hflip "
                   "(shift and zoom are fractions of the image; see kcnn data preview).")
@setting("--dropout", default=None,
         help="Set every dropout rate of the model (each *dropout* option; --set sets one).")
@click.option("--weights", default=None, metavar="imagenet|none|PATH",
              help="Pretrained backbones: start from ImageNet (default), from scratch, or a local .h5 file.")
@setting("--fine-tune-epochs", default=0, show_default=True,
         help="Pretrained backbones: after --epochs with the base frozen, unfreeze it and train this many more.")
@setting("--fine-tune-lr", default=1e-5, show_default=True,
         help="Learning rate while fine-tuning.")
@setting("--unfreeze", default=None,
         help="Fine-tune only the base's last N layers [default: all].")
@click.option("--drop-blocks", type=int, default=None,
              help="densenet121: cut the last K dense blocks at the transition layer.")
@click.option("--set", "set_options", multiple=True, metavar="NAME=VALUE",
              help="An architecture option (see `kcnn models`, e.g. dropout1=0.2 or input_size=150); repeatable.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="Settings from a YAML file (e.g. kcnn search --export); options given here win.")
@setting("--seed", default=0, show_default=True, help="Base seed; attempt k trains with a seed derived from (S, k).")
@setting("--val-fraction", default=None,
         help="Validation share, fixed per dataset the first time a workspace sees it [default: 0.1].")
@click.option("--mixed-precision", is_flag=True, default=False,
              help="float16 on a GPU, bfloat16 on a CPU; the classifier stays float32.")
@click.option("--jobs", default="1", show_default=True, metavar="N|auto",
              help="Attempts at once, each in its own worker process; auto: GPUs x --per-gpu, or one per 4 CPU "
                   "cores.")
@click.option("--gpus", default=None, metavar="0,1", help="The GPUs to use, as TensorFlow numbers them [default: all].")
@setting("--per-gpu", default=None, help="Attempts sharing one GPU [default: 1, or what --jobs needs].")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT|local:N",
              help="Train on a Dask cluster (pip install 'kaggle_cnn[cluster]'), or local:N to try one here.")
@setting("--time-budget", default=None, metavar="MINUTES",
         help="Launch no attempt that cannot finish within this many minutes (--repeat/--until-kept stay caps).")
@click.option("--resume", is_flag=True, default=False,
              help="Finish this workspace's last interrupted plan: only its missing attempts, with their seeds.")
@click.pass_context
def train(ctx, data_path, load_options, repeat, until_kept, max_attempts, keep_above, dropout, weights, drop_blocks,
          set_options, config_file, seed, val_fraction, jobs, gpus, per_gpu, scheduler, time_budget, resume,
          **settings):
    """Train MODEL again and again; keep the runs scoring at least --keep-above.

    A kept run stores its model, validation and test probabilities under
    models/<run_id>/ and its own submission as submissions/<run_id>.csv. Every
    attempt, kept or not, gets a row in models/index.csv; every command's plan is
    kept in models/plans/ for --resume.
    """
    from kaggle_cnn import api
    from kaggle_cnn.cli import render

    execution = api.Execution(jobs=api.parse_jobs(jobs), gpus=gpus, per_gpu=per_gpu, scheduler=scheduler)
    console = render.console()
    with render.RichTrainReporter(console) as reporter:
        if resume:
            planned = dict(settings, **load_options, repeat=repeat, until_kept=until_kept, max_attempts=max_attempts,
                           keep_above=keep_above, seed=seed, val_fraction=val_fraction, dropout=dropout,
                           weights=weights, drop_blocks=drop_blocks, set=set_options, config=config_file)
            given = {name: value for name, value in planned.items() if _typed(ctx, PARAMETERS.get(name, name))}
            summary = api.resume(workspace(ctx), data_path=data_path, given=given, reporter=reporter,
                                 execution=execution, time_budget=time_budget)
        else:
            _check_target(repeat, until_kept, max_attempts)
            typed = {name for name in SETTINGS if _typed(ctx, name)}
            config = api.train_config(settings, config_file=config_file, explicit=typed, set_options=set_options,
                                      dropout=dropout, weights=weights, drop_blocks=drop_blocks)
            summary = api.train(api.load_data(data_path, **load_options), workspace(ctx), config,
                                repeat=1 if repeat is None else repeat, until_kept=until_kept,
                                max_attempts=max_attempts, keep_above=keep_above, seed=seed, val_fraction=val_fraction,
                                reporter=reporter, execution=execution, time_budget=time_budget)
    render.print_training(console, summary, workspace(ctx))


def _typed(ctx: click.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source is not ParameterSource.DEFAULT


def _check_target(repeat: int | None, until_kept: int | None, max_attempts: int | None) -> None:
    if repeat is not None and until_kept is not None:
        raise InputError("give --repeat N or --until-kept K, not both")
    if max_attempts is not None and until_kept is None:
        raise InputError("--max-attempts only applies with --until-kept")
