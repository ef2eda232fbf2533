"""`kcnn`: thin click wrappers over kaggle_cnn.api, named as the library is.

No TensorFlow at import time: `kcnn --help`, `vote`, `metrics` and `score` must
start in well under a second. Commands that train import it when they run.
Bad input of any kind ends with one line, `Error: ...`, and exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kaggle_cnn.config import OPTIMIZERS
from kaggle_cnn.errors import InputError

EXIT_BAD_INPUT = 2


class KcnnGroup(click.Group):
    """Every usage or input error prints as a single line and exits 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra) or 0
        except click.exceptions.NoArgsIsHelpError as bare:  # plain `kcnn`: show the help
            click.echo(bare.format_message())
            sys.exit(0)
        except (InputError, click.ClickException) as error:
            click.echo(f"Error: {_one_line(error)}", err=True)
            sys.exit(EXIT_BAD_INPUT if not isinstance(error, click.ClickException) or isinstance(error, click.UsageError)
                     else error.exit_code)
        except click.exceptions.Abort:
            # Ctrl-C: every run kept so far is already complete on disk.
            click.echo("Interrupted; runs kept so far are saved.", err=True)
            sys.exit(130)


def _one_line(error: Exception) -> str:
    if not isinstance(error, click.ClickException):
        return " ".join(str(error).split())
    message = " ".join(error.format_message().split())
    ctx = getattr(error, "ctx", None)
    if isinstance(error, click.UsageError) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


def _workspace(ctx: click.Context):
    from kaggle_cnn.store import Workspace

    return Workspace(ctx.obj["workspace"])




@click.group(cls=KcnnGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--workspace", "-w", type=click.Path(file_okay=False, path_type=Path), default=".", show_default=True,
              help="Folder holding models/, submissions/ and reports/.")
@click.version_option(package_name="kaggle_cnn")
@click.pass_context
def cli(ctx: click.Context, workspace: Path) -> None:
    """Train CNNs again and again, keep the good runs, vote them into a submission.

    \b
      kcnn train --repeat 30 --keep-above 0.91
      kcnn vote submissions/
      kcnn metrics
    """
    ctx.obj = {"workspace": workspace}


# -- data options shared by commands that read a competition ---------------------------


def _parse_shape(ctx, param, value):
    if value is None:
        return None
    from kaggle_cnn.data import parse_image_shape

    return parse_image_shape(value)


def _parse_size(ctx, param, value):
    if value is None:
        return None
    from kaggle_cnn.data.folders import parse_image_size

    return parse_image_size(value)


