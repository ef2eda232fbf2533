"""The CLI's progress display for `kcnn train` (rich), and its closing table.

On a terminal a live bar shows attempt i/N, the epoch and the accuracies; every
finished attempt also prints one permanent line, so logs of long jobs (nohup,
CI) read well without a terminal.
"""

from __future__ import annotations

from rich.console import Console
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
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def attempt_started(self, number: int, total: int | None, run_id: str, epochs: int) -> None:
        self._label = f"[{number}/{total}]" if total else f"[attempt {number}]"
        if self._task is not None:
            self.progress.remove_task(self._task)
        self._task = self.progress.add_task(f"{self._label} {run_id}", total=epochs, scores="")

    def epoch_ended(self, epoch: int, logs: dict[str, float]) -> None:
        scores = f"acc {logs.get('accuracy', float('nan')):.4f}  val_acc {logs.get('val_accuracy', float('nan')):.4f}"
        self.progress.update(self._task, completed=epoch + 1, scores=scores)

    def attempt_ended(self, attempt: Attempt) -> None:
        verdict = "[green]kept[/green]" if attempt.kept else "[dim]discarded[/dim]"
        self.progress.console.print(
            f"{self._label} {attempt.run_id}  val_acc {attempt.val_accuracy:.4f}  {verdict}  ({attempt.seconds:.1f} s)",
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
