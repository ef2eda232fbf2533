"""What a notebook user calls: train_many(), vote(), metrics(), score(), predict(),
search(), search_template().

The CLI commands are thin wrappers over these and mirror their names. Training
imports TensorFlow when it runs; vote, metrics and score never do.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from kaggle_cnn import fileio
from kaggle_cnn.errors import InputError
from kaggle_cnn.store import Run, Split, Workspace, index_row
from kaggle_cnn.voting import VoteOutcome, vote  # noqa: F401  (re-exported: the vote lives in voting.py)

if TYPE_CHECKING:
    import pandas as pd

    from kaggle_cnn.data import Dataset
    from kaggle_cnn.training import FitResult, TrainConfig

DEFAULT_VAL_FRACTION = 0.1
SPLIT_SEED = 0  # one fixed split per dataset; recorded, so it can change later without breaking old workspaces


# -- training -------------------------------------------------------------------------


class TrainReporter(Protocol):
    """What train_many tells a progress display (kaggle_cnn.display has the CLI's)."""

    def attempt_started(self, number: int, total: int | None, run_id: str, epochs: int) -> None: ...
    def epoch_ended(self, epoch: int, logs: dict[str, float]) -> None: ...
    def attempt_ended(self, attempt: "Attempt") -> None: ...


class SilentReporter:
    def attempt_started(self, number, total, run_id, epochs):
        pass

    def epoch_ended(self, epoch, logs):
        pass

    def attempt_ended(self, attempt):
        pass


@dataclass(frozen=True)
class Attempt:
    number: int  # 1-based within this call
    run_id: str
    seed: int
    val_accuracy: float
    kept: bool
    seconds: float
    epoch_train_seconds: float  # mean over epochs (seed 004's timing table)
    predict_seconds: float  # the test set


@dataclass
class TrainSummary:
    keep_above: float
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def kept(self) -> list[Attempt]:
        return [a for a in self.attempts if a.kept]

    def accuracy_stats(self) -> dict[str, float]:
        scores = np.array([a.val_accuracy for a in self.attempts])
        return {
            "mean": float(scores.mean()), "std": float(scores.std()), "best": float(scores.max()),
            "epoch_train_seconds": float(np.mean([a.epoch_train_seconds for a in self.attempts])),
            "predict_seconds": float(np.mean([a.predict_seconds for a in self.attempts])),
        }


def attempt_seed(base_seed: int, attempt: int) -> int:
    """Each attempt's own seed: independent streams from (base seed, attempt number)."""
    return int(np.random.SeedSequence([int(base_seed), int(attempt)]).generate_state(1)[0])


def check_train_options(*, repeat: int, until_kept: int | None, max_attempts: int | None, keep_above: float) -> None:
    if not 0.0 <= keep_above <= 1.0:
        raise InputError(f"--keep-above must be an accuracy in [0, 1], got {keep_above}")
    if repeat < 1:
        raise InputError(f"--repeat must be at least 1, got {repeat}")
    if until_kept is not None and until_kept < 1:
        raise InputError(f"--until-kept must be at least 1, got {until_kept}")
    if max_attempts is not None and max_attempts < 1:
        raise InputError(f"--max-attempts must be at least 1, got {max_attempts}")


def plan_split(workspace: Workspace, dataset: "Dataset", val_fraction: float | None) -> tuple[Split, bool]:
    """The workspace's split for this dataset, or a new one (not yet saved).

    Returns (split, is_new). Read-only, so bad options fail before anything is written.
    """
    from kaggle_cnn.data import make_split

    fingerprint = dataset.fingerprint()
    existing = workspace.find_split(fingerprint)
    if existing is not None:
        if val_fraction is not None and not np.isclose(val_fraction, existing.fraction):
            raise InputError(
                f"{workspace.split_path(fingerprint)}: this workspace already scores this dataset on a "
                f"--val-fraction {existing.fraction} split; all runs must share it (use a new workspace to change it)"
            )
        return existing, False
    if dataset.val_rows is not None:  # the data brings its own validation images (an image folder's val/)
        if val_fraction is not None:
            raise InputError(f"{dataset.source}: its val/ folder is the validation set; drop --val-fraction")
        indices = np.asarray(dataset.val_rows, dtype=np.int64)
        fraction = len(indices) / len(dataset.y_train)
    else:
        fraction = DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction
        indices = make_split(dataset.y_train, fraction, SPLIT_SEED)
    split = Split(fingerprint, float(fraction), SPLIT_SEED, indices, dataset.y_train[indices], list(dataset.classes))
    return split, True


def train_many(
    dataset: "Dataset",
    workspace: Workspace,
    config: "TrainConfig",
    *,
    repeat: int = 1,
    until_kept: int | None = None,
    max_attempts: int | None = None,
    keep_above: float = 0.0,
    seed: int = 0,
    val_fraction: float | None = None,
    reporter: TrainReporter | None = None,
) -> TrainSummary:
    """Train `config.model` again and again; keep the runs scoring >= keep_above.

    `repeat` attempts, or with `until_kept` K: attempts until K are kept, at most
    `max_attempts` (default 10 x K). Kept runs land in the workspace as they finish,
    so stopping the command (or a kill -9) loses only the attempt in flight.
    """
    check_train_options(repeat=repeat, until_kept=until_kept, max_attempts=max_attempts, keep_above=keep_above)
    reporter = reporter or SilentReporter()
    total = repeat if until_kept is None else None
    cap = repeat if until_kept is None else (max_attempts or 10 * until_kept)
    summary = TrainSummary(keep_above)
    with _training_session(workspace, dataset, config, val_fraction) as (split, arrays):
        first_attempt = workspace.next_attempt(config.model, seed)
        while len(summary.attempts) < cap and (until_kept is None or len(summary.kept) < until_kept):
            number = len(summary.attempts) + 1
            attempt_number = first_attempt + number - 1
            attempt = _run_attempt(
                dataset, workspace, config, split, arrays, number=number, attempt=attempt_number,
                base_seed=seed, run_id=f"{config.model}-s{seed}-a{attempt_number:03d}",
                run_seed=attempt_seed(seed, attempt_number), keep_above=keep_above, total=total, reporter=reporter,
            )
            summary.attempts.append(attempt)
            reporter.attempt_ended(attempt)
    return summary


def train_trial(dataset: "Dataset", workspace: Workspace, config: "TrainConfig", *, run_id: str, trial: int,
                base_seed: int, keep_above: float = 0.0, val_fraction: float | None = None,
                reporter: TrainReporter | None = None) -> Attempt:
    """One attempt with a given id and seed: a search trial, stored like any run."""
    with _training_session(workspace, dataset, config, val_fraction) as (split, arrays):
        return _run_attempt(dataset, workspace, config, split, arrays, number=trial + 1, attempt=trial,
                            base_seed=base_seed, run_id=run_id, run_seed=attempt_seed(base_seed, trial),
                            keep_above=keep_above, total=None, reporter=reporter or SilentReporter())


@contextlib.contextmanager
def _training_session(workspace: Workspace, dataset: "Dataset", config: "TrainConfig", val_fraction: float | None):
    """Check everything, then hold the workspace: yields (split, training arrays)."""
    check_config(config, dataset.image_shape, dataset.n_classes)  # everything fails here, before anything is written
    split, new_split = plan_split(workspace, dataset, val_fraction)
    with workspace.lock():
        workspace.repair()
        if new_split:
            workspace.save_split(split)
        yield split, _split_arrays(dataset, split)


def check_config(config: "TrainConfig", image_shape, n_classes: int) -> None:
    """Refuse a config that cannot train on this data: unknown names, options the
    architecture cannot build with, fine-tuning without a pretrained base."""
    from kaggle_cnn.architectures import check, get
    from kaggle_cnn.architectures.backbones import parse_weights
    from kaggle_cnn.config import OPTIMIZERS

    architecture = get(config.model)
    if config.optimizer not in OPTIMIZERS:
        raise InputError(f"optimizer {config.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
    if config.augment:
        from kaggle_cnn.augment import parse_augment

        parse_augment(config.augment)
    if config.fine_tune_epochs < 0 or (config.unfreeze is not None and config.unfreeze < 1):
        raise InputError("--fine-tune-epochs must be at least 0 and --unfreeze at least 1")
    if config.unfreeze is not None and not config.fine_tune_epochs:
        raise InputError("--unfreeze only applies with --fine-tune-epochs")
    if config.fine_tune_epochs:
        if not architecture.pretrained:
            raise InputError(f"--fine-tune-epochs: {config.model} has no pretrained base to fine-tune "
                             f"(pretrained backbones: {', '.join(pretrained_models())})")
        if parse_weights(config.model_options.get("weights", "imagenet")) is None:
            raise InputError(f"--fine-tune-epochs: {config.model} --weights none trains the whole network from the "
                             "start; fine-tuning needs --weights imagenet or a weights file")
    check(config.model, image_shape, n_classes, **config.model_options)


def pretrained_models() -> list[str]:
    from kaggle_cnn.architectures import get, names

    return [name for name in names() if get(name).pretrained]


def _split_arrays(dataset: "Dataset", split: Split) -> dict[str, np.ndarray]:
    train_rows = split.train_indices(len(dataset.y_train))
    return {
        "x_train": dataset.x_train[train_rows],
        "y_train": dataset.y_train[train_rows],
        "x_val": dataset.x_train[split.val_indices],
        "y_val": split.val_labels,
    }


def _run_attempt(dataset, workspace, config, split, arrays, *, number, attempt, base_seed, run_id, run_seed,
                 keep_above, total, reporter) -> Attempt:
    from kaggle_cnn.training import fit_one

    reporter.attempt_started(number, total, run_id, config.epochs + config.fine_tune_epochs)
    record = _new_record(config, run_id, base_seed, attempt, run_seed, keep_above)
    clock = time.perf_counter()
    try:
        result = fit_one(config, run_seed, n_classes=dataset.n_classes, x_test=dataset.x_test,
                         on_epoch=reporter.epoch_ended, **arrays)
    except Exception as error:
        # Recorded, then raised: a failure that repeats on every attempt (a bug, a
        # model too big for memory) must not burn a night of attempts silently.
        _record_failure(workspace, record, split, f"{type(error).__name__}: {error}", time.perf_counter() - clock)
        raise
    return _store_attempt(workspace, dataset, split, config, record, result, keep_above, number,
                          time.perf_counter() - clock)


def _new_record(config, run_id, base_seed, attempt, run_seed, keep_above) -> dict[str, Any]:
    return {"run_id": run_id, "model": config.model, "base_seed": base_seed, "attempt": attempt, "seed": run_seed,
            "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "config": {**asdict(config), "keep_above": keep_above}}


def _record_failure(workspace: Workspace, record: dict, split: Split, message: str, seconds: float) -> None:
    failed = {**record, "kept": False, "status": "failed", "message": message[:300], "seconds": seconds,
              "scores": {"val_accuracy": float("nan")}, "data": {"fingerprint": split.fingerprint}}
    workspace.append_index(index_row(failed))


def _store_attempt(workspace, dataset, split, config, record, result: "FitResult", keep_above, number,
                   seconds) -> Attempt:
    """Keep the run (one rename) or only its curve; then its index row."""
    record.update(_run_record(dataset, split, config, result, keep_above))
    record["seconds"] = seconds
    if record["kept"]:
        _save_kept_run(workspace, dataset, record, result)
    else:  # its learning curve only, so plots can show why it was not kept
        import pandas as pd

        fileio.write_csv(workspace.discarded_history(record["run_id"]), pd.DataFrame(result.history))
    workspace.append_index(index_row(record))
    timing = record["timing"]
    return Attempt(number, record["run_id"], record["seed"], result.val_accuracy, record["kept"], seconds,
                   timing["mean_epoch_train_seconds"], timing["predict_seconds"])


def _run_record(dataset, split, config, result: "FitResult", keep_above: float) -> dict[str, Any]:
    from kaggle_cnn.training import library_versions

    last = result.history[-1] if result.history else {}
    train_seconds = [row["train_seconds"] for row in result.history]
    n_train = len(dataset.y_train) - len(split.val_indices)
    return {
        "kept": bool(result.val_accuracy >= keep_above),
        "status": "ok",
        "params": result.params,
        "config": {**asdict(config), "keep_above": keep_above, "val_fraction": split.fraction, "split_seed": split.seed},
        "data": {
            "source": dataset.source, "kind": dataset.kind, "fingerprint": split.fingerprint,
            "load_options": dataset.load_options,
            "image_shape": list(dataset.image_shape), "classes": list(dataset.classes),
            "submission_header": list(dataset.submission_header),
            "n_train": n_train, "n_val": len(split.val_indices), "n_test": len(dataset.x_test),
        },
        "scores": {
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
        "versions": library_versions(),
    }


def _save_kept_run(workspace: Workspace, dataset: "Dataset", record: dict, result: "FitResult") -> None:
    import pandas as pd

    from kaggle_cnn.submission import write_submission

    with workspace.new_run_dir(record["run_id"]) as folder:
        if result.model is not None:
            result.model.save(folder / "model.keras")
        else:  # trained in a worker process, which saved it
            shutil.move(result.model_path, folder / "model.keras")
        np.save(folder / "val_proba.npy", result.val_proba)
        np.save(folder / "test_proba.npy", result.test_proba)
        pd.DataFrame(result.history).to_csv(folder / "history.csv", index=False)
        labels = [dataset.classes[i] for i in result.test_proba.argmax(axis=1)]
        write_submission(folder / "submission.csv", dataset.submission_header, dataset.test_ids, labels)
        fileio.write_json(folder / "run.json", record)  # last: its presence marks a complete folder
    workspace.publish_submission(workspace.load_run(record["run_id"]))


# -- metrics --------------------------------------------------------------------------


@dataclass
class MetricsReport:
    tables: dict[str, "pd.DataFrame"]  # source -> per-class table
    confusions: dict[str, "pd.DataFrame"]
    summary: "pd.DataFrame"  # one row per source: accuracy, macro and weighted F1
    csv_path: Path


ENSEMBLE_PREFIX = "ensemble/"


def metrics(workspace: Workspace, sources: list[str] | None = None) -> MetricsReport:
    """Per-class precision, recall, F1 and support on the shared validation split,
    for kept runs and vote outputs (named `ensemble/<name>`); default all of them.
    Writes reports/metrics.csv and reports/confusion/<source>.csv."""
    import pandas as pd

    from kaggle_cnn.metrics import classification_table, confusion_table

    tables, confusions, summary = {}, {}, []
    for source, y_true, y_pred, classes, accuracy_cv in _prediction_sources(workspace, sources):
        table = classification_table(y_true, y_pred, classes)
        tables[source] = table
        confusions[source] = confusion_table(y_true, y_pred, classes)
        by_class = table.set_index("class")
        summary.append({"source": source, "accuracy": by_class.loc["accuracy", "f1"],
                        "macro_f1": by_class.loc["macro avg", "f1"], "weighted_f1": by_class.loc["weighted avg", "f1"],
                        "accuracy_cv": accuracy_cv, "rows": int(len(y_true))})
    long = pd.concat([t.assign(source=s)[["source", *t.columns]] for s, t in tables.items()], ignore_index=True)
    csv_path = workspace.reports_dir / "metrics.csv"
    fileio.write_csv(csv_path, long)
    for source, matrix in confusions.items():
        fileio.write_csv(workspace.reports_dir / "confusion" / f"{source.replace('/', '-')}.csv", matrix, index=True)
    return MetricsReport(tables, confusions, pd.DataFrame(summary), csv_path)


def _prediction_sources(workspace: Workspace, sources: list[str] | None):
    """(source, y_true, y_pred, classes, cross-validated accuracy or None) per run or vote."""
    if sources:
        run_ids = [s for s in sources if not s.startswith(ENSEMBLE_PREFIX)]
        ensembles = [s[len(ENSEMBLE_PREFIX):] for s in sources if s.startswith(ENSEMBLE_PREFIX)]
        for name in ensembles:
            if not (workspace.ensemble_dir / f"{name}.json").exists():
                raise InputError(f"no vote output {name!r} in {workspace.ensemble_dir}")
    else:
        run_ids = workspace.run_ids()
        ensembles = sorted(p.stem for p in workspace.ensemble_dir.glob("*.json")) if workspace.ensemble_dir.is_dir() else []
    runs = [workspace.load_run(run_id) for run_id in run_ids]  # unknown ids fail before any output
    if not runs and not ensembles:
        raise InputError(f"no kept runs in {workspace.models_dir}: run `kcnn train` first")
    found = []
    for run in runs:
        split = _split_of(workspace, run.fingerprint, run.run_id)
        found.append((run.run_id, split.val_labels, run.val_proba().argmax(axis=1), run.classes, None))
    for name in ensembles:
        sidecar = fileio.read_json(workspace.ensemble_dir / f"{name}.json")
        if not sidecar.get("val_predictions"):
            if sources:
                raise InputError(f"{workspace.ensemble_dir / (name + '.json')}: no validation predictions ({sidecar.get('val_note')})")
            continue
        split = _split_of(workspace, sidecar["fingerprint"], name)
        classes = sidecar["classes"]
        position = {label: i for i, label in enumerate(classes)}
        truth = np.array([position[str(split.classes[i])] for i in split.val_labels])
        predicted = np.array([position[label] for label in sidecar["val_predictions"]])
        # A vote's weights were chosen on these rows: its cross-validated accuracy goes beside.
        found.append((ENSEMBLE_PREFIX + name, truth, predicted, classes, sidecar.get("val_accuracy_cv")))
    return found


def _split_of(workspace: Workspace, fingerprint: str, owner: str) -> Split:
    split = workspace.find_split(fingerprint)
    if split is None:
        raise InputError(f"{workspace.split_path(fingerprint)}: the validation split of {owner} is missing")
    return split


# -- local scoring --------------------------------------------------------------------


def score(submission: str | Path, answers: str | Path) -> dict[str, Any]:
    """Accuracy of a submission CSV against an answers CSV (same two columns):
    the local leaderboard for the demo competition, or any hold-out you keep."""
    from kaggle_cnn.submission import read_member

    predicted = read_member(submission)
    truth_ids, truth_labels = _answers(answers)
    by_id = dict(zip(truth_ids, truth_labels))
    missing = [i for i in predicted.ids if i not in by_id]
    if missing or len(predicted.ids) != len(truth_ids):
        example = missing[0] if missing else next(i for i in truth_ids if i not in set(predicted.ids))
        raise InputError(f"{submission}: ids differ from {answers} (e.g. {example!r})")
    expected = np.array([by_id[i] for i in predicted.ids])
    return {"submission": str(submission), "answers": str(answers), "rows": len(expected),
            "accuracy": float(np.mean(expected == predicted.labels))}


def _answers(answers: str | Path) -> tuple[list, list]:
    """(ids, labels) from an answers CSV, or from an image folder's labelled test images."""
    if Path(answers).is_dir():
        from kaggle_cnn.data.folders import folder_answers

        found = folder_answers(answers)
        if found is None:
            raise InputError(f"{answers}: its test images are not labelled (no test/<class>/ folders)")
        return found
    from kaggle_cnn.submission import read_member

    truth = read_member(answers)
    return list(truth.ids), list(truth.labels)


# -- test-time augmentation ----------------------------------------------------------


def predict(workspace: Workspace, run_ids: list[str] | None = None, *, tta: str,
            data_path: str | Path | None = None) -> list[dict[str, Any]]:
    """Recompute kept runs' validation and test probabilities averaged over
    augmented copies; store them beside the plain ones (*_proba_tta.npy) and
    record in run.json what TTA did to validation accuracy.

    Each run's data is loaded again from where it was trained (or `data_path`),
    and must have the same fingerprint."""
    from kaggle_cnn.tta import parse_tta

    transforms = parse_tta(tta)
    runs = [workspace.load_run(r) for r in run_ids] if run_ids else workspace.runs()
    if not runs:
        raise InputError(f"no kept runs in {workspace.models_dir}: run `kcnn train` first")
    datasets: dict[str, Any] = {}
    for run in runs:  # load every dataset before the first slow prediction
        if run.fingerprint not in datasets:
            datasets[run.fingerprint] = reload_dataset(run, data_path)
    with workspace.lock():
        return [_predict_run(workspace, run, datasets[run.fingerprint], transforms, tta) for run in runs]


def reload_dataset(run: Run, data_path: str | Path | None = None) -> "Dataset":
    """The data a run was trained on, loaded again from where it was (or `data_path`)."""
    from kaggle_cnn.data import load_dataset

    options = dict(run.record["data"].get("load_options") or {})
    path = data_path if data_path is not None else options.pop("path", None)
    options.pop("path", None)
    if options.get("image_shape"):
        options["image_shape"] = tuple(options["image_shape"])
    dataset = load_dataset(path, **options)
    if dataset.fingerprint() != run.fingerprint:
        raise InputError(
            f"{path or 'the demo'}: not the data run {run.run_id} was trained on "
            f"(fingerprint {dataset.fingerprint()} != {run.fingerprint}); pass --data with the original"
        )
    return dataset


def _predict_run(workspace: Workspace, run: Run, dataset: "Dataset", transforms, spec_text: str) -> dict[str, Any]:
    from kaggle_cnn.architectures import load_model
    from kaggle_cnn.tta import predict_tta

    split = workspace.find_split(run.fingerprint)
    model = load_model(run.path / "model.keras")
    batch_size = int(run.record["config"].get("batch_size", 128))
    val_proba = predict_tta(model, dataset.x_train[split.val_indices], transforms, batch_size)
    test_proba = predict_tta(model, dataset.x_test, transforms, batch_size)
    plain = float(np.mean(run.val_proba().argmax(axis=1) == split.val_labels))
    augmented = float(np.mean(val_proba.argmax(axis=1) == split.val_labels))
    for name, array in (("val_proba_tta.npy", val_proba), ("test_proba_tta.npy", test_proba)):
        with fileio.atomic_path(run.path / name) as tmp:
            np.save(tmp, array)
    record = {**run.record, "tta": {"transforms": spec_text, "val_accuracy": augmented, "val_accuracy_plain": plain}}
    fileio.write_json(run.path / "run.json", record)
    return {"run_id": run.run_id, "transforms": spec_text, "val_accuracy_plain": plain, "val_accuracy_tta": augmented}


# -- hyperparameter search ------------------------------------------------------------


def search(
    dataset: "Dataset",
    workspace: Workspace,
    space_path: str | Path,
    *,
    model: str | None = None,
    algo: str = "tpe",
    max_evals: int = 20,
    epochs: int | None = None,
    keep_above: float = 0.0,
    study: str | None = None,
    seed: int = 0,
    val_fraction: float | None = None,
    reporter: TrainReporter | None = None,
    on_trial=None,
    jobs: int = 1,
):
    """Search `space_path` with hyperopt (tpe, rand) or over its grid; every trial is
    a run of the workspace. Re-running the same study continues it. With `jobs` > 1
    that many trials train at once in worker processes."""
    from dataclasses import replace

    from kaggle_cnn.search import space as spaces
    from kaggle_cnn.search import study as studies

    if max_evals < 1:
        raise InputError(f"--max-evals must be at least 1, got {max_evals}")
    check_train_options(repeat=1, until_kept=None, max_attempts=None, keep_above=keep_above)
    space = spaces.load_space(space_path, model)
    if epochs is not None:
        space = replace(space, fixed={**space.fixed, "epochs": epochs})
    name = study or Path(space_path).stem
    state = studies.open_study(workspace, name, space, algo, seed)
    if algo == "grid":
        spaces.grid(space)  # a continuous range fails here, before anything is written
    plan_split(workspace, dataset, val_fraction)  # likewise a split that does not fit

    def evaluate(batch):
        if jobs == 1:
            return [_search_trial(dataset, workspace, chosen, run_id, number, seed, keep_above, val_fraction, reporter)
                    for number, run_id, chosen in batch]
        return _parallel_trials(dataset, workspace, batch, seed, keep_above, val_fraction, jobs)

    return studies.run(state, max_evals, evaluate, lambda n: f"{space.model}-{name}-t{n:03d}", on_trial, jobs)


def _finished_trial(workspace: Workspace, run_id: str, number: int):
    """A trial whose run was stored just before a kill: its result, not a retraining."""
    from kaggle_cnn.search.study import Trial

    done = workspace.read_index()
    done = done[done["run_id"] == run_id] if not done.empty else done
    if len(done) and done["status"].iloc[-1] == "ok":
        row = done.iloc[-1]
        return Trial(number, run_id, {}, "ok", float(row["val_accuracy"]), float(row["seconds"]),
                     str(row["kept"]) == "True")
    return None


def _search_trial(dataset, workspace, chosen, run_id, number, seed, keep_above, val_fraction, reporter):
    from kaggle_cnn.search.study import Trial
    from kaggle_cnn.training import TrainConfig

    finished = _finished_trial(workspace, run_id, number)
    if finished is not None:
        return finished
    try:
        attempt = train_trial(dataset, workspace, TrainConfig.from_settings(chosen), run_id=run_id, trial=number,
                              base_seed=seed, keep_above=keep_above, val_fraction=val_fraction, reporter=reporter)
    except InputError:
        raise
    except Exception as error:  # recorded as failed in the index by the run itself; the search goes on
        return Trial(number, run_id, {}, "failed", message=f"{type(error).__name__}: {error}"[:300])
    return Trial(number, run_id, {}, "ok", attempt.val_accuracy, attempt.seconds, attempt.kept)


def _parallel_trials(dataset, workspace, batch, seed, keep_above, val_fraction, jobs):
    """Train a batch of trials in `jobs` worker processes (joblib); store them here,
    one at a time, so the workspace has a single writer."""
    import os

    from joblib import Parallel, delayed

    from kaggle_cnn.search.study import Trial
    from kaggle_cnn.training import TrainConfig, fit_in_worker

    results: dict[int, Any] = {}
    todo = []
    for number, run_id, chosen in batch:
        finished = _finished_trial(workspace, run_id, number)
        if finished is not None:
            results[number] = finished
        else:
            todo.append((number, run_id, TrainConfig.from_settings(chosen)))
    if not todo:
        return [results[number] for number, _, _ in batch]
    with _training_session(workspace, dataset, todo[0][2], val_fraction) as (split, arrays):
        threads = max(1, (os.cpu_count() or 1) // len(todo))
        paths = [str(workspace.models_dir / f".tmp-{run_id}.keras") for _, run_id, _ in todo]
        outputs = Parallel(n_jobs=min(jobs, len(todo)), backend="loky")(
            delayed(fit_in_worker)(config, attempt_seed(seed, number), arrays, dataset.x_test, dataset.n_classes,
                                   path, threads)
            for (number, _, config), path in zip(todo, paths)
        )
        for (number, run_id, config), output in zip(todo, outputs):
            record = _new_record(config, run_id, seed, number, attempt_seed(seed, number), keep_above)
            if isinstance(output, str):  # the worker's error message
                _record_failure(workspace, record, split, output, 0.0)
                results[number] = Trial(number, run_id, {}, "failed", message=output[:300])
                continue
            attempt = _store_attempt(workspace, dataset, split, config, record, output, keep_above, number + 1,
                                     output.worker_seconds)
            results[number] = Trial(number, run_id, {}, "ok", attempt.val_accuracy, attempt.seconds, attempt.kept)
        for path in paths:  # models of discarded trials
            if os.path.exists(path):
                os.remove(path)
    return [results[number] for number, _, _ in batch]


def search_template(
    workspace: Workspace,
    template_path: str | Path,
    *,
    algo: str = "tpe",
    max_evals: int = 20,
    keep_above: float = 0.0,
    study: str | None = None,
    seed: int = 0,
    on_trial=None,
):
    """Search a hyperas-style template (its own data() and create_model()).

    Every trial gets its index row; a kept trial (accuracy = -loss at or above
    keep_above, when the loss is a negated accuracy as in hyperas) keeps its model
    in the study's folder. Template trials predict no competition test set, so
    they do not join the vote."""
    from kaggle_cnn.search import study as studies
    from kaggle_cnn.search.template import load_template

    if max_evals < 1:
        raise InputError(f"--max-evals must be at least 1, got {max_evals}")
    check_train_options(repeat=1, until_kept=None, max_attempts=None, keep_above=keep_above)
    template = load_template(template_path)
    name = study or Path(template_path).stem
    state = studies.open_study(workspace, name, template.space, algo, seed)
    if algo == "grid":
        from kaggle_cnn.search.space import grid

        grid(template.space)
    data = template.data()

    def evaluate(batch):
        return [_template_trial(workspace, template, state, {k: v for k, v in chosen.items() if k != "model"},
                                data, run_id, number, seed, keep_above) for number, run_id, chosen in batch]

    return studies.run(state, max_evals, evaluate, lambda n: f"{template.path.stem}-{name}-t{n:03d}", on_trial)


def _template_trial(workspace, template, state, params, data, run_id, number, seed, keep_above):
    import shutil

    from kaggle_cnn.backend import load_keras
    from kaggle_cnn.search.study import Trial

    keras = load_keras()
    keras.backend.clear_session()
    keras.utils.set_random_seed(attempt_seed(seed, number))
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    clock = time.perf_counter()
    record = {"run_id": run_id, "model": template.space.model, "base_seed": seed, "attempt": number,
              "seed": attempt_seed(seed, number), "started": started, "config": {"epochs": ""},
              "data": {"fingerprint": ""}, "params": params}
    try:
        result = template.evaluate(params, data)
        failed = str(result.get("status", "ok")) != "ok"
        message = str(result.get("error", "create_model returned status fail")) if failed else ""
    except InputError:
        raise
    except Exception as error:
        result, failed, message = {}, True, f"{type(error).__name__}: {error}"[:300]
    seconds = time.perf_counter() - clock
    loss = float(result["loss"]) if not failed else None
    accuracy = -loss if loss is not None and -1.0 <= loss <= 0.0 else None
    kept = accuracy is not None and accuracy >= keep_above and result.get("model") is not None
    record.update(kept=kept, status="failed" if failed else "ok", message=message, seconds=seconds,
                  scores={"val_accuracy": accuracy if accuracy is not None else float("nan"), "loss": loss})
    if kept:  # keras-tuner style: the trial's own folder in the study
        folder = state.folder / "trials" / run_id
        tmp = folder.with_name(f".tmp-{run_id}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        result["model"].save(tmp / "model.keras")
        fileio.write_json(tmp / "trial.json", record)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    workspace.append_index(index_row(record))
    return Trial(number, run_id, params, "failed" if failed else "ok", accuracy, seconds, kept, message, loss)
