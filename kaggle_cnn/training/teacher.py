"""A vote's test probabilities as training targets.

    pseudo-labels   the test images the vote is sure of (its top probability at or
                    above a confidence) join the training rows, their targets the
                    vote's probabilities
    distillation    every test image joins, its targets the vote's probabilities
                    softened by a temperature T (p^(1/T), renormalised)

The added images join only the rows a model trains on: a hold-out split's
validation rows and a fold's out-of-fold rows stay as they were, so every score
stays honest. The vote is read from its CSV, its JSON sidecar and the
<name>.test_proba.npy beside them (kcnn vote writes all three) and checked to be
a vote of this data. No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kaggle_cnn import fileio
from kaggle_cnn.errors import InputError
from kaggle_cnn.labels import normalise_label
from kaggle_cnn.store.files import file_sha256, read_array

if TYPE_CHECKING:
    from kaggle_cnn.data import Dataset
    from kaggle_cnn.store.workspace import Workspace

DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Teaching:
    """What a plan records, so that --resume teaches its runs the same way:
    kind "pseudo_labels" (with a confidence) or "distill" (with a temperature)."""

    kind: str
    vote: str  # the vote's CSV, as an absolute path
    sha256: str  # the CSV's, when the plan was made
    confidence: float | None = None
    temperature: float | None = None

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "vote": self.vote, "sha256": self.sha256, "confidence": self.confidence,
                "temperature": self.temperature}


@dataclass(frozen=True)
class Teacher:
    """The test images an attempt also trains on, and their targets."""

    rows: np.ndarray  # positions in the test images
    targets: np.ndarray  # (rows, classes) float32 class probabilities, in the dataset's class order
    record: dict[str, Any]  # what the run's run.json records of it

    def taught(self, arrays: dict[str, Any], x_test) -> dict[str, Any]:
        """The attempt's arrays with the test images added to its training rows
        only. Labels become class probabilities: one-hot for the training labels
        (a two-class model's single sigmoid: the second class's probability)."""
        if not len(self.rows):  # nothing added: the attempt trains exactly as a plain one
            return arrays
        labels = np.asarray(arrays["y_train"]).astype(np.int64)
        if self.targets.shape[1] == 2:
            targets = np.concatenate([labels.astype(np.float32), self.targets[:, 1]])
        else:
            targets = np.concatenate([np.eye(self.targets.shape[1], dtype=np.float32)[labels], self.targets])
        images = np.concatenate([np.asarray(arrays["x_train"]), np.asarray(x_test)[self.rows]])
        return {**arrays, "x_train": images, "y_train": targets}


def pseudo_labels(path: str | Path | None, confidence: float | None) -> Teaching | None:
    """--pseudo-labels VOTE.csv [--pseudo-confidence C], checked; None without them."""
    if path is None:
        if confidence is not None:
            raise InputError("--pseudo-confidence goes with --pseudo-labels VOTE.csv")
        return None
    confidence = DEFAULT_CONFIDENCE if confidence is None else confidence
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence <= 1:
        raise InputError(f"--pseudo-confidence {confidence}: must be a number in (0, 1] (the vote's top probability "
                         f"a test image needs to be added)")
    csv = _vote_csv(path, "--pseudo-labels")
    return Teaching("pseudo_labels", str(csv), file_sha256(csv), confidence=float(confidence))


def distilling(path: str | Path, temperature: float) -> Teaching:
    """kcnn distill VOTE.csv [--temperature T], checked."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 < temperature < np.inf:
        raise InputError(f"--temperature {temperature}: must be a finite number greater than 0 (1 keeps the vote's "
                         "probabilities; above 1 softens them)")
    csv = _vote_csv(path, "kcnn distill")
    return Teaching("distill", str(csv), file_sha256(csv), temperature=float(temperature))


def recorded(record: dict[str, Any] | None) -> Teaching | None:
    """A plan's recorded teaching (None: a plan without one, or made before there was any)."""
    if not isinstance(record, dict):
        return None
    try:
        return Teaching(**record)
    except TypeError:
        raise InputError(f"the plan's teaching record is damaged: {sorted(record)}") from None


