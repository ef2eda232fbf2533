"""What `kcnn data` prints: a dataset's kind, shape, classes and counts; for image
files, the layout found, the sizes seen and the files skipped; and `kcnn data split`'s table."""

from __future__ import annotations

import click

SHOWN_SKIPPED = 10
# What `kcnn data` says a submission holds (kaggle_cnn.store.submissions' layouts).
SUBMISSION_KINDS = {"label": "", "class_columns": "  (probabilities: one column per class)",
                    "probability": "  (the probability of the second class)",
                    "tags": "  (the labels that apply, joined by spaces)",
                    "value": "  (one number per id; a whole grade for ordinal data)"}
MULTI_LABEL_LINE = "multi-label (any number of labels per image: sigmoid outputs, binary cross-entropy)"


# The metrics multi-label competitions are graded by, for the layout their submission asks for.
MULTI_LABEL_METRICS = {"tags": "f2_samples (Planet), f1_micro (iMet, Plant Pathology 2021) or f1_samples",
                       "class_columns": "mean_auc (RANZCR CLiP)"}
# Numeric targets: the task and the metric the competitions grade it by.
NUMERIC_LINES = {
    "regression": ("regression (a number per image: one linear output, mean squared error on the standardised "
                   "target)", "rmse (root mean squared error; mae also fits): --metric rmse"),
    "ordinal": ("ordinal (a whole grade per image: trained as regression, grades cut at fitted thresholds)",
                "qwk (quadratic weighted kappa): --metric qwk"),
}


# Single-label: how Kaggle usually grades a submission of this layout.
SINGLE_LABEL_METRICS = {"label": "",
                        "class_columns": "; a probability per class is usually graded by logloss (Dog Breed "
                                         "Identification)",
                        "probability": "; one class's probability is usually graded by roc_auc (Aerial Cactus, "
                                       "Histopathologic Cancer Detection)"}


def _task(dataset) -> None:
    if dataset.task == "single_label" and dataset.submission_kind in SINGLE_LABEL_METRICS:
        click.echo("task:        single-label (one class per image: softmax outputs, cross-entropy)")
        click.echo(f"metric:      accuracy unless --metric names the competition's"
                   f"{SINGLE_LABEL_METRICS[dataset.submission_kind]}")
    if dataset.task == "multi_label":
        click.echo(f"task:        {MULTI_LABEL_LINE}")
        graded = MULTI_LABEL_METRICS.get(dataset.submission_kind, MULTI_LABEL_METRICS["tags"])
        click.echo(f"metric:      pass the competition's to kcnn train: --metric {graded}; "
                   "without one, runs are kept by exact-match accuracy")
    if dataset.task in NUMERIC_LINES:
        task, metric = NUMERIC_LINES[dataset.task]
        y = dataset.y_train
        click.echo(f"task:        {task}")
        click.echo(f"metric:      {metric}")
        click.echo(f"target:      {dataset.classes[0]}: {min(y):g} to {max(y):g}, mean {y.mean():.4g}, "
                   f"std {y.std():.4g}")


def _print_submission(dataset) -> None:
    """The submission's header and what it holds; for a top-k sample, the task and the metric it is graded by."""
    if dataset.submission_kind == "top_k":
        k = dataset.top_k
        click.echo(f"task:        top-{k} answers (single-label training; each row lists the {k} likeliest labels)")
        click.echo(f"metric:      map@{k} (mean average precision at {k}): pass --metric map@{k} to kcnn train")
        click.echo(f"submission:  {_header(dataset.submission_header)}  ({k} space-separated labels a row, "
                   "likeliest first)")
        return
    click.echo(f"submission:  {_header(dataset.submission_header)}{SUBMISSION_KINDS[dataset.submission_kind]}")


def _header(header) -> str:
    return ",".join(header[:6]) + (",..." if len(header) > 6 else "")


def print_description(description) -> None:
    dataset = description.dataset
    if description.folder is not None:
        _print_image_folder(dataset, description.folder)
        return
    click.echo(f"source:      {dataset.source} ({dataset.kind})")
    for number, line in enumerate(dataset.layout_notes):
        click.echo(f"{'layout:' if not number else '':<13}{line}")
    click.echo(f"image shape: {'x'.join(map(str, dataset.image_shape))}")
    click.echo(f"train rows:  {len(dataset.y_train)}   test rows: {len(dataset.test_ids)}")
    _task(dataset)
    _print_submission(dataset)
    if dataset.task not in NUMERIC_LINES:  # a number per image has its range on the target line instead
        click.echo(f"classes:     {dataset.n_classes}")
        for label, count in zip(dataset.classes, description.counts):
            click.echo(f"  {label!s:>12}  {count}")
    click.echo(f"fingerprint: {dataset.fingerprint()}")