def column_options(command):
    """Options that say how to read a competition's files."""
    options = [
        click.option("--label-column", default=None, help="Label column of train.csv (default: detected, e.g. label/Label)."),
        click.option("--id-column", default=None, help="Id column of test.csv (default: detected, e.g. id/Id/ImageId)."),
        click.option("--image-shape", callback=_parse_shape, default=None,
                     help="HxWxC when the pixel count does not say it (784 -> 28x28x1 is inferred)."),
        click.option("--image-size", callback=_parse_size, default=None, metavar="N|HxW",
                     help="Image folders: resize every image to N x N or H x W pixels (needed when sizes differ)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


DATA_HELP = ("Competition folder (train.csv, test.csv[, sample_submission.csv]), .npz, CIFAR batches, or an "
             "image folder (<class>/ folders, or train/ [val/] [test/]). Default: the built-in MNIST demo.")


def data_options(command):
    """--data PATH plus the column options: for commands that read a competition."""
    return click.option("--data", "data_path", type=click.Path(path_type=Path), default=None, help=DATA_HELP)(
        column_options(command)
    )


def _load(data_path, label_column=None, id_column=None, image_shape=None, image_size=None):
    from kaggle_cnn.data import load_dataset

    return load_dataset(data_path, label_column=label_column, id_column=id_column, image_shape=image_shape,
                        image_size=image_size)


# -- commands ------------------------------------------------------------------------


class DefaultCommandGroup(click.Group):
    """`kcnn data PATH` describes; `kcnn data preview ...` is a sub-command."""

    default_command = "describe"

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@cli.group(cls=DefaultCommandGroup)
def data():
    """Describe a dataset (kcnn data [PATH]), preview augmentation, or split an image folder."""


@data.command("describe")
@click.argument("data_path", metavar="[PATH]", required=False, type=click.Path(path_type=Path))
@column_options
def data_describe(data_path, label_column, id_column, image_shape, image_size):
    """Describe the dataset at PATH: kind, image shape, classes and their counts.

    PATH is a competition folder, .npz, or an image folder (one sub-folder of images
    per class, or train/ [val/] [test/]); default the built-in MNIST demo."""
    import numpy as np

    dataset = _load(data_path, label_column, id_column, image_shape, image_size)
    if dataset.kind == "image_folder":
        _describe_image_folder(dataset)
        return
    counts = np.bincount(dataset.y_train, minlength=dataset.n_classes)
    click.echo(f"source:      {dataset.source} ({dataset.kind})")
    click.echo(f"image shape: {'x'.join(map(str, dataset.image_shape))}")
    click.echo(f"train rows:  {len(dataset.y_train)}   test rows: {len(dataset.test_ids)}")
    click.echo(f"submission:  {','.join(dataset.submission_header)}")
    click.echo(f"classes:     {dataset.n_classes}")
    for label, count in zip(dataset.classes, counts):
        click.echo(f"  {label!s:>12}  {count}")
    click.echo(f"fingerprint: {dataset.fingerprint()}")


SHOWN_SKIPPED = 10


def _describe_image_folder(dataset) -> None:
    from kaggle_cnn.data.folders import HOLDOUT_FRACTION, folder_summary

    def hw(size) -> str:
        return f"{size[0]}x{size[1]}"

    summary = folder_summary(dataset)
    counts = summary["counts"]
    click.echo(f"source:      {dataset.source} ({dataset.kind})")
    if summary["layout"] == "flat":
        test = (f"{counts['test']} held out ({HOLDOUT_FRACTION:.0%} of each class, fixed) as a labelled test set; "
                f"score with kcnn score --answers {dataset.source}") if counts["test"] else "no test set"
        click.echo(f"layout:      class folders (<class>/<images>); {test}")
    else:
        test = ("none" if not counts["test"] else "labelled, test/<class>/" if summary["test_labelled"]
                else "unlabelled, test/<images>")
        val = "val/ fixes the validation rows" if counts["val"] else "no val/"
        click.echo(f"layout:      train/<class>/; {val}; test: {test}")
    click.echo(f"image shape: {'x'.join(map(str, dataset.image_shape))} "
               f"({'grey' if summary['channels'] == 1 else 'colour'}, every image resized to {hw(summary['size'])})")
    click.echo(f"images:      train {counts['train']}   val {counts['val']}   test {counts['test']}")
    sizes = summary["sizes"]
    if len(sizes) == 1:
        click.echo(f"sizes seen:  all {hw(summary['smallest'])} (HxW)")
    elif sizes:
        common, times = summary["most_common"]
        click.echo(f"sizes seen:  {len(sizes)} sizes (HxW), smallest {hw(summary['smallest'])}, largest "
                   f"{hw(summary['largest'])}, most common {hw(common)} ({times} images)")
    click.echo(f"submission:  {','.join(dataset.submission_header)}")
    parts = [part for part in ("train", "val", "test") if part in summary["per_class"] and counts[part]]
    click.echo(f"classes:     {dataset.n_classes}" + (f"   ({', '.join(parts)})" if len(parts) > 1 else ""))
    for i, label in enumerate(dataset.classes):
        click.echo(f"  {label!s:>12}  " + "  ".join(f"{summary['per_class'][part][i]:>5}" for part in parts))
    skipped = summary["skipped"]
    click.echo(f"skipped:     {len(skipped)} file{'s' * (len(skipped) != 1)}")
    for path, reason in skipped[:SHOWN_SKIPPED]:
        click.echo(f"  {path}: {reason}")
    if len(skipped) > SHOWN_SKIPPED:
        click.echo(f"  ... and {len(skipped) - SHOWN_SKIPPED} more")
    click.echo(f"fingerprint: {dataset.fingerprint()}")


@data.command("preview")
@click.argument("data_path", metavar="[PATH]", required=False, type=click.Path(path_type=Path))
@column_options
@click.option("--augment", required=True, metavar="SPEC", help="As for kcnn train, e.g. rotation=40,zoom=0.2,hflip.")
@click.option("--n", "count", type=click.IntRange(1, 32), default=6, show_default=True, help="Training images shown.")
@click.option("--copies", type=click.IntRange(1, 16), default=7, show_default=True, help="Augmented copies of each.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="PNG to write [default: reports/plots/augment-preview.png in the workspace].")
@click.pass_context
def data_preview(ctx, data_path, label_column, id_column, image_shape, image_size, augment, count, copies, out):
    """Save a PNG grid: training images, each followed by augmented copies."""
    import numpy as np

    from kaggle_cnn import plots
    from kaggle_cnn.augment import parse_augment, preview

    parse_augment(augment)  # bad specs fail before any data is read
    dataset = _load(data_path, label_column, id_column, image_shape, image_size)
    grid = preview(np.asarray(dataset.x_train[:count]), augment, copies)
    path = out or _workspace(ctx).reports_dir / "plots" / "augment-preview.png"
    click.echo(f"preview: {plots.save(plots.augmentation_grid(grid, augment), path)}")


@data.command("split")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--ratio", default="0.8,0.1,0.1", show_default=True, metavar="TRAIN,VAL[,TEST]",
              help="Shares of each class for train/, val/ and test/ (two numbers: no test/); they add up to 1.")
@click.option("--seed", type=int, default=0, show_default=True, help="Which files go where.")
def data_split(src, dst, ratio, seed):
    """Copy an image folder SRC (one sub-folder of images per class) into
    DST/train|val|test/<class>/, stratified per class. DST must not exist (or be empty)."""
    from kaggle_cnn.data.folders import parse_ratios, split_folder

    result = split_folder(src, dst, parse_ratios(ratio), seed=seed)
    parts = list(result.counts)
    width = max(12, *(len(str(c)) for c in result.classes))
    click.echo(f"split: {src} -> {result.destination} (ratio {ratio}, seed {seed})")
    click.echo(f"  {'class':<{width}}" + "".join(f"  {part:>6}" for part in parts))
    for c in result.classes:
        click.echo(f"  {c:<{width}}" + "".join(f"  {result.counts[part][c]:>6}" for part in parts))
    click.echo(f"  {'total':<{width}}" + "".join(f"  {sum(result.counts[part].values()):>6}" for part in parts))
    if result.skipped:
        click.echo(f"skipped {len(result.skipped)} file{'s' * (len(result.skipped) != 1)} (not copied):")
        for path, reason in result.skipped[:SHOWN_SKIPPED]:
            click.echo(f"  {path}: {reason}")
        if len(result.skipped) > SHOWN_SKIPPED:
            click.echo(f"  ... and {len(result.skipped) - SHOWN_SKIPPED} more")


@cli.command()
@click.option("--image-shape", callback=_parse_shape, default="28x28x1", show_default=True, help="Input shape to build with.")
@click.option("--classes", "n_classes", type=click.IntRange(min=2), default=10, show_default=True)
def models(image_shape, n_classes):
    """List the registered architectures: input size, parameter counts, pretrained backbones."""
    from kaggle_cnn import display

    from rich.table import Table

    from kaggle_cnn.architectures import build, get, names, options

    table = Table()
    for column in ("name", "input", "params", "pretrained", "source", "options (--set NAME=VALUE)", "summary"):
        table.add_column(column, justify="right" if column == "params" else "left")
    for name in names():
        architecture = get(name)
        # backbones are counted without downloading anything; the count is the same with ImageNet weights
        model = build(name, image_shape, n_classes, **({"weights": None} if architecture.pretrained else {}))
        seen = model.get_layer("resize").output.shape[1:3] if any(l.name == "resize" for l in model.layers) else None
        shape = "x".join(map(str, image_shape)) + (f" -> {seen[0]}x{seen[1]}" if seen else "")
        table.add_row(name, shape, f"{model.count_params():,}", "imagenet" if architecture.pretrained else "-",
                      architecture.source, ", ".join(options(name)), architecture.summary)
    display.console().print(table)


@cli.command()
@data_options
@click.option("--model", default="kaggle_ensemble", show_default=True, help="Architecture name (see `kcnn models`).")
@click.option("--repeat", type=int, default=None, help="Attempts to make [default: 1].")
@click.option("--until-kept", type=int, default=None, help="Instead of --repeat: keep going until this many runs are kept.")
@click.option("--max-attempts", type=int, default=None, help="Cap on attempts with --until-kept [default: 10 x K].")
@click.option("--keep-above", type=float, default=0.0, show_default=True,
              help="Keep a run when its validation accuracy is at or above this (0-1).")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True, help="Learning rate.")
@click.option("--optimizer", type=click.Choice(list(OPTIMIZERS)), default="adam", show_default=True,
              help="sgd uses momentum 0.9.")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=None, help="Decoupled weight decay.")
