"""The run record (run.json) and what a finished attempt leaves in the workspace:
a kept run's folder (model, probabilities, history, submission, then run.json
last), or a discarded run's learning curve; and its row in models/index.csv.
"""

from __future__ import annotations

import copy
import datetime as _dt
import shutil
from dataclasses import asdict, dataclass, is_dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kaggle_cnn import fileio
from kaggle_cnn.labels import ORDINAL, SINGLE_LABEL
from kaggle_cnn.store.run import index_row
from kaggle_cnn.store.workspace import Workspace

if TYPE_CHECKING:
    from kaggle_cnn.data import Dataset
    from kaggle_cnn.training.fit import FitResult


@dataclass(frozen=True)
class Attempt:
    number: int  # 1-based within this call
    run_id: str
    seed: int
    val_accuracy: float
    kept: bool
    seconds: float
    epoch_train_seconds: float  # mean over epochs (the 28x28 Kaggle write-up's timing table)
    predict_seconds: float  # the test set
    score: float = float("nan")  # the workspace's metric on the run's honest rows (hold-out or out of fold)
    metric: str = "accuracy"


def new_record(config, run_id, base_seed, attempt, run_seed, keep_above, *, tensorboard: bool = False,
               teacher=None) -> dict[str, Any]:
    """The start of an attempt's run.json; `config` is a TrainConfig, or the flat
    settings of a search trial that could not make one. `options`: how it was
    watched, which does not change what it learns. `teacher`: the vote whose test
    probabilities it also trains on (pseudo_labels or distilled_from)."""
    settings = asdict(config) if is_dataclass(config) else dict(config)
    return {"run_id": run_id, "model": settings.get("model", ""), "base_seed": base_seed, "attempt": attempt,
            "seed": run_seed, "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "config": {**settings, "keep_above": keep_above}, "options": {"tensorboard": tensorboard},
            **copy.deepcopy(teacher.record if teacher is not None else {})}


def record_failure(workspace: Workspace, record: dict, fingerprint: str, message: str, seconds: float) -> None:
    shutil.rmtree(workspace.live_curves(record["run_id"]), ignore_errors=True)
    failed = {**record, "kept": False, "status": "failed", "message": message[:300], "seconds": seconds,
              "scores": {"val_accuracy": float("nan")}, "data": {"fingerprint": fingerprint}}
    workspace.append_index(index_row(failed))


def judge(metric: str, truth: np.ndarray, proba: np.ndarray, keep_above: float) -> dict[str, Any]:
    """The run's score by the workspace's metric, and whether it clears --keep-above."""
    from kaggle_cnn.evaluation.metric_registry import get_metric

    chosen = get_metric(metric)
    score = chosen.value(truth, proba)
    return {"metric": metric, "score": score, "kept": chosen.passes(score, keep_above)}


def store_attempt(workspace, dataset, split, config, record, result: "FitResult", keep_above, number,
                  seconds, metric: str = "accuracy") -> Attempt:
    """Keep the run (one rename) or only its curve; then its index row."""
    judged = judge(metric, split.val_labels, result.val_proba, keep_above)
    record.update(run_record(dataset, split, config, result, keep_above, judged))
    record["seconds"] = seconds
    return finish_record(workspace, dataset, record, result, number)


def finish_record(workspace, dataset, record, result: "FitResult", number: int,
                  files: dict[str, Any] | None = None) -> Attempt:
    """Write a judged attempt: a kept run's folder, or a discarded one's curve; then its index row."""
    from kaggle_cnn.training.teacher import completed

    completed(record)  # a distilled student: its prediction time beside the ensemble's
    if record["kept"]:
        save_kept_run(workspace, dataset, record, result, files)
    else:  # its learning curve only, so plots can show why it was not kept
        import pandas as pd

        fileio.write_csv(workspace.discarded_history(record["run_id"]), pd.DataFrame(result.history))
        shutil.rmtree(workspace.live_curves(record["run_id"]), ignore_errors=True)
    workspace.append_index(index_row(record))
    timing, scores = record["timing"], record["scores"]
    return Attempt(number, record["run_id"], record["seed"], result.val_accuracy, record["kept"], record["seconds"],
                   timing["mean_epoch_train_seconds"], timing["predict_seconds"], scores["score"], scores["metric"])


