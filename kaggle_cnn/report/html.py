"""`kcnn report`: one self-contained HTML page of the workspace (images
embedded, no network needed to open it). Needs no TensorFlow."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
from pathlib import Path
from typing import Any

import pandas as pd

from kaggle_cnn import fileio
from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metrics import (
    ENSEMBLE_PREFIX,
    collect_metrics,
    estimate_name,
    vote_estimate,
    vote_sidecars,
)
from kaggle_cnn.evaluation.timing import timing_table
from kaggle_cnn.report import charts
from kaggle_cnn.store.workspace import Workspace


def report(workspace: Workspace) -> Path:
    """reports/report.html: leaderboard, experiment summary, curves, per-class
    metrics, confusion matrix, vote diagnostics and timing, in one file."""
    index = workspace.read_index()
    if index.empty:
        raise InputError(f"no runs in {workspace.models_dir}: run `kcnn train` first")
    sections = [_section("Leaderboard", _leaderboard(index))]
    runs = workspace.runs()
    if runs:
        sections.append(_section("Experiment summary (each model's best kept run)", _table(_experiments(runs))))
    curves = _curves_image(workspace, index)
    if curves:
        sections.append(_section("Learning curves", curves))
    votes = vote_sidecars(workspace)  # only those that describe their CSV; the others are warned about
    if runs or votes:
        sections.extend(_metric_sections(workspace, votes))
    for name, sidecar in votes:
        sections.append(_section(f"Vote: {name}", _vote_diagnostics(sidecar)))
    if runs:
        sections.append(_section("Timing per model", _table(timing_table(workspace))))
    page = _page(workspace, sections)
    path = workspace.reports_dir / "report.html"
    fileio.write_text(path, page)
    return path


def _leaderboard(index: pd.DataFrame) -> str:
    board = index.assign(val_accuracy=pd.to_numeric(index["val_accuracy"], errors="coerce"))
    board = board.sort_values(["val_accuracy", "run_id"], ascending=[False, True], na_position="last")
    board = board[["run_id", "model", "seed", "val_accuracy", "kept", "status", "epochs", "seconds"]]
    board.insert(0, "rank", range(1, len(board) + 1))
    return _table(board)


def _experiments(runs) -> pd.DataFrame:
    rows = []
    for run in runs:
        scores = run.record["scores"]
        rows.append({"model": run.record["model"], "best run": run.run_id, "train loss": scores.get("train_loss"),
                     "train accuracy": scores.get("train_accuracy"), "validation loss": scores.get("val_loss"),
                     "validation accuracy": scores.get("val_accuracy"), "kept runs": 1})
    frame = pd.DataFrame(rows)
    counts = frame.groupby("model")["kept runs"].sum()
    best = frame.sort_values(["validation accuracy", "best run"], ascending=[False, True]).drop_duplicates("model")
    return best.assign(**{"kept runs": best["model"].map(counts)}).sort_values("model")


def _curves_image(workspace: Workspace, index: pd.DataFrame) -> str | None:
    histories = workspace.histories(index["run_id"].astype(str))
    if not histories:
        return None
    return _image(charts.curves(histories, set(workspace.run_ids())), "learning curves")


def _metric_sections(workspace: Workspace, votes: list[tuple[str, dict[str, Any]]]) -> list[str]:
    report = collect_metrics(workspace, votes=votes)
    if report.summary.empty:
        return []
    headline = report.headline()
    best = report.best_run()
    parts = [_section("Validation metrics of every run and vote", _table(report.summary))]
    shown = [headline] + ([best] if best and best != headline else [])
    for source in shown:
        parts.append(_section(f"Per-class metrics: {source}", _table(report.tables[source])))
    images = [_image(charts.confusion(report.confusions[headline], f"{headline}: validation confusion matrix"),
                     "confusion matrix")]
    if headline.startswith(ENSEMBLE_PREFIX) and best:
        images.append(_image(charts.class_metrics(report.tables[headline], report.tables[best], headline, best),
                             "per-class bars"))
    parts.append(_section(f"Confusion matrix: {headline}", "".join(images)))
    return parts


def _estimate_fact(estimate: dict[str, Any] | None) -> dict[str, Any]:
    if estimate is None:
        return {}
    return {f"validation {estimate['metric']} ({estimate_name(estimate)})": estimate["value"]}


def _vote_diagnostics(sidecar: dict[str, Any]) -> str:
    facts = {
        "method": sidecar.get("method"), "members used": sum(m.get("weight", 1) > 0 for m in sidecar["members"]),
        "rows": sidecar.get("rows"), "ties": sidecar.get("ties"),
        "validation accuracy (in-sample)": sidecar.get("val_accuracy"),
        f"validation {sidecar.get('metric', 'accuracy')} (in-sample)": sidecar.get("val_score"),
        **_estimate_fact(vote_estimate(sidecar)),
        "validation rows": sidecar.get("val_rows_described", sidecar.get("val_rows")),
        "rule": sidecar.get("rule"),
    }
    members = pd.DataFrame(sidecar["members"])
    parts = [_table(pd.DataFrame([facts]).T.reset_index().set_axis(["", "value"], axis=1)),
             _caption("members and their weights"), _table(members)]
    diagnostics = sidecar.get("diagnostics")
    if diagnostics:
        parts.append(_caption("diagnostics"))
        parts.append(_image(charts.margins(diagnostics["margins"], "how decisive the vote was"), "vote margins"))
        if len(diagnostics["disagreement"]["members"]) > 1:
            parts.append(_image(charts.disagreement(diagnostics["disagreement"]["matrix"],
                                                   diagnostics["disagreement"]["members"]), "disagreement"))
    if sidecar.get("per_class_f1_gain"):
        gain = pd.DataFrame(sidecar["per_class_f1_gain"]).T.rename_axis("class").reset_index()
        parts += [_caption("per-class validation F1: the vote against its best member"), _table(gain)]
    return "".join(parts)


def _caption(text: str) -> str:
    return f"<h3>{html.escape(text)}</h3>"


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, classes="table", float_format=lambda v: f"{v:.4f}", na_rep="")


def _image(figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>\n"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; margin-top: 0; }
section { margin: 2em 0; } h3 { font-size: 1em; margin: 1.2em 0 0.3em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table.table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
table.table th, table.table td { padding: 0.25em 0.7em; text-align: right; border-bottom: 1px solid #eee; }
table.table th { background: #f4f4f4; } table.table td:first-child, table.table th:first-child { text-align: left; }
img { max-width: min(100%, 1100px); display: block; margin: 0.5em 0; }
"""


def _page(workspace: Workspace, sections: list[str]) -> str:
    created = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>kcnn report: {html.escape(str(workspace.root.resolve().name))}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>kcnn report</h1><p class=\"meta\">workspace {html.escape(str(workspace.root.resolve()))}, {created}</p>\n"
        + "".join(sections) + "</body></html>\n"
    )
