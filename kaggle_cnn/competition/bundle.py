"""`kcnn export-inference VOTE.csv DIR`: a vote as a folder a Kaggle notebook without
internet can run, for code competitions.

    DIR/predict.py     reads the competition's test data as kcnn did, predicts with
                       every member's model and combines them by the vote's rule
    DIR/bundle.json    the rule, members and weights, classes, submission layout and
                       how test images are read and scaled
    DIR/models/<run_id>/model.keras (or fold1.keras ... of a k-fold run)

predict.py needs TensorFlow (Keras 3), numpy and pandas, never kaggle_cnn: it is
kaggle_cnn/competition/bundle_predict.py copied as it is. No TensorFlow here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaggle_cnn import fileio
from kaggle_cnn.data.loaders.arrays import holds_arrays
from kaggle_cnn.data.loaders.image_lookup import IMAGE_EXTENSIONS
from kaggle_cnn.data.loaders.kaggle_csv import ID_CANDIDATES, LABEL_CANDIDATES
from kaggle_cnn.data.loaders.labelled_images import TEST_FOLDERS
from kaggle_cnn.ensemble.rules import PROBABILITY_TIE_RULE
from kaggle_cnn.errors import InputError, one_line
from kaggle_cnn.evaluation.metric_registry import get_metric
from kaggle_cnn.store.files import DOCTOR, file_sha256, read_record, value_at
from kaggle_cnn.store.run import Run
from kaggle_cnn.store.workspace import Workspace

PREDICT_SOURCE = Path(__file__).with_name("bundle_predict.py")
FORMAT = 1
# The data kinds predict.py reads (run.json's data.kind): a Kaggle pixel CSV, an
# .npz of arrays, image files named by a sample submission.
IMAGE_KINDS = ("labelled_images", "image_folder")
KINDS = ("kaggle_csv", "npz", *IMAGE_KINDS)
SCALING = ("pixels as float32 in [0, 1], scaled per file by its own values: whole numbers 0..255 divided by 255, "
           "values all within 0..1 kept; image files decoded grey or RGB, resized bilinearly to the models' size "
           "when theirs differs, divided by 255")


@dataclass
class InferenceBundle:
    directory: Path
    vote: str
    method: str
    members: list[str]  # run ids
    models: list[str]  # files under DIR/models/
    data_kind: str


def export_inference(workspace: Workspace, vote: str | os.PathLike, directory: str | os.PathLike) -> InferenceBundle:
    """Write DIR (new, or an empty folder): the models of the vote `vote` (a vote's CSV,
    its sidecar beside it, or a kept run's own submission: one model, a distilled
    student's), predict.py and bundle.json. Built beside DIR and renamed
    into place, so DIR is either complete or not there."""
    vote_csv, directory = Path(vote), Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InputError(f"{directory}: exists and is not an empty folder; give a new folder for the bundle")
    sidecar = run_as_vote(workspace, vote_csv) or read_vote_csv(vote_csv)
    runs = _member_runs(workspace, vote_csv, sidecar)
    first = runs[0][0]
    kind = first.record["data"].get("kind")
    if first.numeric:
        raise InputError(f"{vote_csv}: its runs predict a number per image (regression, ordinal); predict.py "
                         "writes class predictions")
    if kind not in KINDS:
        raise InputError(f"{vote_csv}: its runs were trained on {kind} data; predict.py reads "
                         f"{', '.join(KINDS)} (a Kaggle pixel CSV, an .npz, image files named by a sample submission)")
    trained_on = (first.record["data"].get("load_options") or {}).get("path")
    if kind in IMAGE_KINDS and trained_on and Path(trained_on).is_dir() and holds_arrays(Path(trained_on)):
        raise InputError(f"{vote_csv}: its runs were trained on .npy arrays ({trained_on}); predict.py reads image "
                         "files, not arrays")
    if "tabular" in first.record["data"]:
        raise InputError(f"{vote_csv}: its runs read table columns beside the images (--tabular-columns); "
                         "predict.py reads images alone")
    bundle = _bundle(vote_csv, sidecar, runs)
    directory.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        for run, names in runs:
            (building / "models" / run.run_id).mkdir(parents=True)
            for name in names:
                shutil.copyfile(run.path / name, building / "models" / run.run_id / name)
        shutil.copyfile(PREDICT_SOURCE, building / "predict.py")
        fileio.write_json(building / "bundle.json", bundle)
        if directory.exists():
            directory.rmdir()  # empty, checked above
        building.rename(directory)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    models = [f"models/{run.run_id}/{name}" for run, names in runs for name in names]
    return InferenceBundle(directory, sidecar.get("name", vote_csv.stem), sidecar["method"],
                           [run.run_id for run, _ in runs], models, kind)


def run_as_vote(workspace: Workspace, csv: Path) -> dict[str, Any] | None:
    """A kept run's own submission (a distilled student's, say) as a vote of one member:
    its top class, exact ties to the smallest label, as the run wrote it. None: not one."""
    run_id = csv.stem
    if csv.with_suffix(".json").is_file() or not csv.is_file() or run_id not in workspace.run_ids():
        return None
    run = workspace.load_run(run_id)
    if file_sha256(csv) != file_sha256(run.path / "submission.csv"):
        return None  # named like a run, but not its submission
    return {"name": run_id, "method": "soft", "rule": PROBABILITY_TIE_RULE, "classes": run.classes,
            "metric": run.record["scores"].get("metric"), "csv_sha256": file_sha256(csv),
            "members": [{"file": csv.name, "run_id": run_id, "weight": 1.0, "val_score": None}]}


def read_vote_csv(vote_csv: Path) -> dict[str, Any]:
    """The sidecar of a vote's CSV, trusted only when its checksum is the CSV's."""
    if not vote_csv.is_file():
        raise InputError(f"{vote_csv}: no such file")
    path = vote_csv.with_suffix(".json")
    if not path.is_file():
        raise InputError(f"{vote_csv}: not a vote's CSV (no sidecar {path.name} beside it; kcnn vote writes both) "
                         "nor a kept run's own submission")
    sidecar = read_record(path, required=("method", "classes", "members"))
    value_at(sidecar, path, "classes", kind=list)
    members = value_at(sidecar, path, "members", kind=list)
    if not members or not all(isinstance(m, dict) and isinstance(m.get("weight"), (int, float)) for m in members):
        raise InputError(f"{path}: damaged, members is not a list of members with weights; {DOCTOR}")
    if sidecar.get("csv_sha256") != file_sha256(vote_csv):
        raise InputError(f"{path}: does not describe {vote_csv.name} (its checksum differs: the CSV was replaced, "
                         "or the vote was cut short); vote again")
    if sidecar.get("tta"):
        raise InputError(f"{vote_csv}: a vote on test-time-augmented predictions (kcnn vote --tta); predict.py "
                         "does not augment: export a vote without --tta")
    return sidecar


def _member_runs(workspace: Workspace, vote_csv: Path, sidecar: dict) -> list[tuple[Run, list[str]]]:
    """Each member with a weight: its run, and the model files that made its test probabilities."""
    found = []
    for member in sidecar["members"]:
        if member["weight"] <= 0:
            continue  # left out by the vote: it never counts
        run_id = member.get("run_id")
        if not run_id:
            raise InputError(f"{vote_csv}: member {member.get('file')} is not a kept run of this workspace, so "
                             "there is no model to export")
        if run_id not in workspace.run_ids():
            raise InputError(f"{vote_csv}: member run {run_id} is gone from {workspace.models_dir}")
        run = workspace.load_run(run_id)
        names = model_files(run)
        missing = [n for n in names + ["test_proba.npy"] if not (run.path / n).is_file()]
        if missing:
            raise InputError(f"{vote_csv}: member run {run_id} has no {run.path / missing[0]}")
        found.append((run, names))
    first = found[0][0]
    for run, _ in found[1:]:
        if [str(c) for c in run.classes] != [str(c) for c in first.classes] or \
                run.record["data"].get("image_shape") != first.record["data"].get("image_shape") or \
                run.record["data"].get("kind") != first.record["data"].get("kind"):
            raise InputError(f"{vote_csv}: runs {first.run_id} and {run.run_id} were trained on different data "
                             "(classes, image shape or kind); a bundle reads one kind of test data")
    return found


def model_files(run: Run) -> list[str]:
    """The models whose predictions are the run's test_proba.npy: model.keras (a
    hold-out run, or a k-fold run's refit), else the fold models, averaged."""
    if not run.kfold or run.record["config"].get("refit"):
        return ["model.keras"]
    return [f"fold{fold}.keras" for fold in range(1, int(run.record["validation"]["folds"]) + 1)]


