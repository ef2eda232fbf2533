"""What the CLI prints: the progress display of `kcnn train` (rich), and the tables
and summaries of the other commands, so cli.py stays a thin layer of options.

On a terminal a live bar shows attempt i/N, the epoch and the accuracies; every
finished attempt also prints one permanent line, so logs of long jobs (nohup,
CI) read well without a terminal.
"""

from __future__ import annotations

import sys

import click

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kaggle_cnn.api import Attempt, TrainSummary


class RichTrainReporter:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("epochs"),
            TextColumn("{task.fields[scores]}"), TimeElapsedColumn(),
            console=console, transient=True,
        )
        self._task = None
        self._label = ""

    def __enter__(self) -> "RichTrainReporter":
        return self  # the live display starts with the first attempt: bad input fails before it

    def __exit__(self, *exc) -> None:
        if self.progress.live.is_started:
            self.progress.stop()

    def attempt_started(self, number: int, total: int | None, run_id: str, epochs: int) -> None:
        if not self.progress.live.is_started:
            self.progress.start()
        self._label = f"[{number}/{total}]" if total else f"[attempt {number}]"
        if self._task is not None:
            self.progress.remove_task(self._task)
        self._task = self.progress.add_task(f"{escape(self._label)} {run_id}", total=epochs, scores="")

    def epoch_ended(self, epoch: int, logs: dict[str, float]) -> None:
        scores = f"acc {logs.get('accuracy', float('nan')):.4f}  val_acc {logs.get('val_accuracy', float('nan')):.4f}"
        self.progress.update(self._task, completed=epoch + 1, scores=scores)

    def attempt_ended(self, attempt: Attempt) -> None:
        verdict = "[green]kept[/green]" if attempt.kept else "[dim]discarded[/dim]"
        self.progress.console.print(
            f"{escape(self._label)} {attempt.run_id}  val_acc {attempt.val_accuracy:.4f}  {verdict}  ({attempt.seconds:.1f} s)",
            highlight=False,
        )


def summary_table(summary: TrainSummary) -> Table:
    stats = summary.accuracy_stats()
    table = Table(title=f"kept runs: val accuracy >= {summary.keep_above:g}")
    for column in ("attempted", "kept", "val acc mean ± std", "best", "train s/epoch", "predict s"):
        table.add_column(column, justify="right")
    table.add_row(
        str(len(summary.attempts)), str(len(summary.kept)),
        f"{stats['mean']:.4f} ± {stats['std']:.4f}", f"{stats['best']:.4f}",
        f"{stats['epoch_train_seconds']:.2f}", f"{stats['predict_seconds']:.2f}",
    )
    return table


def console() -> Console:
    # Piped into a file or a log, rich would squeeze tables into 80 columns and cut run ids.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def print_vote(outcome, explain: bool) -> None:
    """What `kcnn vote` says: the method, members, ties, and the validation figures."""
    sidecar = outcome.sidecar
    used = [m for m in sidecar["members"] if m["weight"] > 0]
    by_rule = ", ".join(f"by {rule.replace('_', ' ')} {n}" for rule, n in sidecar["ties_by_rule"].items() if n)
    click.echo(f"method: {sidecar['method']}{' (tta)' if sidecar['tta'] else ''}   members: {len(used)} of "
               f"{len(sidecar['members'])}   rows: {sidecar['rows']}   ties: {sidecar['ties']}"
               + (f" ({by_rule})" if by_rule else ""))
    if "multiplicities" in sidecar:
        click.echo("chosen: " + ", ".join(f"{name} x{n}" for name, n in sidecar["multiplicities"].items()))
    elif sidecar["method"] == "weighted":
        click.echo("weights: " + ", ".join(f"{m['file']} {m['weight']:.4g}" for m in used))
    if sidecar.get("val_accuracy") is not None:
        best = sidecar["best_member"]
        click.echo(f"validation accuracy: {sidecar['val_accuracy']:.4f} in-sample, {sidecar['val_accuracy_cv']:.4f} "
                   f"cross-validated (best member {best['val_accuracy']:.4f}, {sidecar['val_rows']} rows)")
    else:
        click.echo(f"validation accuracy: unknown ({sidecar['val_note']})")
    if explain:
        print_diagnostics(sidecar)
    click.echo(f"submission: {outcome.csv_path}")
    click.echo(f"details:    {outcome.json_path}")


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
    from kaggle_cnn.api import ENSEMBLE_PREFIX

    summary = report.summary
    votes = [s for s in summary["source"] if s.startswith(ENSEMBLE_PREFIX)]
    runs = summary[~summary["source"].str.startswith(ENSEMBLE_PREFIX)]
    best = [runs.sort_values(["accuracy", "source"], ascending=[False, True])["source"].iloc[0]] if len(runs) else []
    return best + votes


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


def sources_table(summary):
    view = Table(title="all sources (votes: in-sample accuracy, and cross-validated)")
    for column in ("source", "accuracy", "CV accuracy", "macro F1", "weighted F1", "rows"):
        view.add_column(column, justify="left" if column == "source" else "right")
    for row in summary.itertuples(index=False):
        cv = "" if row.accuracy_cv is None or row.accuracy_cv != row.accuracy_cv else f"{row.accuracy_cv:.4f}"
        view.add_row(row.source, f"{row.accuracy:.4f}", cv, f"{row.macro_f1:.4f}", f"{row.weighted_f1:.4f}", str(row.rows))
    return view
