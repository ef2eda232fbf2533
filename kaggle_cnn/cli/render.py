"""Everything the CLI prints: the progress display of `kcnn train` (rich), and the
tables and summaries of the other commands, so each command stays a thin layer of
options over its api call.

On a terminal a live bar shows attempt i/N, the epoch and the accuracies; every
finished attempt also prints one permanent line, so logs of long jobs (nohup,
CI) read well without a terminal.
"""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table


class RichTrainReporter:
    """One live line per attempt in flight (its place, run id, device, epoch and
    accuracies) under an overall bar of attempts; a permanent line per finished one,
    unless `finished_lines` is False (a search prints its own line per trial)."""

    def __init__(self, console: Console, finished_lines: bool = True) -> None:
        self.console = console
        self.finished_lines = finished_lines
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[unit]}"),
            TextColumn("{task.fields[scores]}"), TimeElapsedColumn(),
            console=console, transient=True,
        )
        self._lines: dict[str, tuple[int, str]] = {}  # run id -> (its progress line, its label)
        self._overall = None

    def __enter__(self) -> "RichTrainReporter":
        return self  # the live display starts with the first attempt: bad input fails before it

    def __exit__(self, *exc) -> None:
        if self.progress.live.is_started:
            self.progress.stop()

    def note(self, text: str) -> None:
        self.progress.console.print(text)

    def attempt_started(self, number: int, total: int | None, run_id: str, epochs: int, device: str = "") -> None:
        if not self.progress.live.is_started:
            self.progress.start()
        if self._overall is None:
            self._overall = self.progress.add_task("attempts", total=total, unit="done", scores="")
        label = f"[{number}/{total}]" if total else f"[attempt {number}]"
        where = f" on {device}" if device and device != "this process" else ""
        line = self.progress.add_task(f"{escape(label)} {escape(run_id)}{escape(where)}", total=epochs,
                                      unit="epochs", scores="")
        self._lines[run_id] = (line, label)

    def epoch_ended(self, run_id: str, epoch: int, logs: dict[str, float]) -> None:
        if run_id not in self._lines:
            return
        scores = f"acc {logs.get('accuracy', float('nan')):.4f}  val_acc {logs.get('val_accuracy', float('nan')):.4f}"
        self.progress.update(self._lines[run_id][0], completed=epoch + 1, scores=scores)

    def attempt_ended(self, attempt) -> None:
        line, label = self._lines.pop(attempt.run_id, (None, ""))
        if line is not None:
            self.progress.remove_task(line)
        if self._overall is not None:
            self.progress.advance(self._overall)
        if not self.finished_lines:
            return
        verdict = "[green]kept[/green]" if attempt.kept else "[dim]discarded[/dim]"
        from kaggle_cnn.config import NUMERIC_METRICS

        score = f"val_acc {attempt.val_accuracy:.4f}" if attempt.metric == "accuracy" else \
            f"val_{attempt.metric} {attempt.score:.4f}" + (
                "" if attempt.metric in NUMERIC_METRICS else f"  val_acc {attempt.val_accuracy:.4f}")
        self.progress.console.print(
            f"{escape(label)} {escape(attempt.run_id)}  {score}  {verdict}  "
            f"({attempt.seconds:.1f} s)",
            highlight=False, markup=True,
        )


def summary_table(summary) -> Table:
    stats = summary.accuracy_stats()
    what = "val accuracy" if summary.metric == "accuracy" else f"val {summary.metric}"
    sign = summary.judged_by.sign
    table = Table(title="kept runs: every run" if summary.keep_above is None else
                  f"kept runs: {what} {sign} {summary.keep_above:g}")
    for column in ("attempted", "kept", f"{what} mean ± std", "best", "train s/epoch", "predict s"):
        table.add_column(column, justify="right")
    table.add_row(
        str(len(summary.attempts)), str(len(summary.kept)),
        f"{stats['mean']:.4f} ± {stats['std']:.4f}", f"{stats['best']:.4f}",
        f"{stats['epoch_train_seconds']:.2f}", f"{stats['predict_seconds']:.2f}",
    )
    return table


def console() -> Console:
    # Piped into a file or a log, rich would squeeze tables into 80 columns and cut run ids.
    # No markup: labels, ids and paths are data ('[cat]' prints as [cat]); the few
    # styled lines ask for markup themselves.
    return Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 120)


