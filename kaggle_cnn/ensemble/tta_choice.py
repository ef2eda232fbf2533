"""Whether a vote should use its members' test-time-augmented predictions.

`kcnn tta` stores each run's predictions on augmented copies beside its plain
ones; whether they help depends on the data and on how the model trained (on short
runs they did not: benchmarks/RESULTS.md). So `kcnn vote`, given neither --tta nor
--no-tta, scores both soft votes on the validation rows every member predicted
honestly and uses the augmented predictions only when they score better there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kaggle_cnn.ensemble.pool import Pool, gather
from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metric_registry import get_metric
from kaggle_cnn.store.workspace import Workspace


def choose_tta(workspace: Workspace, directory: Path, metric: str, *, model: str | None = None,
               across_data: bool = False) -> dict[str, Any] | None:
    """{"plain": score, "tta": score, "used": bool}: both members' soft votes on the
    shared validation rows by `metric`, "used" when the augmented one is strictly
    better; None when some member has no augmented predictions (or no validation
    rows), and the vote is the plain one."""
    from kaggle_cnn.store.submissions import find_members

    # a glance first: most votes have no augmented predictions, and gathering reads every member's arrays
    if not all((workspace.models_dir / path.stem / "val_proba_tta.npy").is_file() for path in find_members(directory)):
        return None
    try:
        augmented = gather(workspace, directory, model=model, tta=True, across_data=across_data)
    except InputError:
        return None
    if any(augmented.lacking) or augmented.val is None:
        return None
    plain = gather(workspace, directory, model=model, across_data=across_data)
    if plain.val is None:
        return None
    judged = get_metric(metric)
    scores = {"plain": _soft_score(plain, judged), "tta": _soft_score(augmented, judged)}
    return {**scores, "used": judged.goodness(scores["tta"]) > judged.goodness(scores["plain"])}


def _soft_score(pool: Pool, metric) -> float:
    return metric.value(pool.val.truth, np.mean(pool.val.proba, axis=0))