@click.option("--patience", type=click.IntRange(min=1), default=None,
              help="Stop when validation loss has not improved for this many epochs (best weights kept).")
@click.option("--reduce-lr-patience", type=click.IntRange(min=1), default=5, show_default=True,
              help="ReduceLROnPlateau: epochs without improvement before the rate drops.")
@click.option("--reduce-lr-factor", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2,
              show_default=True)
@click.option("--min-lr", type=click.FloatRange(min=0), default=1e-5, show_default=True)
@click.option("--augment", default=None, metavar="SPEC",
              help="Augmentation layers, e.g. rotation=10,shift=0.1,shear=0.2,zoom=0.1,hflip (see kcnn data preview).")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Set every dropout rate of the model (each *dropout* option; --set sets one).")
@click.option("--weights", default=None, metavar="imagenet|none|PATH",
              help="Pretrained backbones: start from ImageNet (default), from scratch, or a local .h5 file.")
@click.option("--fine-tune-epochs", type=click.IntRange(min=0), default=0, show_default=True,
              help="Pretrained backbones: after --epochs with the base frozen, unfreeze it and train this many more.")
@click.option("--fine-tune-lr", type=click.FloatRange(min=0, min_open=True), default=1e-5, show_default=True,
              help="Learning rate while fine-tuning (seed 001 used 1e-6).")