def print_vote(outcome, explain: bool) -> None:
    """What `kcnn vote` says: the method, members, ties, and the validation figures."""
    sidecar = outcome.sidecar
    if sidecar.get("task") == "multi_label":
        _print_multi_label_vote(outcome)
        return
    if sidecar.get("task") in ("regression", "ordinal"):
        from kaggle_cnn.cli.render_numeric import print_numeric_vote

        print_numeric_vote(outcome)
        return
    used = [m for m in sidecar["members"] if m["weight"] > 0]
    by_rule = ", ".join(f"by {rule.replace('_', ' ')} {n}" for rule, n in sidecar["ties_by_rule"].items() if n)
    click.echo(f"method: {sidecar['method']}{' (tta)' if sidecar['tta'] else ''}   members: {len(used)} of "
               f"{len(sidecar['members'])}   rows: {sidecar['rows']}   ties: {sidecar['ties']}"
               + (f" ({by_rule})" if by_rule else ""))
    if "tta_choice" in sidecar:
        choice = sidecar["tta_choice"]
        click.echo(f"tta: on the validation rows the members' soft vote scores {choice['tta']:.4f} with their "
                   f"test-time-augmented predictions, {choice['plain']:.4f} without: "
                   + ("used" if choice["used"] else "not used (--tta to use them)"))
    if "multiplicities" in sidecar:
        click.echo("chosen: " + ", ".join(f"{name} x{n}" for name, n in sidecar["multiplicities"].items()))
    elif sidecar["method"] == "weighted":
        click.echo("weights: " + ", ".join(f"{m['file']} {m['weight']:.4g}" for m in used))
    elif "stack" in sidecar:
        stack = sidecar["stack"]
        features = "log-probabilities" if stack["features"] == "log_proba" else "probabilities"
        click.echo(f"meta-model: logistic regression on the members' {features}, C {stack['C']:g} "
                   "(chosen by its own inner folds)")
    metric = sidecar.get("metric", "accuracy")
    if sidecar.get("val_accuracy") is not None:
        best, estimate = sidecar["best_member"], sidecar["val_estimate"]
        value = "undefined" if estimate["value"] != estimate["value"] else f"{estimate['value']:.4f}"  # NaN: a fold of one class
        chosen = "meta-model fitted" if "stack" in sidecar else "weights chosen"
        click.echo(f"validation {metric}: {sidecar['val_score']:.4f} in-sample, {value} "
                   f"{estimate['folds']}-fold estimate ({chosen} on {estimate['folds'] - 1} folds, scored on the "
                   f"one left out; best member {best['val_score']:.4f})")
        click.echo(f"validation rows: {sidecar['val_rows_described']}, where every member has honest predictions")
    else:
        click.echo(f"validation {metric}: unknown ({sidecar['val_note']})")
    print_finishing(sidecar.get("finishing"))
    if explain:
        print_diagnostics(sidecar)
    click.echo(f"submission: {outcome.csv_path}")
    click.echo(f"details:    {outcome.json_path}")


def _print_multi_label_vote(outcome) -> None:
    sidecar, metric = outcome.sidecar, outcome.sidecar["metric"]
    click.echo(f"method: soft (probabilities averaged per label)   members: {len(sidecar['members'])}   "
               f"rows: {sidecar['rows']}")
    number = lambda value: "undefined" if value is None else f"{value:.4f}"  # noqa: E731
    if sidecar["thresholds"] is not None:
        shown = ", ".join(f"{label} {value:g}" for label, value in sidecar["thresholds"].items())
        click.echo(f"decision thresholds, fitted on {sidecar['thresholds_fitted_on']}: {shown}")
        click.echo(f"validation {metric}: {number(sidecar['val_score'])} with them (in-sample), "
                   f"{number(sidecar['val_score_at_0.5'])} at 0.5")
    else:
        click.echo(f"validation {metric}: {number(sidecar['val_score'])} on {sidecar['val_rows']} hold-out rows")
    print_finishing(sidecar.get("finishing"))
    click.echo(f"submission: {outcome.csv_path}")
    click.echo(f"details:    {outcome.json_path}")


