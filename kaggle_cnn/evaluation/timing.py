"""Per-model timing of kept runs: seconds per epoch of training and validation,
test prediction seconds, images per second (the table the 28x28 Kaggle
write-up kept for its models)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kaggle_cnn.errors import InputError
from kaggle_cnn.store.workspace import Workspace


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
