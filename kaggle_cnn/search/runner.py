"""Running a search: every trial of a --space study is a training run of the
workspace (kcnn search --space), or a trial of a hyperas-style template that
builds and fits its own model (kcnn search --template). The loop and its state
on disk are in study.py; the spaces in space.py and template.py.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kaggle_cnn import fileio
from kaggle_cnn.config import TrainConfig
from kaggle_cnn.errors import InputError, one_line
from kaggle_cnn.search import space as spaces
from kaggle_cnn.search import study as studies
from kaggle_cnn.search.study import Trial
from kaggle_cnn.store.run import index_row
from kaggle_cnn.store.workspace import Workspace
from kaggle_cnn.training.engines import Execution
from kaggle_cnn.training.options import attempt_seed, check_train_options, plan_split
from kaggle_cnn.training.records import new_record, record_failure
from kaggle_cnn.training.runs import (
    SilentReporter,
    TrainReporter,
    TrainSummary,
    fresh_task,
    opened,
    run_attempts,
    train_trial,
    training_session,
)
from kaggle_cnn.training.settings import save_config
from kaggle_cnn.training.workers import Failure

if TYPE_CHECKING:
    from kaggle_cnn.data import Dataset


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
    tensorboard: bool = False,
):
    """Search `space_path` with hyperopt (tpe, rand) or over its grid; every trial is
    a run of the workspace. Re-running the same study continues it. With `jobs` > 1
    that many trials train at once in worker processes; `tensorboard` writes each
    trial's curves as it trains, as `kcnn train --tensorboard` does."""
    if max_evals < 1:
        raise InputError(f"--max-evals must be at least 1, got {max_evals}")
    check_train_options(repeat=1, until_kept=None, max_attempts=None, keep_above=keep_above, seed=seed,
                        val_fraction=val_fraction)
    space = spaces.load_space(space_path, model)
    if epochs is not None:
        space = replace(space, fixed={**space.fixed, "epochs": epochs})
    name = studies.study_name(study, space_path)
    state = studies.open_study(workspace, name, space, algo, seed, data=dataset)
    if algo == "grid":
        spaces.grid(space)  # a continuous range fails here, before anything is written
    plan_split(workspace, dataset, val_fraction)  # likewise a split that does not fit

    def evaluate(batch):
        if jobs == 1:
            return [_search_trial(dataset, workspace, chosen, run_id, number, seed, keep_above, val_fraction, reporter,
                                  tensorboard) for number, run_id, chosen in batch]
        return _parallel_trials(dataset, workspace, batch, seed, keep_above, val_fraction, jobs, tensorboard)

    return studies.run(state, max_evals, evaluate, lambda n: f"{space.model}-{name}-t{n:03d}", on_trial, jobs)


def _finished_trial(workspace: Workspace, run_id: str, number: int):
    """A trial whose run was stored just before a kill: its result, not a retraining."""
    done = workspace.read_index()
    done = done[done["run_id"] == run_id] if not done.empty else done
    if len(done) and done["status"].iloc[-1] == "ok":
        row = done.iloc[-1]
        return Trial(number, run_id, {}, "ok", float(row["val_accuracy"]), float(row["seconds"]),
                     str(row["kept"]) == "True")
    return None


def _unbuildable(dataset, workspace: Workspace, chosen: dict, run_id: str, number: int, seed: int,
                 keep_above: float) -> Trial | None:
    """A trial whose sampled settings cannot train on these images (say more
    poolings than 28x28 allows): recorded as failed without training, so the search
    goes on. None when it can train."""
    from kaggle_cnn.training.checks import check_config

    try:
        check_config(TrainConfig.from_settings(chosen, run_id), dataset.image_shape, dataset.n_classes, run_id)
        return None
    except InputError as error:
        message = str(error)
    record = new_record(chosen, run_id, seed, number, attempt_seed(seed, number), keep_above)
    with workspace.lock():
        record_failure(workspace, record, dataset.fingerprint(), message, 0.0)
    return Trial(number, run_id, {}, "failed", message=message[:300])


def _search_trial(dataset, workspace, chosen, run_id, number, seed, keep_above, val_fraction, reporter, tensorboard):
    finished = _finished_trial(workspace, run_id, number) or _unbuildable(dataset, workspace, chosen, run_id, number,
                                                                           seed, keep_above)
    if finished is not None:
        return finished
    try:
        attempt = train_trial(dataset, workspace, TrainConfig.from_settings(chosen, run_id), run_id=run_id, trial=number,
                              base_seed=seed, keep_above=keep_above, val_fraction=val_fraction, reporter=reporter,
                              tensorboard=tensorboard)
    except InputError:
        raise
    except Exception as error:  # recorded as failed in the index by the run itself; the search goes on
        return Trial(number, run_id, {}, "failed", message=f"{type(error).__name__}: {error}"[:300])
    return Trial(number, run_id, {}, "ok", attempt.val_accuracy, attempt.seconds, attempt.kept)


