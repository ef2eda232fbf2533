"""`kcnn train`: attempts of one configuration (or of several, taking turns), the good ones kept."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from kaggle_cnn.api import METRICS, OPTIMIZERS, PRESETS, SCHEDULES
from kaggle_cnn.cli import cli
from kaggle_cnn.cli.options import data_options, renamed_option, workspace
from kaggle_cnn.config import (
    OPTIONS,
    SETTING_CHECKS,
    TRAIN_OPTIONS,
    TrainConfig,
    check_setting,
)

# Options named otherwise than their parameter (typed beside --resume, they are checked against the plan).
PARAMETERS = {"set": "set_options", "config": "config_file"}


def recipe(name: str) -> str:
    """The default recipe's value of a setting, as --help shows it."""
    value = getattr(TrainConfig, name)
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


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
    """--help shows a Setting's bounds as it shows click's ranges, and an option
    left to the recipe its value there: [default: 12; x>=1]."""

    def __init__(self, *args, recipe_default: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.recipe_default = recipe_default

    def get_help_extra(self, ctx):
        extra = super().get_help_extra(ctx)
        if self.recipe_default is not None:
            extra["default"] = self.recipe_default
        if isinstance(self.type, Setting) and SETTING_CHECKS[self.type.setting].interval():
            extra["range"] = SETTING_CHECKS[self.type.setting].interval()
        return extra


def recipe_option(*declarations, **attributes):
    """click.option for a TrainConfig setting that is not a number: left to the preset when not typed."""
    name = declarations[-1].lstrip("-").replace("-", "_")
    return click.option(*declarations, cls=SettingOption, default=None, recipe_default=recipe(name), **attributes)


BATCH_SIZE_HELP = ("Images a training step. Left out: 128, halved (down to 32) while an epoch would take fewer than "
                   "16 steps, as on a small training set.")


def setting(*declarations, **attributes):
    """click.option for a setting of kaggle_cnn.config's table (its name from the option's);
    a TrainConfig field shows the default recipe's value as its default."""
    name = declarations[-1].lstrip("-").replace("-", "_")
    if name in TRAIN_OPTIONS and "show_default" not in attributes:
        attributes.setdefault("recipe_default", recipe(name))
    attributes.setdefault("default", None)
    return click.option(*declarations, cls=SettingOption, type=Setting(name), **attributes)


@cli.command()
@data_options
@click.option("--preset", default=None, metavar="NAME[,NAME...]",
              help=f"A named recipe: {', '.join(PRESETS)} (see `kcnn models`). Options typed here win over it; "
                   "a list: the attempts take turns over them, as with --model a,b [default: default].")
@recipe_option("--model", metavar="NAME[,NAME...]",
               help="Architecture name (see `kcnn models`); a list a,b,c: attempt 1 trains a, 2 b, 3 c, 4 a again, "
                    "... on the same split and folds (a name twice trains twice as often). Beside a list of presets, "
                    "one of the same length: they pair up in order.")
@setting("--repeat", help="Attempts to make [default: 1; with --time-budget, one until its share holds more than "
                             "max_epochs (40), then as few more as use it, up to 5].")
@setting("--until-kept", help="Instead of --repeat: keep going until this many runs are kept.")
@setting("--max-attempts", help="Cap on attempts with --until-kept [default: 10 x K].")
@setting("--keep-above",
         help="Keep a run when its validation score is at or above this (for --metric logloss: at or below) "
              "[default: keep every run].")
@click.option("--metric", default=None, metavar="NAME",
              help=f"What runs are judged and kept by: {', '.join(METRICS)} (map@K: mean average precision at K, e.g. "
                   "map@5, and each submission row holds the K likeliest labels); recorded by the workspace, so every "
                   "run and vote in it compares [default: the workspace's, else accuracy].")
@setting("--folds", metavar="K",
         help="Each run is K fold models (stratified, the same folds for every run of the workspace), judged on "
              "out-of-fold predictions for every training row; its submission averages the fold models.")
@click.option("--refit", is_flag=True, default=False,
              help="With --folds: then train one model on every training row for the epochs the folds chose; "
                   "its predictions are the submission.")
@setting("--epochs", metavar="N|auto",
         help="Epochs of each attempt; auto: the schedule ends when the validation loss stalls (at most --max-epochs; "
              "with --time-budget, as many as each attempt's share of it holds). Left out with --time-budget: auto.")
@setting("--max-epochs", help="The most epochs --epochs auto trains.")
@setting("--batch-size", show_default=False, help=BATCH_SIZE_HELP)
@setting("--lr", help="Learning rate (the peak, after warm-up).")
@recipe_option("--optimizer", type=click.Choice(list(OPTIMIZERS)), help="sgd uses momentum 0.9.")
@setting("--weight-decay", help="Decoupled weight decay (0: none).")
@recipe_option("--schedule", type=click.Choice(SCHEDULES), help="cosine: warm-up, then down to 0 at the last epoch; plateau: ReduceLROnPlateau; constant.")
@setting("--warmup-epochs", help="Linear warm-up of the rate (cosine and constant), in epochs.")
@setting("--label-smoothing", help="Share of each label spread over the other classes (0: none).")
@click.option("--ema", is_flag=True, default=False, help="Average the weights as they train and end with the average.")
@setting("--patience", help="Stop when the validation loss has not improved for this many epochs (best weights "
                            "kept); --epochs auto scales it to the schedule when not given.")
@setting("--reduce-lr-patience", help="Plateau schedule: epochs without improvement before the rate drops.")
@setting("--reduce-lr-factor", help="Plateau schedule: what the rate is multiplied by.")
@setting("--min-lr", help="Plateau schedule: the lowest rate.")
@recipe_option("--augment", metavar="SPEC|none", help="Augmentation layers, e.g. rotation=10,shift=0.1,shear=0.2,zoom=0.1,erase=0.5,hflip "
                   "(shift and zoom are fractions of the image; see kcnn data preview).")
@recipe_option("--mix", metavar="mixup=A,cutmix=A|none",
               help="Train on mixed images: mixup blends two images, cutmix pastes a rectangle of one into another; "
                    "labels mix in the same share. A in (0, 1] (mixup=0.2, cutmix=1 are usual); both: half the "
                    "batches each.")
@setting("--dropout",
         help="Set every dropout rate of the model (each *dropout* option; --set sets one).")
@click.option("--weights", default=None, metavar="imagenet|none|PATH",
              help="Pretrained backbones: start from ImageNet (default), from scratch, or a local .h5 file.")
@setting("--fine-tune-epochs",
         help="Pretrained backbones: after --epochs with the base frozen, unfreeze it and train this many more.")
@setting("--fine-tune-lr", help="Learning rate while fine-tuning.")
@setting("--unfreeze", recipe_default="all", help="Fine-tune only the base's last N layers.")
@click.option("--drop-blocks", type=int, default=None,
              help="densenet121: cut the last K dense blocks at the transition layer.")
@click.option("--set", "set_options", multiple=True, metavar="NAME=VALUE",
              help="An architecture option (see `kcnn models`, e.g. dropout1=0.2 or input_size=150); repeatable.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="Settings from a YAML file (e.g. kcnn search --export); options given here win.")
@setting("--seed", default=0, show_default=True, help="Base seed; attempt k trains with a seed derived from (S, k).")
@setting("--val-fraction", help="Validation share, fixed per dataset the first time a workspace sees it "
                                "[default: 0.1].")
@click.option("--mixed-precision", is_flag=True, default=False,
              help="float16 on a GPU, bfloat16 on a CPU; the classifier stays float32.")
@click.option("--jobs", default="1", show_default=True, metavar="N|auto",
              help="Attempts at once, each in its own worker process; auto: GPUs x --per-gpu, or one per 4 CPU "
                   "cores.")
@click.option("--gpus", default=None, metavar="0,1", help="The GPUs to use, as TensorFlow numbers them [default: all].")
@setting("--per-gpu", help="Attempts sharing one GPU [default: 1, or what --jobs needs].")
@click.option("--cluster", default=None, metavar="tcp://HOST:PORT|local:N",
              help="Train on a Dask cluster (pip install 'kaggle_cnn[cluster]'), or local:N to try one here.")
@renamed_option("--scheduler", "--cluster", "a Dask scheduler's tcp://HOST:PORT, or local:N")
@setting("--time-budget", metavar="MINUTES",
         help="Finish within this many minutes: an epoch is measured first, each attempt's epochs are fitted to its "
              "share (unless --epochs is given) and no attempt is launched that cannot finish; attempts of 16+ epochs "
              "get shifts and label smoothing 0.1 unless --augment or --label-smoothing is given.")
@click.option("--tensorboard", is_flag=True, default=False,
              help="Write each attempt's learning curves as TensorBoard event files as it trains: "
                   "models/tensorboard/<run_id>/ while in flight, then models/<run_id>/tensorboard/ if kept "
                   "(view: pip install tensorboard; tensorboard --logdir models).")
@click.option("--pseudo-labels", type=click.Path(path_type=Path), default=None, metavar="VOTE.csv",
              help="Also train on the test images this vote (of this data) is sure of, its probabilities as their "
                   "targets; validation rows stay as they are.")
@click.option("--pseudo-confidence", type=float, default=None, metavar="P",
              help="With --pseudo-labels: the vote's top probability a test image needs, in (0, 1] [default: 0.95].")
@click.option("--resume", is_flag=True, default=False,
              help="Finish this workspace's last interrupted plan: only its missing attempts, with their seeds.")
@click.pass_context
def train(ctx, data_path, load_options, preset, repeat, until_kept, max_attempts, keep_above, metric, folds, refit,
          dropout, weights, drop_blocks, set_options, config_file, seed, val_fraction, jobs, gpus, per_gpu, cluster,
          time_budget, tensorboard, pseudo_labels, pseudo_confidence, resume, **settings):
    """Train MODEL again and again; keep the runs whose score clears --keep-above.

    A kept run stores its model, validation and test probabilities under
    models/<run_id>/ and its own submission as submissions/<run_id>.csv. Every
    attempt, kept or not, gets a row in models/index.csv; every command's plan is
    kept in models/plans/ for --resume. With --model a,b,c the attempts take
    turns over the models, as one plan.
    """
    from kaggle_cnn import api
    from kaggle_cnn.cli import render

    execution = api.Execution(jobs=api.parse_jobs(jobs), gpus=gpus, per_gpu=per_gpu, cluster=cluster)
    console = render.console()
    with render.RichTrainReporter(console) as reporter:
        if resume:
            planned = dict(settings, **load_options, repeat=repeat, until_kept=until_kept, max_attempts=max_attempts,
                           keep_above=keep_above, metric=metric, folds=folds, refit=refit, seed=seed,
                           val_fraction=val_fraction, dropout=dropout,
                           weights=weights, drop_blocks=drop_blocks, set=set_options, config=config_file,
                           preset=preset, pseudo_labels=pseudo_labels, pseudo_confidence=pseudo_confidence)
            given = {name: value for name, value in planned.items() if _typed(ctx, PARAMETERS.get(name, name))}
            summary = api.resume(workspace(ctx), data_path=data_path, given=given, reporter=reporter,
                                 execution=execution, time_budget=time_budget, tensorboard=tensorboard)
        else:
            typed = {name: value for name, value in settings.items() if name in TRAIN_OPTIONS and _typed(ctx, name)}
            models = typed.pop("model", None)
            configs = api.train_configs(typed, models=models, presets=preset, config_file=config_file,
                                        explicit=typed, set_options=set_options, dropout=dropout, weights=weights,
                                        drop_blocks=drop_blocks)
            for each in dict.fromkeys(preset.split(",")) if preset else ():
                for change in api.preset_changes(each, {**typed, **({"model": models} if models else {})}):
                    reporter.note(change)
            summary = api.train(api.load_data(data_path, metric=metric, **load_options), workspace(ctx), configs,
                                repeat=repeat, until_kept=until_kept, max_attempts=max_attempts,
                                keep_above=keep_above, seed=seed, val_fraction=val_fraction, reporter=reporter,
                                execution=execution, time_budget=time_budget, metric=metric, folds=folds,
                                refit=refit, fit_epochs="epochs" not in typed, budget_leaves=list(typed),
                                tensorboard=tensorboard, pseudo_labels=pseudo_labels,
                                pseudo_confidence=pseudo_confidence)
    render.print_training(console, summary, workspace(ctx))


def _typed(ctx: click.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source is not ParameterSource.DEFAULT