def _vote_csv(path: str | Path, option: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{option} {path}: no such file")
    return path.resolve()


def teacher_for(teaching: Teaching | None, dataset: "Dataset", workspace: "Workspace") -> Teacher | None:
    """The test rows and targets `teaching` gives this data, or a one-line refusal."""
    if teaching is None:
        return None
    if hasattr(dataset.x_test, "tf_dataset"):
        raise InputError(f"{dataset.source}: images streamed from files cannot take pseudo-labels or a teacher's "
                         "targets yet; load them into memory (e.g. --image-size)")
    if not Path(teaching.vote).is_file():  # a plan's vote, moved or deleted since
        raise InputError(f"{teaching.vote}: no such file (the vote this training learns from)")
    vote = read_vote(Path(teaching.vote), dataset, teaching.sha256)
    proba = vote.proba
    if teaching.kind == "pseudo_labels":
        # A tiny tolerance: float32 probabilities of a unanimous vote may sum a hair under 1.
        rows = np.flatnonzero(proba.max(axis=1) >= teaching.confidence - 1e-6)
        return Teacher(rows, proba[rows], {"pseudo_labels": {
            "vote": Path(teaching.vote).name, "sha256": teaching.sha256, "rows_added": int(len(rows)),
            "confidence": teaching.confidence}})
    softened = proba.astype(np.float64) ** (1.0 / teaching.temperature)
    softened = (softened / softened.sum(axis=1, keepdims=True)).astype(np.float32)
    members = members_inference(vote, workspace)
    return Teacher(np.arange(len(proba)), softened, {"distilled_from": {
        "vote": Path(teaching.vote).name, "sha256": teaching.sha256, "members": len(members),
        "temperature": teaching.temperature, "rows_added": int(len(proba)),
        # per test image, predicting: the ensemble's is the sum of its members' (each predicts every image)
        "predict_seconds_per_image": {"ensemble": float(sum(members.values())), "student": None,
                                      "members": members}}})


def members_inference(vote: "Vote", workspace: "Workspace") -> dict[str, float]:
    """Each member run's recorded test-prediction seconds per image; a vote whose
    member runs are no longer in the workspace is refused."""
    found: dict[str, float] = {}
    for member in vote.sidecar.get("members") or []:
        run_id = member.get("run_id") if isinstance(member, dict) else None
        if not isinstance(run_id, str) or not (workspace.models_dir / run_id / "run.json").is_file():
            name = member.get("file") if isinstance(member, dict) else member
            raise InputError(f"{vote.path}: its member {name} is not a kept run of {workspace.root} (deleted, or "
                             "voted from elsewhere); a distilled student is compared with runs that exist")
        record = workspace.load_run(run_id).record
        seconds, images = record.get("timing", {}).get("predict_seconds"), record["data"].get("n_test")
        found[run_id] = float(seconds) / images if isinstance(seconds, (int, float)) and images else float("nan")
    if not found:
        raise InputError(f"{vote.path}: its sidecar lists no members")
    return found


def completed(record: dict[str, Any]) -> None:
    """A distilled student's run.json: its own prediction time per image beside the ensemble's."""
    timing = record.get("distilled_from", {}).get("predict_seconds_per_image")
    if timing is not None:
        timing["student"] = record["timing"]["predict_seconds"] / max(1, record["data"]["n_test"])


@dataclass(frozen=True)
class Vote:
    path: Path
    sidecar: dict[str, Any]
    proba: np.ndarray  # (test rows, classes) in the dataset's class order


def read_vote(path: Path, dataset: "Dataset", sha256: str | None = None) -> Vote:
    """A vote of this data: its CSV unchanged since the vote (and since `sha256`,
    when a plan recorded it), its sidecar's fingerprint this data's, its rows the
    test images in order, and its stored probabilities."""
    sidecar_path = path.with_suffix(".json")
    if path.suffix != ".csv" or not sidecar_path.is_file():
        raise InputError(f"{path}: not a vote (kcnn vote writes NAME.csv with NAME.json beside it; no "
                         f"{sidecar_path.name} here)")
    try:
        sidecar = fileio.read_json(sidecar_path)
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"{sidecar_path}: not a vote's sidecar (not JSON)") from None
    if not isinstance(sidecar, dict) or not {"csv_sha256", "rows", "classes"} <= sidecar.keys():
        raise InputError(f"{sidecar_path}: not a vote's sidecar (no csv_sha256, rows and classes)")
    actual = file_sha256(path)
    if actual != sidecar["csv_sha256"]:
        raise InputError(f"{path}: changed since the vote wrote it (its sha256 is not the one {sidecar_path.name} "
                         "records); vote again")
    if sha256 is not None and actual != sha256:
        raise InputError(f"{path}: not the vote this plan was made with (its sha256 changed): it was voted again "
                         "since; train a new plan")
    if sidecar.get("task") in ("multi_label", "regression", "ordinal"):
        task = {"multi_label": "a multi-label", "regression": "a regression", "ordinal": "an ordinal"}[sidecar["task"]]
        raise InputError(f"{path}: {task} vote; pseudo-labels and distillation learn from single-label votes")
    if "data_fingerprint" not in sidecar:
        raise InputError(f"{path}: the vote stored no test probabilities (written by an older kcnn): vote again")
    stored = sidecar.get("test_proba")
    if not isinstance(stored, dict) or not isinstance(stored.get("file"), str):
        raise InputError(f"{path}: the vote has no test probabilities (some member had none: vote on kept runs' "
                         "submissions, whose probabilities are stored)")
    fingerprint = dataset.fingerprint()
    if sidecar["data_fingerprint"] != fingerprint:
        theirs = f"data {str(sidecar['data_fingerprint'])[:12]}" if sidecar["data_fingerprint"] else "unknown data"
        raise InputError(f"{path}: a vote of other data (its runs trained on {theirs}), not of {dataset.source} "
                         f"({fingerprint[:12]})")
    if sidecar["rows"] != len(dataset.x_test):
        raise InputError(f"{path}: {sidecar['rows']} rows, but {dataset.source} has {len(dataset.x_test)} test images")
    return Vote(path, sidecar, _probabilities(path, sidecar, dataset))


def _probabilities(path: Path, sidecar: dict[str, Any], dataset: "Dataset") -> np.ndarray:
    """The vote's stored test probabilities, unchanged since the vote, in the dataset's class order."""
    stored = sidecar["test_proba"]
    proba_path = path.with_name(Path(stored["file"]).name)
    if not proba_path.is_file() or file_sha256(proba_path) != stored.get("sha256"):
        raise InputError(f"{proba_path}: missing or changed since the vote wrote it; vote again")
    classes = [normalise_label(c) for c in sidecar["classes"]]
    ours = [normalise_label(c) for c in dataset.classes]
    if sorted(classes) != sorted(ours):
        raise InputError(f"{path}: classes {','.join(classes[:6])} are not {dataset.source}'s "
                         f"{','.join(ours[:6])}")
    proba = read_array(proba_path, rows=len(dataset.x_test), columns=len(classes)).astype(np.float32)
    return proba[:, [classes.index(c) for c in ours]]