def _parallel_trials(dataset, workspace, batch, seed, keep_above, val_fraction, jobs, tensorboard):
    """Train a batch of trials on `jobs` local workers (the engine `kcnn train --jobs`
    uses); they are stored here, in trial order, so the workspace has a single writer."""
    results: dict[int, Any] = {}
    todo = []
    for number, run_id, chosen in batch:
        finished = _finished_trial(workspace, run_id, number) or _unbuildable(dataset, workspace, chosen, run_id,
                                                                               number, seed, keep_above)
        if finished is not None:
            results[number] = finished
        else:
            config = TrainConfig.from_settings(chosen, run_id)
            todo.append((number, fresh_task(workspace, dataset, config, attempt_seed(seed, number), run_id,
                                            tensorboard)))
    if todo:
        with opened(Execution(jobs=min(jobs, len(todo)))) as engine, \
                training_session(workspace, dataset, todo[0][1].config, val_fraction) as (split, arrays):
            stored = run_attempts(dataset, workspace, split, arrays, todo, base_seed=seed, keep_above=keep_above,
                                  engine=engine, reporter=SilentReporter(), summary=TrainSummary(keep_above),
                                  stop_on_failure=False)
        for (number, task), attempt in zip(todo, stored):
            results[number] = Trial(number, task.run_id, {}, "failed", message=attempt[:300]) \
                if isinstance(attempt, Failure) else \
                Trial(number, task.run_id, {}, "ok", attempt.val_accuracy, attempt.seconds, attempt.kept)
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
    from kaggle_cnn.search.template import load_template

    if max_evals < 1:
        raise InputError(f"--max-evals must be at least 1, got {max_evals}")
    check_train_options(repeat=1, until_kept=None, max_attempts=None, keep_above=keep_above, seed=seed)
    name = studies.study_name(study, template_path)
    template = load_template(template_path)
    state = studies.open_study(workspace, name, template.space, algo, seed)
    if algo == "grid":
        spaces.grid(template.space)
    data = template.data()

    def evaluate(batch):
        return [_template_trial(workspace, template, state, {k: v for k, v in chosen.items() if k != "model"},
                                data, run_id, number, seed, keep_above) for number, run_id, chosen in batch]

    return studies.run(state, max_evals, evaluate, lambda n: f"{template.path.stem}-{name}-t{n:03d}", on_trial)


def _template_trial(workspace, template, state, params, data, run_id, number, seed, keep_above):
    from kaggle_cnn.backend import load_keras

    keras = load_keras()
    keras.backend.clear_session()
    keras.utils.set_random_seed(attempt_seed(seed, number))
    record = new_record({"model": template.space.model, "epochs": ""}, run_id, seed, number,
                        attempt_seed(seed, number), keep_above)
    record.update(data={"fingerprint": ""}, params=params)
    clock = time.perf_counter()
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
        with fileio.atomic_folder(folder) as tmp:
            result["model"].save(tmp / "model.keras")
            fileio.write_json(tmp / "trial.json", record)
            shutil.rmtree(folder, ignore_errors=True)  # kept before: a rename cannot replace a full folder
    workspace.append_index(index_row(record))
    return Trial(number, run_id, params, "failed" if failed else "ok", accuracy, seconds, kept, message, loss)


@dataclass
class StudyBoard:
    name: str
    leaderboard: Any  # pandas.DataFrame, best first
    csv_path: Path  # the leaderboard, written beside the study
    template: bool  # a template study's loss is its own, not minus an accuracy
    exported: Path | None = None  # the best trial as a `kcnn train --config` file


def study(workspace: Workspace, name: str, *, export: str | Path | None = None) -> StudyBoard:
    """A saved study's leaderboard (also written as leaderboard.csv in its folder),
    and with `export` its best trial as a config for `kcnn train --config`."""
    state = studies.load_saved(workspace, name)
    exported = _export(Path(export), studies.best_config(state)) if export is not None else None
    board = studies.leaderboard(state)
    csv_path = studies.study_dir(workspace, name) / "leaderboard.csv"
    fileio.write_csv(csv_path, board)
    template = str(state["fixed"].get("model", "")).startswith("template:")
    return StudyBoard(name, board, csv_path, template, exported)


def _export(path: Path, config: dict[str, Any]) -> Path:
    fileio.check_file_target(path, "--export")
    try:
        return save_config(path, config)
    except OSError as error:
        raise InputError(f"--export {path}: cannot write ({one_line(error.strerror or error, 80)})") from None