def print_finishing(finishing) -> None:
    """The finishing step in one line: applied, with its validation score before,
    in-sample and cross-fitted; or why it was not."""
    if finishing is None:
        return
    if "val_score_before" not in finishing:
        click.echo(f"finishing: {finishing['step']} not fitted ({finishing['skipped']})")
        return
    number = lambda value: "undefined" if value is None else f"{value:.4f}"  # noqa: E731
    shown = finishing["parameters_shown"]
    scores = (f"validation {finishing['metric']} {number(finishing['val_score_before'])} -> "
              f"{number(finishing['val_score_after_cross_fitted'])} cross-fitted (fitted on one half, scored on the "
              f"other; {number(finishing['val_score_after'])} in-sample)")
    verdict = "applied" if finishing["applied"] else f"not applied: {finishing['skipped']}"
    click.echo(f"finishing: {finishing['step']} {shown}, {scores}; {verdict}")


def print_diagnostics(sidecar) -> None:
    import pandas as pd

    diagnostics = sidecar["diagnostics"]
    disagreement = diagnostics["disagreement"]
    matrix = pd.DataFrame(disagreement["matrix"], index=disagreement["members"], columns=range(len(disagreement["members"])))
    click.echo("\nshare of test rows on which members disagree (columns: member number):")
    click.echo(matrix.round(3).to_string())
    margins = diagnostics["margins"]
    click.echo("\nvote margins (top minus runner-up), rows per bin:")
    for low, high, count in zip(margins["edges"], margins["edges"][1:], margins["counts"]):
        click.echo(f"  {low:8.3f} .. {high:8.3f}  {count}")
    tied = diagnostics["tied_ids"]
    click.echo(f"\ntied rows: {len(tied)}" + (f"  ids: {', '.join(tied[:20])}{' ...' if len(tied) > 20 else ''}" if tied else ""))
    if sidecar.get("per_class_f1_gain"):
        click.echo("\nper-class validation F1: ensemble vs best member")
        for label, row in sidecar["per_class_f1_gain"].items():
            click.echo(f"  {label:>12}  {row['ensemble']:.4f}  {row['best_member']:.4f}  {row['gain']:+.4f}")
    click.echo()


def frame_table(title, frame):
    import pandas as pd

    view = Table(title=title)
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        view.add_column(str(column), justify="right" if numeric else "left", no_wrap=column.endswith("id"))
    for row in frame.itertuples(index=False):
        view.add_row(*[_cell(v) for v in row])
    return view


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def default_detail(report) -> list[str]:
    """Sources whose per-class tables `kcnn metrics` prints: the best run and every vote."""
    best = report.best_run()
    return ([best] if best else []) + report.votes()


def class_table(source, table):
    view = Table(title=source)
    for column in ("class", "precision", "recall", "f1", "support"):
        view.add_column(column, justify="right")
    for row in table.itertuples(index=False):
        cells = ["" if v != v else f"{v:.4f}" for v in (row.precision, row.recall, row.f1)]
        view.add_row(str(row[0]), *cells, str(row.support))
    return view


def confusion_text(matrix) -> str:
    return "confusion matrix (rows: true, columns: predicted)\n" + matrix.to_string() + "\n"


def sources_table(summary, metric: str = "accuracy"):
    """Every run and vote on its honest rows: a hold-out run's split, a k-fold
    run's every training row, a vote's rows shared by all its members."""
    view = Table(title=f"all sources by {metric} (votes: in-sample, and the K-fold estimate)")
    columns = ["source", "accuracy"] + ([metric] if metric != "accuracy" else []) + \
        [f"{metric} K-fold estimate", "macro F1", "weighted F1", "rows"]
    for column in columns:
        view.add_column(column, justify="left" if column == "source" else "right")
    for row in summary.itertuples(index=False):
        cells = [row.source, f"{row.accuracy:.4f}"] + ([_cell(row.score)] if metric != "accuracy" else []) + \
            [_cell(row.estimate), f"{row.macro_f1:.4f}", f"{row.weighted_f1:.4f}", str(row.rows)]
        view.add_row(*cells)
    return view


# -- kcnn train ------------------------------------------------------------------------


def print_training(console_: Console, summary, workspace) -> None:
    if summary.attempts:
        console_.print(summary_table(summary))
    if summary.until_kept is not None and len(summary.kept) < summary.until_kept:
        console_.print(f"stopped after {len(summary.attempts)} attempts with {len(summary.kept)} of "
                       f"{summary.until_kept} runs kept")
    if summary.budget is not None:
        console_.print(budget_line(summary))
    if not summary.finished:
        console_.print(f"the plan ({summary.plan}) is not finished: `kcnn train --resume` goes on with it")
    console_.print(f"runs: {workspace.models_dir}/   submissions: {workspace.submissions_dir}/")