@click.option("--unfreeze", type=click.IntRange(min=1), default=None,
              help="Fine-tune only the base's last N layers [default: all].")
@click.option("--drop-blocks", type=click.IntRange(min=0), default=None,
              help="densenet121: cut the last K dense blocks at the transition layer (seed 002).")
@click.option("--set", "model_settings", multiple=True, metavar="NAME=VALUE",
              help="An architecture option (see `kcnn models`, e.g. dropout1=0.2 or input_size=150); repeatable.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Settings from a YAML file (e.g. kcnn search --export); options given here win.")
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed; attempt k trains with a seed derived from (S, k).")
@click.option("--val-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Validation share, fixed per dataset the first time a workspace sees it [default: 0.1].")
@click.pass_context
def train(ctx, data_path, label_column, id_column, image_shape, image_size, model, repeat, until_kept, max_attempts,
          keep_above, epochs, batch_size, lr, optimizer, weight_decay, patience, reduce_lr_patience, reduce_lr_factor,
          min_lr, augment, dropout, weights, fine_tune_epochs, fine_tune_lr, unfreeze, drop_blocks, model_settings, config_path,
          seed, val_fraction):
    """Train MODEL again and again; keep the runs scoring at least --keep-above.

    A kept run stores its model, validation and test probabilities under
    models/<run_id>/ and its own submission as submissions/<run_id>.csv. Every
    attempt, kept or not, gets a row in models/index.csv.
    """
    from kaggle_cnn import display

    from kaggle_cnn import api

    if repeat is not None and until_kept is not None:
        raise InputError("give --repeat N or --until-kept K, not both")
    if max_attempts is not None and until_kept is None:
        raise InputError("--max-attempts only applies with --until-kept")
    repeat = 1 if repeat is None else repeat
    api.check_train_options(repeat=repeat, until_kept=until_kept, max_attempts=max_attempts, keep_above=keep_above)
    workspace = _workspace(ctx)
    dataset = _load(data_path, label_column, id_column, image_shape, image_size)

    from kaggle_cnn.training import TrainConfig

    config = TrainConfig.from_settings(_settings(
        ctx, config_path, model_settings, model=model, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
        weight_decay=weight_decay, patience=patience, reduce_lr_patience=reduce_lr_patience,
        reduce_lr_factor=reduce_lr_factor, min_lr=min_lr, augment=augment, fine_tune_epochs=fine_tune_epochs,
        fine_tune_lr=fine_tune_lr, unfreeze=unfreeze, **_model_shortcuts(model, dropout, weights, drop_blocks)))
    console = display.console()
    with display.RichTrainReporter(console) as reporter:
        summary = api.train_many(
            dataset, workspace, config, repeat=repeat, until_kept=until_kept, max_attempts=max_attempts,
            keep_above=keep_above, seed=seed, val_fraction=val_fraction, reporter=reporter,
        )
    console.print(display.summary_table(summary))
    if until_kept is not None and len(summary.kept) < until_kept:
        console.print(f"stopped after {len(summary.attempts)} attempts with {len(summary.kept)} of {until_kept} runs kept")
    console.print(f"runs: {workspace.models_dir}/   submissions: {workspace.submissions_dir}/")