def _hw(size) -> str:
    return f"{size[0]}x{size[1]}"


def _print_image_folder(dataset, summary) -> None:
    counts = summary["counts"]
    click.echo(f"source:      {dataset.source} ({dataset.kind})")
    for number, line in enumerate(dataset.layout_notes or [_layout(dataset, summary)]):
        click.echo(f"{'layout:' if not number else '':<13}{line}")
    channels = summary["channels"]
    kind = (f"{channels} channel{'s' * (channels != 1)} from arrays" if summary.get("arrays")
            else "grey" if channels == 1 else "colour")
    click.echo(f"image shape: {'x'.join(map(str, dataset.image_shape))} "
               f"({kind}, every image resized to {_hw(summary['size'])})")
    click.echo(f"images:      train {counts['train']}   val {counts['val']}   test {counts['test']}")
    sizes = summary["sizes"]
    if len(sizes) == 1:
        click.echo(f"sizes seen:  all {_hw(summary['smallest'])} (HxW)")
    elif sizes:
        common, times = summary["most_common"]
        click.echo(f"sizes seen:  {len(sizes)} sizes (HxW), smallest {_hw(summary['smallest'])}, largest "
                   f"{_hw(summary['largest'])}, most common {_hw(common)} ({times} images)")
    _task(dataset)
    _print_submission(dataset)
    if dataset.task not in NUMERIC_LINES:
        _print_classes(dataset, summary)
    skipped = summary["skipped"]
    click.echo(f"skipped:     {len(skipped)} file{'s' * (len(skipped) != 1)}")
    _print_skipped(skipped)
    click.echo(f"fingerprint: {dataset.fingerprint()}")


def _print_classes(dataset, summary) -> None:
    counts = summary["counts"]
    parts = [part for part in ("train", "val", "test") if part in summary["per_class"] and counts[part]]
    click.echo(f"classes:     {dataset.n_classes}" + (f"   ({', '.join(parts)})" if len(parts) > 1 else ""))
    for i, label in enumerate(dataset.classes):
        click.echo(f"  {label!s:>12}  " + "  ".join(f"{summary['per_class'][part][i]:>5}" for part in parts))


def _layout(dataset, summary) -> str:
    counts = summary["counts"]
    if summary["layout"] == "flat":
        test = (f"{counts['test']} held out ({summary['holdout_fraction']:.0%} of each class, fixed) as a labelled "
                f"test set; score with kcnn score --answers {dataset.source}") if counts["test"] else "no test set"
        return f"class folders (<class>/<images>); {test}"
    test = ("none" if not counts["test"] else "labelled, test/<class>/" if summary["test_labelled"]
            else "unlabelled, test/<images>")
    val = "val/ fixes the validation rows" if counts["val"] else "no val/"
    return f"train/<class>/; {val}; test: {test}"


def _print_skipped(skipped) -> None:
    for path, reason in skipped[:SHOWN_SKIPPED]:
        click.echo(f"  {path}: {reason}")
    if len(skipped) > SHOWN_SKIPPED:
        click.echo(f"  ... and {len(skipped) - SHOWN_SKIPPED} more")


def print_split(result, src, ratio, seed) -> None:
    parts = list(result.counts)
    width = max(12, *(len(str(c)) for c in result.classes))
    click.echo(f"split: {src} -> {result.destination} (ratio {ratio}, seed {seed})")
    click.echo(f"  {'class':<{width}}" + "".join(f"  {part:>6}" for part in parts))
    for c in result.classes:
        click.echo(f"  {c:<{width}}" + "".join(f"  {result.counts[part][c]:>6}" for part in parts))
    click.echo(f"  {'total':<{width}}" + "".join(f"  {sum(result.counts[part].values()):>6}" for part in parts))
    if result.skipped:
        click.echo(f"skipped {len(result.skipped)} file{'s' * (len(result.skipped) != 1)} (not copied):")
        _print_skipped(result.skipped)
