"""`kcnn distill`: one student model trained on the training labels and on a
vote's probabilities for every test image (kaggle_cnn.training.teacher), stored
as an ordinary run: judged on the workspace's validation split like every run,
kept by --keep-above, with its own submission. Its run.json says which vote
taught it (`distilled_from`) and how long it takes to predict an image next to
the ensemble, which predicts with every member.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from kaggle_cnn import fileio
from kaggle_cnn.errors import InputError
from kaggle_cnn.training import teacher
from kaggle_cnn.training.runs import train

if TYPE_CHECKING:
    from kaggle_cnn.config import TrainConfig
    from kaggle_cnn.data import Dataset
    from kaggle_cnn.store.workspace import Workspace
    from kaggle_cnn.training.engines import Execution
    from kaggle_cnn.training.summary import TrainReporter, TrainSummary


def distill(dataset: "Dataset | None", workspace: "Workspace", vote: str | os.PathLike, config: "TrainConfig", *,
            temperature: float = 1.0, keep_above: float | None = None, seed: int = 0,
            val_fraction: float | None = None, metric: str | None = None, reporter: "TrainReporter | None" = None,
            execution: "Execution | None" = None, tensorboard: bool = False) -> "TrainSummary":
    """Train one `config.model` student on the training rows and on `vote`'s
    probabilities for all test images, softened by `temperature` (p^(1/T),
    renormalised; 1 keeps them). `dataset` None: the data the vote's member runs
    were trained on, loaded again from where they were. The vote's member runs
    must still be in `workspace`."""
    teaching = teacher.distilling(vote, temperature)
    if dataset is None:
        dataset = members_dataset(Path(teaching.vote), workspace)
    return train(dataset, workspace, config, repeat=1, keep_above=keep_above, seed=seed, val_fraction=val_fraction,
                 metric=metric, reporter=reporter, execution=execution, tensorboard=tensorboard, teaching=teaching)


def members_dataset(vote: Path, workspace: "Workspace") -> "Dataset":
    """The data the vote's first member run was trained on (every member's is
    checked against it when the vote is read)."""
    from kaggle_cnn.training.runs import run_dataset

    sidecar_path = vote.with_suffix(".json")
    sidecar = fileio.read_json(sidecar_path) if vote.suffix == ".csv" and sidecar_path.is_file() else None
    if not isinstance(sidecar, dict):
        raise InputError(f"{vote}: not a vote (kcnn vote writes NAME.csv with NAME.json beside it); or give --data")
    members = [m for m in sidecar.get("members") or [] if isinstance(m, dict)]
    first = members[0].get("run_id") if members else None
    if not isinstance(first, str) or not (workspace.models_dir / first / "run.json").is_file():
        name = members[0].get("file") if members else "(none listed)"
        raise InputError(f"{vote}: its member {name} is not a kept run of {workspace.root} (deleted, or voted from "
                         "elsewhere); a distilled student is compared with runs that exist")
    return run_dataset(workspace.load_run(first))