def _model_shortcuts(model: str, dropout: float | None, weights: str | None, drop_blocks: int | None) -> dict:
    """--dropout, --weights and --drop-blocks as architecture options, refused (one
    line) where the model has nothing they could set."""
    from kaggle_cnn.architectures import get, options

    settings = {}
    if dropout is not None:
        rates = [name for name in options(model) if "dropout" in name]
        if not rates:
            raise InputError(f"--dropout: {model} has no dropout layers (its options: {', '.join(options(model))})")
        settings.update(dict.fromkeys(rates, dropout))
    if weights is not None:
        if not get(model).pretrained:
            from kaggle_cnn.api import pretrained_models

            raise InputError(f"--weights: {model} has no pretrained base; backbones are {', '.join(pretrained_models())}")
        from kaggle_cnn.architectures.backbones import parse_weights

        settings["weights"] = parse_weights(weights) or "none"  # a file's absolute path, for run.json
    if drop_blocks is not None:
        if "drop_blocks" not in options(model):
            raise InputError(f"--drop-blocks: {model} has no dense blocks to drop (densenet121 has)")
        settings["drop_blocks"] = drop_blocks
    return settings


def _settings(ctx, config_path, model_settings, **given):
    """--config's settings, overridden by the options typed on the command line,
    plus --set NAME=VALUE architecture options; all checked against the model."""
    import yaml
    from click.core import ParameterSource

    from kaggle_cnn.search.space import check_settings, load_config

    settings = load_config(config_path) if config_path else {}
    for name, value in given.items():
        if name not in settings or ctx.get_parameter_source(name) is not ParameterSource.DEFAULT:
            settings[name] = value
    for item in model_settings:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--set {item!r}: expected NAME=VALUE, e.g. --set dropout1=0.2")
        settings[name.strip()] = yaml.safe_load(text)
    check_settings(settings, "--set" if model_settings else "options")
    return settings


@cli.command()
@data_options
@click.option("--space", "space_path", type=click.Path(path_type=Path), default=None,
              help="YAML search space (see examples/spaces/).")
@click.option("--template", "template_path", type=click.Path(path_type=Path), default=None,
              help="Instead of --space: a hyperas-style model.py with {{choice(...)}} markers.")