def budget_line(summary) -> str:
    """How --time-budget was spent: minutes used, attempts trained, and why training ended."""
    budget = summary.budget
    used = budget.spent(budget.finished_at or budget.started)
    trained = len(summary.attempts)
    return (f"time budget {duration(budget.seconds)}: {duration(used)} used, {trained} "
            f"attempt{'s' * (trained != 1)} trained; {budget.reason(trained)}")


def duration(seconds: float) -> str:
    """12 s, 4.5 min, 2.1 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


# -- kcnn metrics ----------------------------------------------------------------------


def print_metrics(report, sources: list[str], timing=None) -> None:
    out = console()
    for source in sources or default_detail(report):
        out.print(class_table(source, report.tables[source]))
        out.print(confusion_text(report.confusions[source]))
    out.print(sources_table(report.summary, report.metric))
    if timing is not None:
        out.print(frame_table("timing per model (kept runs)", timing))
    out.print(f"report: {report.csv_path}   confusion matrices: {report.csv_path.parent / 'confusion'}/")


# -- kcnn models -----------------------------------------------------------------------


def print_models(rows: list[dict]) -> None:
    table = Table()
    for column in ("name", "input", "params", "pretrained", "source", "options (--set NAME=VALUE)", "summary"):
        table.add_column(column, justify="right" if column == "params" else "left")
    for row in rows:
        table.add_row(row["name"], row["input"], f"{row['params']:,}", row["pretrained"], row["source"],
                      ", ".join(row["options"]), row["summary"])
    console().print(table)


# -- kcnn search -----------------------------------------------------------------------


def trial_line(out: Console):
    """A callback printing one line per finished trial."""

    def on_trial(trial, number, total):
        verdict = "failed: " + trial.message if trial.status == "failed" else (
            f"val_acc {trial.val_accuracy:.4f}" if trial.val_accuracy is not None else f"loss {trial.loss:.4g}")
        verdict += ("  kept" if trial.kept else "  discarded") if trial.status == "ok" else ""
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
        out.print(f"[trial {number}/{total}] {trial.run_id}  {verdict}  {params}", highlight=False, markup=False,
                  soft_wrap=True)

    return on_trial


def print_study(board) -> None:
    # A --space study's loss is minus its accuracy: one column says it; a template's loss is its own.
    frame = board.leaderboard
    hidden = ["message"] + ([] if board.template else ["loss"])
    click.echo(f"study {board.name}: {len(frame)} trials, best first")
    width = int(frame["params"].str.len().max()) if len(frame) else 0
    click.echo(frame.drop(columns=hidden).to_string(index=False, float_format=lambda v: f"{v:.4f}",
                                                    formatters={"params": lambda v: f"{v:<{width}}"}))
    click.echo(f"leaderboard: {board.csv_path}")
    if board.exported is not None:
        click.echo(f"best config: {board.exported}  (kcnn train --config {board.exported} --repeat 30 --keep-above 0.91)")


# -- kcnn tta --------------------------------------------------------------------------


def print_tta(rows: list[dict]) -> None:
    for row in rows:
        change = row["val_accuracy_tta"] - row["val_accuracy_plain"]
        click.echo(f"{row['run_id']}  val_acc {row['val_accuracy_plain']:.4f} -> {row['val_accuracy_tta']:.4f} "
                   f"({change:+.4f}) with {row['transforms']}")
# -- kcnn doctor -----------------------------------------------------------------------


def print_doctor(findings, workspace, fixed: bool) -> None:
    if not findings:
        click.echo(f"{workspace.root}: nothing broken")
        return
    for finding in findings:
        state = "fixed" if finding.fixed else ("to fix by hand" if not finding.fixable else "fixable")
        click.echo(f"{finding.path}: {finding.problem}")
        click.echo(f"  {state}: {finding.remedy}")
    fixable = sum(f.fixable and not f.fixed for f in findings)
    if fixable and not fixed:
        click.echo(f"{fixable} fixable: run `kcnn doctor --fix`")


# -- kcnn check ------------------------------------------------------------------------


def print_check(result: dict) -> None:
    click.echo(f"{result['submission']}: ok ({result['rows']} rows; checked {', '.join(result['checked'])})")