def run_record(dataset, split, config, result: "FitResult", keep_above: float,
               judged: dict[str, Any]) -> dict[str, Any]:
    last = result.history[-1] if result.history else {}
    train_seconds = [row["train_seconds"] for row in result.history]
    n_train = len(dataset.y_train) - len(split.val_indices)
    return {
        "kept": judged["kept"],
        "status": "ok",
        "params": result.params,
        "config": {**asdict(config), "keep_above": keep_above, "val_fraction": split.fraction, "split_seed": split.seed},
        "data": {
            "source": dataset.source, "kind": dataset.kind, "fingerprint": split.fingerprint,
            "load_options": dataset.load_options,
            "image_shape": list(dataset.image_shape), "classes": list(dataset.classes),
            "submission_header": list(dataset.submission_header),
            "submission_kind": submission_kind(dataset, judged["metric"]),
            **({"top_k": k} if (k := submission_top_k(dataset, judged["metric"])) else {}),
            "n_train": n_train, "n_val": len(split.val_indices), "n_test": len(dataset.x_test),
            **({"task": dataset.task} if dataset.task != SINGLE_LABEL else {}),  # single-label runs: as before
            # --tabular-columns: the columns joined to the images, their kinds and what was fitted
            **({"tabular": encoding} if (encoding := getattr(dataset.x_train, "encoding", None)) else {}),
            # numeric targets: the training rows' mean and std the network learnt on, and the range of the target
            **({"target": {**result.target_scale, "low": float(dataset.y_train.min()),
                           "high": float(dataset.y_train.max())}} if result.target_scale else {}),
        },
        "scores": {
            "metric": judged["metric"], "score": judged["score"],
            "val_accuracy": result.val_accuracy, "val_loss": result.val_loss,
            "train_accuracy": last.get("accuracy"), "train_loss": last.get("loss"),
        },
        "timing": {
            "epoch_train_seconds": train_seconds,
            "epoch_val_seconds": [row["val_seconds"] for row in result.history],
            "mean_epoch_train_seconds": float(np.mean(train_seconds)) if train_seconds else None,
            "train_images_per_second": n_train / float(np.mean(train_seconds)) if train_seconds else None,
            "predict_seconds": result.predict_seconds,
            "predict_images_per_second": len(dataset.x_test) / max(result.predict_seconds, 1e-9),
        },
        # epochs trained in each phase: {"train": E}, or {"frozen": E1, "fine-tune": E2} for a pretrained base
        "phases": {phase: sum(row["phase"] == phase for row in result.history)
                   for phase in dict.fromkeys(row["phase"] for row in result.history)},
        # --epochs auto: the epoch whose weights were kept, the patience, and the epochs a time budget held
        "epochs_chosen": result.epochs,
        # --time-budget: the seconds this attempt was given, and whether they ended it before its epochs were done
        "time_allowance": result.allowance,
        "device": result.device,  # what it trained on: GPU or CPU, precision, XLA, host, engine
        "versions": library_versions(),
    }


def submission_kind(dataset: "Dataset", metric: str) -> str:
    """What a run's submission holds: the competition's layout, except that a
    two-class label column judged by a probability metric (Histopathologic's sample
    of 0s, graded by ROC AUC) gets the second class's probability: a label would
    throw the ranking the grader scores away."""
    from kaggle_cnn.evaluation.metric_registry import get_metric

    if submission_top_k(dataset, metric):  # map@K, or a sample whose rows hold K labels: the K likeliest
        return "top_k"
    if dataset.submission_kind == "label" and dataset.n_classes == 2 and get_metric(metric).needs_probabilities:
        return "probability"
    return dataset.submission_kind


def submission_top_k(dataset: "Dataset", metric: str) -> int | None:
    """How many labels, likeliest first, a submission row holds: map@K's K, else
    the sample's (its rows hold K space-separated labels), else None (one answer)."""
    from kaggle_cnn.evaluation.metric_registry import get_metric

    if dataset.submission_kind not in ("label", "top_k"):
        return None
    return get_metric(metric).k or dataset.top_k


def save_kept_run(workspace: Workspace, dataset: "Dataset", record: dict, result: "FitResult",
                  files: dict[str, Any] | None = None) -> None:
    """A kept run's folder, renamed into place last. `files`: name -> a FitResult
    (its model) or an array; by default a hold-out run's model and probabilities."""
    import pandas as pd

    from kaggle_cnn.store.submissions import write_predictions

    files = files or {"model.keras": result, "val_proba.npy": result.val_proba, "test_proba.npy": result.test_proba}
    with workspace.new_run_dir(record["run_id"]) as folder:
        for name, content in files.items():
            if name.endswith(".keras"):
                save_model(content, folder / name)
            else:
                np.save(folder / name, content)
        fileio.write_csv(folder / "history.csv", pd.DataFrame(result.history))
        if (curves := workspace.live_curves(record["run_id"])).is_dir():  # --tensorboard: renamed in with the run
            shutil.move(curves, folder / "tensorboard")
        write_predictions(folder / "submission.csv", record["data"]["submission_kind"], dataset.submission_header,
                          dataset.test_ids, dataset.classes, result.test_proba,
                          top_k=record["data"].get("top_k"), grading=run_grading(record["data"]))
        fileio.write_json(folder / "run.json", record)  # last: its presence marks a complete folder
    workspace.publish_submission(workspace.load_run(record["run_id"]))


def run_grading(data: dict) -> dict | None:
    """An ordinal run's grades (its training range), for its submission; None otherwise."""
    if data.get("task") != ORDINAL:
        return None
    return {"low": int(data["target"]["low"]), "high": int(data["target"]["high"])}


def save_model(result: "FitResult", path) -> None:
    if result.model is not None:
        result.model.save(path)
    else:  # trained in a worker process, which sent the saved model back
        path.write_bytes(result.model_bytes)


def library_versions() -> dict[str, str]:
    import platform

    import numpy
    import tensorflow

    import kaggle_cnn
    from kaggle_cnn.backend import load_keras

    keras = load_keras()

    return {
        "kaggle_cnn": kaggle_cnn.__version__,
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
    }