@click.option("--model", default=None, help="Architecture to tune [default: the space's, else kaggle_ensemble].")
@click.option("--algo", type=click.Choice(["tpe", "rand", "grid"]), default="tpe", show_default=True)
@click.option("--max-evals", type=int, default=20, show_default=True, help="Trials in the study (a grid stops at its size).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Epochs per trial [default: the space's].")
@click.option("--keep-above", type=float, default=0.0, show_default=True, help="Trials at or above this are kept runs.")
@click.option("--study", default=None, help="Study name; re-running it continues [default: the space file's name].")
@click.option("--seed", type=int, default=0, show_default=True, help="Makes the proposed parameters reproducible.")
@click.option("--val-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None)
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Trials trained at once, in separate processes (--space searches).")
@click.option("--show", is_flag=True, help="Print the study's leaderboard (and write it as CSV).")
@click.option("--export", "export_path", type=click.Path(path_type=Path), default=None,
              help="Write the best trial as a config for `kcnn train --config`.")
@click.pass_context
def search(ctx, data_path, label_column, id_column, image_shape, image_size, space_path, template_path, model, algo, max_evals,
           epochs, keep_above, study, seed, val_fraction, jobs, show, export_path):
    """Hyperparameter search on hyperopt (TPE, random) or a grid.

    Every trial is a run of the workspace; the study is saved after each trial,
    so running the same command again continues it. Then, as seed 004 did:
    kcnn search ... --export best.yaml; kcnn train --config best.yaml --repeat 30.
    """
    from kaggle_cnn import api, display
    from kaggle_cnn.search import study as studies
    from kaggle_cnn.search.space import save_config

    workspace = _workspace(ctx)
    if space_path is not None and template_path is not None:
        raise InputError("give --space or --template, not both")
    if space_path is None and template_path is None:
        if not study or not (show or export_path):
            raise InputError("give --space SPACE.yaml or --template model.py to search, or --study NAME with --show/--export")
    else:
        console = display.console()

        def on_trial(trial, number, total):
            verdict = "failed: " + trial.message if trial.status == "failed" else (
                f"val_acc {trial.val_accuracy:.4f}" if trial.val_accuracy is not None else f"loss {trial.loss:.4g}")
            verdict += ("  kept" if trial.kept else "  discarded") if trial.status == "ok" else ""
            params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
            console.print(f"[trial {number}/{total}] {trial.run_id}  {verdict}  {params}", highlight=False, markup=False,
                          soft_wrap=True)

        if template_path is not None:
            done = api.search_template(workspace, template_path, algo=algo, max_evals=max_evals, keep_above=keep_above,
                                       study=study, seed=seed, on_trial=on_trial)
        else:
            dataset = _load(data_path, label_column, id_column, image_shape, image_size)
            with display.RichTrainReporter(console) as reporter:
                done = api.search(dataset, workspace, space_path, model=model, algo=algo, max_evals=max_evals,
                                  epochs=epochs, keep_above=keep_above, study=study, seed=seed,
                                  val_fraction=val_fraction, reporter=reporter, on_trial=on_trial, jobs=jobs)
        study = done.name
    state = studies.load_saved(workspace, study)
    board = studies.leaderboard(state)
    csv_path = studies.study_dir(workspace, study) / "leaderboard.csv"
    from kaggle_cnn import fileio

    fileio.write_csv(csv_path, board)
    # A --space study's loss is minus its accuracy: one column says it; a template's loss is its own.
    hidden = ["message"] + (["loss"] if not str(state["fixed"].get("model", "")).startswith("template:") else [])
    click.echo(f"study {study}: {len(board)} trials, best first")
    width = int(board["params"].str.len().max()) if len(board) else 0
    click.echo(board.drop(columns=hidden).to_string(index=False, float_format=lambda v: f"{v:.4f}",
                                                    formatters={"params": lambda v: f"{v:<{width}}"}))
    click.echo(f"leaderboard: {csv_path}")
    if export_path:
        click.echo(f"best config: {save_config(export_path, studies.best_config(state))}"
                   f"  (kcnn train --config {export_path} --repeat 30 --keep-above 0.91)")


@cli.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--method", type=click.Choice(["hard", "soft", "weighted", "greedy"]), default="hard", show_default=True,
              help="hard: majority vote; soft: mean probability; weighted: by validation accuracy "
                   "(or --weights); greedy: Caruana forward selection on the validation split.")
@click.option("--geometric", is_flag=True, help="Average probabilities geometrically (soft, weighted, greedy).")
@click.option("--weights", "weights_file", type=click.Path(path_type=Path), default=None,
              help="weighted: a CSV member,weight instead of validation accuracies.")