def _bundle(vote_csv: Path, sidecar: dict, runs: list[tuple[Run, list[str]]]) -> dict[str, Any]:
    first = runs[0][0]
    data = first.record["data"]
    options = data.get("load_options") or {}
    metric = get_metric(sidecar.get("metric"))
    weighted = [m for m in sidecar["members"] if m["weight"] > 0]
    header = list(data["submission_header"])
    # A --test-images folder the runs were given is looked for first, by its name.
    given = [Path(options["test_images"]).name] if options.get("test_images") else []
    test_folders = list(dict.fromkeys(given + list(TEST_FOLDERS)))
    return {
        "format": FORMAT,
        "vote": sidecar.get("name", vote_csv.stem), "vote_csv_sha256": sidecar["csv_sha256"],
        "method": sidecar["method"], "geometric": bool((sidecar.get("options") or {}).get("geometric")),
        # The sidecar's rule says which way the vote combined: averaged probabilities, or weighted label votes.
        "combine": "stack" if sidecar["method"] == "stack" else
        "probability" if sidecar.get("rule") == PROBABILITY_TIE_RULE else "votes",
        "stack": _stack(sidecar, weighted),
        "rule": sidecar.get("rule"),
        "classes": [str(c) for c in sidecar["classes"]],
        "model_classes": [str(c) for c in first.classes],
        "members": [
            {"run_id": run.run_id, "model": run.record["model"], "weight": float(member["weight"]),
             # A hard vote's tie after probabilities goes to the best member: its score, higher is better.
             "tie_score": None if member.get("val_score") is None else metric.goodness(member["val_score"]),
             "models": [f"models/{run.run_id}/{name}" for name in names],
             "batch_size": int(run.record["config"].get("batch_size") or 32)}
            for member, (run, names) in zip(weighted, runs)
        ],
        "submission": {"header": header, "kind": data.get("submission_kind", "label"), "id_column": header[0],
                       **({"top_k": data["top_k"]} if data.get("top_k") else {})},
        "data": {
            "kind": data["kind"], "image_shape": list(data["image_shape"]),
            "id_column": options.get("id_column"), "id_columns": list(ID_CANDIDATES),
            "label_columns": sorted({*LABEL_CANDIDATES, *([options["label_column"]] if options.get("label_column")
                                                           else [])}),
            "test_folders": test_folders, "image_extensions": list(IMAGE_EXTENSIONS),
            "pillow_extensions": [".tif", ".tiff", ".webp"],
            "scaling": SCALING, "trained_on": one_line(str(data.get("source")), 200),
        },
    }


def _stack(sidecar: dict[str, Any], weighted: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A stacked vote's meta-model, as predict.py applies it to the members (in the bundle's order)."""
    if sidecar["method"] != "stack":
        return None
    stack = sidecar.get("stack") or {}
    if [Path(m["file"]).stem for m in weighted] != [str(name) for name in stack.get("members", [])]:
        raise InputError(f"{sidecar.get('name')}: damaged, its stack's members are not the vote's; {DOCTOR}")
    return {key: stack[key] for key in ("features", "floor", "coef", "intercept")}
