"""Pictures of a workspace: learning curves, confusion matrices, per-class bars,
vote diagnostics. matplotlib's object API (no pyplot, no display needed); every
function returns a Figure, and `save` writes it atomically as PNG.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from kaggle_cnn.errors import InputError
from kaggle_cnn.fileio import atomic_path

KEPT_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
DISCARDED = "#b0b0b0"


def save(fig: Figure, path: str | os.PathLike, *, dpi: int = 100, tight: bool = True) -> Path:
    """Write `fig` as a PNG atomically (a reader never sees half a file); returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"{path}: figures are saved as PNG; use a .png file name")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight" if tight else None)
    return path


def curves(histories: Mapping[str, pd.DataFrame], kept: set[str]) -> Figure:
    """Accuracy and loss against epochs, training dashed and validation solid.

    Kept runs in colour (the first eight named in the legend), discarded ones thin
    grey; a `phase` column (e.g. fine-tuning) is marked where it changes.
    """
    fig = Figure(figsize=(13, 5), layout="constrained")
    panels = fig.subplots(1, 2)
    colour = iter(KEPT_COLOURS * (len(histories) // len(KEPT_COLOURS) + 1))
    for run_id in sorted(histories, key=lambda r: (r in kept, r)):  # kept drawn last, on top
        history = histories[run_id]
        is_kept = run_id in kept
        style = {"color": next(colour) if is_kept else DISCARDED, "linewidth": 1.6 if is_kept else 0.8,
                 "alpha": 1.0 if is_kept else 0.6,
                 "marker": "o" if len(history) <= 15 else None, "markersize": 3}  # one epoch is a dot
        for panel, metric in zip(panels, ("accuracy", "loss")):
            if metric in history:
                panel.plot(history["epoch"], history[metric], linestyle="--", **style)
            if f"val_{metric}" in history:
                label = run_id if is_kept else None
                panel.plot(history["epoch"], history[f"val_{metric}"], label=label, **style)
            _mark_phases(panel, history)
    for panel, metric in zip(panels, ("accuracy", "loss")):
        panel.set_title(f"{metric} (solid: validation, dashed: training)")
        panel.set_xlabel("epoch")
        panel.xaxis.set_major_locator(MaxNLocator(integer=True))
        panel.set_ylabel(metric)
        panel.grid(alpha=0.3)
    handles, labels = panels[0].get_legend_handles_labels()
    if handles:
        shown = min(len(handles), 8)
        extra = f" (+{len(handles) - shown} more kept)" if len(handles) > shown else ""
        panels[0].legend(handles[-shown:], labels[-shown:], fontsize=8, title=f"kept runs{extra}", title_fontsize=8)
    discarded = len(set(histories) - kept)
    fig.suptitle(f"{len(histories)} runs: {len(histories) - discarded} kept (colour), {discarded} discarded (grey)")
    return fig


def _mark_phases(panel, history: pd.DataFrame) -> None:
    if "phase" not in history:
        return
    changes = history.index[history["phase"].ne(history["phase"].shift())][1:]
    for row in changes:
        epoch = history.loc[row, "epoch"]
        panel.axvline(epoch - 0.5, color="black", linestyle=":", linewidth=1)
        panel.annotate(str(history.loc[row, "phase"]), (epoch - 0.5, 1), xycoords=("data", "axes fraction"),
                       fontsize=8, va="top", ha="left")


def confusion(matrix: pd.DataFrame, title: str) -> Figure:
    """Counts in every cell, shaded by the share of the true class (row-normalised).
    Multi-label (rows indexed by label): each label's true and false positives and negatives."""
    counts = matrix.to_numpy()
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros(counts.shape, dtype=float), where=rows > 0)
    size = max(5.0, 0.55 * len(matrix) + 2)
    fig = Figure(figsize=(size + 1.5, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    labels = [str(c) for c in matrix.columns]
    ax.set_xticks(range(len(labels)), labels, rotation=45 if max(map(len, labels)) > 3 else 0, ha="right")
    ax.set_yticks(range(len(matrix.index)), [str(c) for c in matrix.index])
    per_label = matrix.index.name == "label"
    ax.set_xlabel("decisions" if per_label else "predicted")
    ax.set_ylabel("label" if per_label else "true")
    ax.set_title(title)
    for (i, j), count in np.ndenumerate(counts):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                    color="white" if shares[i, j] > 0.6 else "black")
    fig.colorbar(image, ax=ax, label="share of the true class")
    return fig


def class_metrics(ensemble: pd.DataFrame, member: pd.DataFrame, ensemble_name: str, member_name: str) -> Figure:
    """Per-class precision, recall and F1: the ensemble beside its best member."""
    summary = {"accuracy", "macro avg", "weighted avg"}
    ours = ensemble[~ensemble["class"].isin(summary)].set_index("class")
    theirs = member[~member["class"].isin(summary)].set_index("class").reindex(ours.index)
    fig = Figure(figsize=(13, 4.2), layout="constrained")
    panels = fig.subplots(1, 3, sharey=True)
    x = np.arange(len(ours))
    for panel, metric in zip(panels, ("precision", "recall", "f1")):
        panel.bar(x - 0.2, theirs[metric], width=0.4, label=member_name, color="#b0b0b0")
        panel.bar(x + 0.2, ours[metric], width=0.4, label=ensemble_name, color="#1f77b4")
        panel.set_xticks(x, ours.index, rotation=45 if max(map(len, ours.index)) > 3 else 0)
        panel.set_title(metric)
        panel.set_ylim(0, 1.05)
        panel.grid(axis="y", alpha=0.3)
    handles, labels = panels[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper right", fontsize=8, ncols=2)
    fig.suptitle("per class on the validation split: ensemble vs its best member", x=0.3)
    return fig


def disagreement(matrix: list[list[float]], members: list[str]) -> Figure:
    """Pairwise share of test rows on which two members vote differently."""
    values = np.asarray(matrix)
    size = min(12.0, max(4.5, 0.35 * len(members) + 3))
    fig = Figure(figsize=(size + 1, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(values, cmap="magma_r", vmin=0)
    if len(members) <= 40:  # beyond that, names would overlap: the sidecar JSON has them
        ticks = range(len(members))
        ax.set_xticks(ticks, [str(i + 1) for i in ticks], fontsize=7)
        ax.set_yticks(ticks, [f"{i + 1} {m}" for i, m in zip(ticks, members)], fontsize=7)
    else:
        ax.set_xlabel(f"{len(members)} members, in file-name order")
    ax.set_title("members' disagreement on test rows")
    fig.colorbar(image, ax=ax, label="share of rows")
    return fig


def margins(histogram: dict, title: str) -> Figure:
    edges, counts = np.asarray(histogram["edges"]), np.asarray(histogram["counts"])
    fig = Figure(figsize=(6, 3.2), layout="constrained")
    ax = fig.subplots()
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#1f77b4", edgecolor="white")
    ax.set_xlabel("vote margin (top minus runner-up)")
    ax.set_ylabel("test rows")
    ax.set_title(title)
    return fig


def augmentation_grid(grid: np.ndarray, spec: str) -> Figure:
    """Rows of (original, augmented copies); grid is (rows, 1 + copies, H, W, C) in [0, 1].
    Colour for 3 channels; otherwise grey (the mean of the channels of an array image)."""
    rows, columns = grid.shape[:2]
    fig = Figure(figsize=(1.3 * columns, 1.3 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    grey = grid.shape[-1] != 3
    for r in range(rows):
        for c in range(columns):
            ax = axes[r, c]
            image = grid[r, c].mean(axis=-1) if grey else grid[r, c]
            ax.imshow(image, cmap="gray" if grey else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("original" if c == 0 else f"copy {c}", fontsize=8)
    fig.suptitle(f"augmentation: {spec}", fontsize=10)
    return fig