@click.option("--keep-above", type=float, default=None, help="Only members with validation accuracy at or above this.")
@click.option("--top", type=int, default=None, help="Only the K best members by validation accuracy.")
@click.option("--model", default=None, help="Only members that are runs of this architecture.")
@click.option("--rounds", type=int, default=25, show_default=True, help="greedy: members added after the first ones.")
@click.option("--init", "init", type=int, default=1, show_default=True, help="greedy: start from the best K members.")
@click.option("--metric", type=click.Choice(["accuracy", "logloss"]), default="accuracy", show_default=True,
              help="greedy: what selection maximises (accuracy ties go to the lower log-loss).")
@click.option("--tta", is_flag=True, help="Use the members' test-time-augmented predictions (kcnn predict --tta).")
@click.option("--explain", is_flag=True, help="Print diagnostics: disagreement, vote margins, ties, per-class gain.")
@click.option("--name", default=None, help="Output name under submissions/ensemble/ [default: by method].")
@click.pass_context
def vote(ctx, directory, method, geometric, weights_file, keep_above, top, model, rounds, init, metric, tta, explain, name):
    """Combine the submission CSVs in DIRECTORY (default submissions/) into one.

    Members must share header, ids and id order. A hard-vote tie goes to the
    highest mean stored probability, else the best member's vote, else the
    smallest label. Weights and selections are chosen on the shared validation
    split; the cross-validated accuracy printed beside the in-sample one is the
    figure to trust before spending a submission.
    """
    from kaggle_cnn import display

    from kaggle_cnn import api
    from kaggle_cnn.ensemble import VoteSpec

    spec = VoteSpec(method=method, geometric=geometric, keep_above=keep_above, top=top, rounds=rounds, init=init,
                    metric=metric)
    outcome = api.vote(_workspace(ctx), directory, spec=spec, name=name, model=model, weights_file=weights_file, tta=tta)
    display.print_vote(outcome, explain)






@cli.command()
@click.argument("runs", nargs=-1)
@click.option("--tta", required=True, help="Transforms to average over: hflip, vflip, shift=N, rotate=DEGREES.")
@click.option("--data", "data_path", type=click.Path(path_type=Path), default=None,
              help="Where the runs' data is now, if it moved since training.")
@click.pass_context
def predict(ctx, runs, tta, data_path):
    """Recompute kept runs' probabilities with test-time augmentation.

    Stores val_proba_tta.npy and test_proba_tta.npy beside the plain ones (RUNS:
    run ids, default every kept run); `kcnn vote --tta` then uses them.
    """
    from kaggle_cnn import api

    for row in api.predict(_workspace(ctx), list(runs) or None, tta=tta, data_path=data_path):
        change = row["val_accuracy_tta"] - row["val_accuracy_plain"]
        click.echo(f"{row['run_id']}  val_acc {row['val_accuracy_plain']:.4f} -> {row['val_accuracy_tta']:.4f} "
                   f"({change:+.4f}) with {row['transforms']}")


@cli.command()
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("--sample", type=click.Path(path_type=Path), default=None, help="The competition's sample_submission.csv.")
@click.option("--data", "data_path", type=click.Path(path_type=Path), default=None,
              help="The competition (its training labels are the allowed labels).")
def check(submission, sample, data_path):
    """Check a submission as a grader would: header, ids, order, rows, labels."""
    from kaggle_cnn.submission import check_submission, read_member

    member = read_member(submission)
    sample_member = read_member(sample) if sample is not None else None
    classes = None
    if data_path is not None:
        classes = [str(c) for c in _load(data_path).classes]
    check_submission(str(submission), member.header, member.ids, member.labels, sample=sample_member, classes=classes)
    checked = ["header", "unique ids"] + (["id set and order", "row count"] if sample else []) + (["labels"] if classes else [])
    click.echo(f"{submission}: ok ({len(member.ids)} rows; checked {', '.join(checked)})")


