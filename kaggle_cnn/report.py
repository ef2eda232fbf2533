"""`kcnn plot ...` and `kcnn report`: a workspace's pictures, and one
self-contained HTML page (images embedded, no network needed to open it).

Curves, confusion matrices and the report need no TensorFlow; activations and
filters load the run's model.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kaggle_cnn import api, fileio, plots
from kaggle_cnn.errors import InputError
from kaggle_cnn.store import Workspace

PLOTS = "plots"


def plots_dir(workspace: Workspace) -> Path:
    return workspace.reports_dir / PLOTS


# -- single pictures ------------------------------------------------------------------


def plot_curves(workspace: Workspace, run_ids: list[str] | None = None) -> Path:
    """Learning curves of the given attempts (default every attempt), kept ones highlighted."""
    index = workspace.read_index()
    wanted = list(run_ids) if run_ids else list(index["run_id"].astype(str))
    histories = {}
    for run_id in wanted:
        history = workspace.history(run_id)
        if history is None:
            if run_ids:
                raise InputError(f"no run {run_id!r} with a learning curve in {workspace.models_dir}")
            continue
        histories[run_id] = history
    if not histories:
        raise InputError(f"no runs with learning curves in {workspace.models_dir}: run `kcnn train` first")
    figure = plots.curves(histories, set(workspace.run_ids()))
    return plots.save(figure, plots_dir(workspace) / "curves.png")


def plot_confusion(workspace: Workspace, source: str | None = None) -> list[Path]:
    """The confusion matrix of a run or vote (default: the best vote, else the best
    run), and, for a vote, its per-class bars against its best member."""
    report = api.metrics(workspace, [source] if source else None)
    source = source or _headline_source(report)
    written = [plots.save(plots.confusion(report.confusions[source], f"{source}: validation confusion matrix"),
                          plots_dir(workspace) / f"confusion-{_file_name(source)}.png")]
    if source.startswith(api.ENSEMBLE_PREFIX):
        best = _best_run(report)
        if best is not None:
            everything = report if best in report.tables else api.metrics(workspace, [source, best])
            figure = plots.class_metrics(everything.tables[source], everything.tables[best], source, best)
            written.append(plots.save(figure, plots_dir(workspace) / f"class-metrics-{_file_name(source)}.png"))
    return written


def plot_activations(workspace: Workspace, run_id: str, image: int = 0, layers: list[str] | None = None,
                     data_path: str | Path | None = None) -> Path:
    from kaggle_cnn.visualize import activation_figure, save_figure

    run, model, dataset, split = _load_run_for_pictures(workspace, run_id, data_path)
    if not 0 <= image < len(split.val_indices):
        raise InputError(f"--image {image}: the validation split has images 0..{len(split.val_indices) - 1}")
    picture = dataset.x_train[split.val_indices[image]]
    figure = activation_figure(model, picture, layers or None)
    return save_figure(figure, plots_dir(workspace) / f"activations-{run_id}-{image}.png")


def plot_filters(workspace: Workspace, run_id: str, layer: str, n: int = 16, steps: int = 40) -> Path:
    from kaggle_cnn.visualize import filter_figure, filter_patterns, save_figure

    if n < 1 or steps < 1:
        raise InputError("--n and --steps must be at least 1")
    model = _load_model(workspace.load_run(run_id))
    patterns = filter_patterns(model, layer, n=n, steps=steps)
    return save_figure(filter_figure(patterns, layer), plots_dir(workspace) / f"filters-{run_id}-{layer}.png")


def _load_model(run):
    from kaggle_cnn.architectures import load_model

    return load_model(run.path / "model.keras")


def _load_run_for_pictures(workspace: Workspace, run_id: str, data_path):
    run = workspace.load_run(run_id)
    dataset = api.reload_dataset(run, data_path)
    return run, _load_model(run), dataset, workspace.find_split(run.fingerprint)


def _headline_source(report: api.MetricsReport) -> str:
    summary = report.summary.sort_values(["accuracy", "source"], ascending=[False, True])
    votes = summary[summary["source"].str.startswith(api.ENSEMBLE_PREFIX)]
    return (votes if len(votes) else summary)["source"].iloc[0]


def _best_run(report: api.MetricsReport) -> str | None:
    runs = report.summary[~report.summary["source"].str.startswith(api.ENSEMBLE_PREFIX)]
    if runs.empty:
        return None
    return runs.sort_values(["accuracy", "source"], ascending=[False, True])["source"].iloc[0]


def _file_name(source: str) -> str:
    return source.replace("/", "-")


# -- timing (seed 004's table) --------------------------------------------------------


def timing_table(workspace: Workspace) -> pd.DataFrame:
    """Per model, over its kept runs: seconds per epoch of training and of
    validation, test prediction seconds, and images per second."""
    rows = []
    for run in workspace.runs():
        timing = run.record.get("timing", {})
        if not timing.get("epoch_train_seconds"):
            continue
        rows.append({
            "model": run.record["model"],
            "train s/epoch": float(np.mean(timing["epoch_train_seconds"])),
            "val s/epoch": float(np.mean(timing["epoch_val_seconds"])),
            "predict s": float(timing["predict_seconds"]),
            "train images/s": float(timing["train_images_per_second"]),
            "predict images/s": float(timing["predict_images_per_second"]),
            "params": run.record.get("params"),
        })
    if not rows:
        raise InputError(f"no kept runs with timings in {workspace.models_dir}: run `kcnn train` first")
    frame = pd.DataFrame(rows)
    means = {c: (c, "mean") for c in ("train s/epoch", "val s/epoch", "predict s", "train images/s", "predict images/s")}
    table = frame.groupby("model", sort=True).agg(runs=("train s/epoch", "size"), params=("params", "first"), **means)
    return table.reset_index()


# -- the HTML report ------------------------------------------------------------------


def build_report(workspace: Workspace) -> Path:
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
    if runs or _votes(workspace):
        sections.extend(_metric_sections(workspace))
    for name, sidecar in _votes(workspace):
        sections.append(_section(f"Vote: {name}", _vote_diagnostics(sidecar)))
    if runs:
        sections.append(_section("Timing per model (seed 004's table)", _table(timing_table(workspace))))
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
    histories = {r: h for r in index["run_id"].astype(str) if (h := workspace.history(r)) is not None}
    if not histories:
        return None
    return _image(plots.curves(histories, set(workspace.run_ids())), "learning curves")


def _metric_sections(workspace: Workspace) -> list[str]:
    report = api.metrics(workspace)
    headline = _headline_source(report)
    best = _best_run(report)
    parts = [_section("Validation metrics of every run and vote", _table(report.summary))]
    shown = [headline] + ([best] if best and best != headline else [])
    for source in shown:
        parts.append(_section(f"Per-class metrics: {source}", _table(report.tables[source])))
    images = [_image(plots.confusion(report.confusions[headline], f"{headline}: validation confusion matrix"),
                     "confusion matrix")]
    if headline.startswith(api.ENSEMBLE_PREFIX) and best:
        images.append(_image(plots.class_metrics(report.tables[headline], report.tables[best], headline, best),
                             "per-class bars"))
    parts.append(_section(f"Confusion matrix: {headline}", "".join(images)))
    return parts


def _votes(workspace: Workspace) -> list[tuple[str, dict[str, Any]]]:
    if not workspace.ensemble_dir.is_dir():
        return []
    return [(p.stem, fileio.read_json(p)) for p in sorted(workspace.ensemble_dir.glob("*.json"))]


def _vote_diagnostics(sidecar: dict[str, Any]) -> str:
    facts = {
        "method": sidecar.get("method"), "members used": sum(m.get("weight", 1) > 0 for m in sidecar["members"]),
        "rows": sidecar.get("rows"), "ties": sidecar.get("ties"),
        "validation accuracy (in-sample)": sidecar.get("val_accuracy"),
        "validation accuracy (cross-validated)": sidecar.get("val_accuracy_cv"),
        "rule": sidecar.get("rule"),
    }
    members = pd.DataFrame(sidecar["members"])
    parts = [_table(pd.DataFrame([facts]).T.reset_index().set_axis(["", "value"], axis=1)),
             _caption("members and their weights"), _table(members)]
    diagnostics = sidecar.get("diagnostics")
    if diagnostics:
        parts.append(_caption("diagnostics"))
        parts.append(_image(plots.margins(diagnostics["margins"], "how decisive the vote was"), "vote margins"))
        if len(diagnostics["disagreement"]["members"]) > 1:
            parts.append(_image(plots.disagreement(diagnostics["disagreement"]["matrix"],
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