@cli.command()
@click.argument("sources", nargs=-1)
@click.option("--timing", is_flag=True, help="Also per model: seconds per epoch, prediction seconds, images per second.")
@click.pass_context
def metrics(ctx, sources, timing):
    """Per-class precision, recall, F1 on the validation split.

    SOURCES are run ids or ensemble/<name>; default every kept run and vote.
    Per-class tables print for the votes and the best run; reports/metrics.csv
    has them all, reports/confusion/ the confusion matrices.
    """
    from kaggle_cnn import display

    from kaggle_cnn import api

    report = api.metrics(_workspace(ctx), list(sources) or None)
    console = display.console()
    shown = list(sources) or display.default_detail(report)
    for source in shown:
        console.print(display.class_table(source, report.tables[source]))
        console.print(display.confusion_text(report.confusions[source]))
    console.print(display.sources_table(report.summary))
    if timing:
        from kaggle_cnn.report import timing_table

        console.print(display.frame_table("timing per model (kept runs)", timing_table(_workspace(ctx))))
    console.print(f"report: {report.csv_path}   confusion matrices: {report.csv_path.parent / 'confusion'}/")














@cli.command()
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("--answers", type=click.Path(path_type=Path), default=None,
              help="CSV of true labels (id, label), or an image folder with labelled test images. "
                   "Default: the demo competition's hidden answers.")
def score(submission, answers):
    """Score a submission against known answers: a local leaderboard."""
    from kaggle_cnn import api

    if answers is None:
        from kaggle_cnn.data import demo_answers_path

        answers = demo_answers_path()
    result = api.score(submission, answers)
    click.echo(f"{submission}: accuracy {result['accuracy']:.4f} on {result['rows']} rows")


@cli.group()
def plot():
    """Pictures of the workspace, saved as PNG under reports/plots/."""


@plot.command("curves")
@click.argument("runs", nargs=-1)
@click.pass_context
def plot_curves(ctx, runs):
    """Accuracy and loss against epochs for RUNS (default every attempt)."""
    from kaggle_cnn.report import plot_curves as draw

    click.echo(f"curves: {draw(_workspace(ctx), list(runs) or None)}")


@plot.command("confusion")
@click.argument("source", required=False)
@click.pass_context
def plot_confusion(ctx, source):
    """Confusion matrix of SOURCE (a run id or ensemble/NAME; default the best vote),
    and for a vote its per-class P/R/F1 against its best member."""
    from kaggle_cnn.report import plot_confusion as draw

    for path in draw(_workspace(ctx), source):
        click.echo(f"picture: {path}")


@plot.command("activations")
@click.argument("run")
@click.option("--image", type=int, default=0, show_default=True, help="Which validation image (0-based).")
@click.option("--layers", default=None, help="Comma-separated conv layer names [default: all, or 8 spread through a deep network].")
@click.option("--data", "data_path", type=click.Path(path_type=Path), default=None, help="Where the run's data is now.")
@click.pass_context
def plot_activations(ctx, run, image, layers, data_path):
    """Feature maps of every convolution layer of RUN for one validation image."""
    from kaggle_cnn.report import plot_activations as draw

    names = [n.strip() for n in layers.split(",") if n.strip()] if layers else None
    click.echo(f"activations: {draw(_workspace(ctx), run, image, names, data_path)}")


@plot.command("filters")
@click.argument("run")
@click.option("--layer", required=True, help="A convolution layer of RUN's model.")
@click.option("--n", type=int, default=16, show_default=True, help="How many filters.")
@click.option("--steps", type=int, default=40, show_default=True, help="Gradient-ascent steps.")
@click.pass_context
def plot_filters(ctx, run, layer, n, steps):
    """The input each filter of LAYER responds to most, by gradient ascent from noise."""
    from kaggle_cnn.report import plot_filters as draw

    click.echo(f"filters: {draw(_workspace(ctx), run, layer, n, steps)}")


@cli.command()
@click.pass_context
def report(ctx):
    """One self-contained HTML page of the workspace: reports/report.html."""
    from kaggle_cnn.report import build_report

    click.echo(f"report: {build_report(_workspace(ctx))}")


def main() -> None:
    cli(prog_name="kcnn")


if __name__ == "__main__":
    main()
