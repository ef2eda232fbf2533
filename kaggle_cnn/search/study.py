"""A study: the search loop, its state on disk, its leaderboard.

    models/studies/<name>/study.json   what is searched (model, algo, space, seed)
                                       and one entry per finished trial, with the
                                       values hyperopt sampled for it

Each trial is an ordinary run of the workspace (`<model>-<study>-t<k>`), kept in
models/ when it clears --keep-above, so a search's good trials can join the vote.
The loop asks hyperopt for a point, trains it, tells hyperopt the result, and saves
study.json atomically, so a kill -9 loses at most the trial in flight; running the
same command again rebuilds hyperopt's history from study.json and continues where
it stopped. The state is plain JSON: resuming a study never unpickles anything. A
trial that crashes is recorded as failed with its message, and the search goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kaggle_cnn import fileio
from kaggle_cnn.errors import InputError, one_line, warn
from kaggle_cnn.search.choices import ALGOS
from kaggle_cnn.search.space import SearchSpace, grid, settings, to_hyperopt
from kaggle_cnn.store.files import is_plain_name
from kaggle_cnn.store.workspace import Workspace
from kaggle_cnn.training.options import attempt_seed

if TYPE_CHECKING:
    from kaggle_cnn.data import Dataset

NAME_LIMIT = 100
NAME_RULE = f"letters, digits, '_', '-' or '.', not starting with '.', at most {NAME_LIMIT} characters"


@dataclass
class Trial:
    number: int
    run_id: str
    params: dict[str, Any]  # the searched values (flattened settings that vary)
    status: str  # ok | failed
    val_accuracy: float | None = None
    seconds: float | None = None
    kept: bool = False
    message: str = ""
    loss: float | None = None  # what the search minimises: -val_accuracy, or a template's own loss
    # hyperopt's sampled values (tpe, rand): label -> [value], or [] where the label was
    # not drawn; a choice's value is its index. Resuming rebuilds hyperopt's history from these.
    sampled: dict[str, list] | None = None

    def objective(self) -> float:
        return self.loss if self.loss is not None else -self.val_accuracy


@dataclass
class Study:
    name: str
    folder: Path
    algo: str
    seed: int
    space: SearchSpace
    space_digest: str
    trials: list[Trial] = field(default_factory=list)
    data_fingerprint: str | None = None  # the data every trial trains on (a template brings its own: None)
    data_source: str | None = None


def study_dir(workspace: Workspace, name: str) -> Path:
    _check_given(name)
    return workspace.models_dir / "studies" / name


def study_name(given: str | None, path: str | Path) -> str:
    """--study, else the space or template file's name; either becomes a folder under
    models/studies/, so it must be a plain name."""
    if given is not None:
        _check_given(given)
        return given
    name = Path(path).stem
    if not _plain(name):
        raise InputError(f"{path}: the file's name {_shown(name)} cannot name a study "
                         f"(a study name is {NAME_RULE}); give --study NAME")
    return name


def _check_given(name: str) -> None:
    if not _plain(name):
        raise InputError(f"--study {_shown(name)}: a study name is {NAME_RULE}")


def _plain(name: str) -> bool:
    return is_plain_name(name, NAME_LIMIT)


def _shown(name: str) -> str:
    return repr(name if len(name) <= 40 else f"{name[:37]}...")


def open_study(workspace: Workspace, name: str, space: SearchSpace, algo: str, seed: int,
               data: Dataset | None = None) -> Study:
    """A new study, or the saved one if it searches the same thing on the same data
    (else refuse): trials on other data cannot be compared with its trials."""
    if algo not in ALGOS:
        raise InputError(f"--algo {algo!r}: choose one of {', '.join(ALGOS)}")
    if seed < 0:
        raise InputError(f"--seed must be 0 or more, got {seed}")
    folder = study_dir(workspace, name)
    digest = _digest(space)
    study = Study(name, folder, algo, seed, space, digest)
    if data is not None:
        study.data_fingerprint, study.data_source = data.fingerprint(), data.source
    saved = folder / "study.json"
    if saved.exists():
        state = _read_state(saved)
        if (state["algo"], state["seed"], state["space_digest"]) != (algo, seed, digest):
            raise InputError(
                f"{saved}: study {name!r} searched another space, algo or seed; use a new --study name"
            )
        if state.get("data_fingerprint") not in (None, study.data_fingerprint):
            raise InputError(f"{saved}: study {name!r} searched other data ({state.get('data_source')}), "
                             f"not --data {study.data_source}; use a new --study name")
        study.trials = [Trial(**t) for t in state["trials"]]
    return study


def load_saved(workspace: Workspace, name: str) -> dict[str, Any]:
    path = study_dir(workspace, name) / "study.json"
    if not path.exists():
        raise InputError(f"no study {name!r} in {path.parent.parent}")
    return _read_state(path)


_STATE_KEYS = {"name": str, "algo": str, "seed": int, "space_digest": str, "fixed": dict, "trials": list}
_TRIAL_KEYS = {"number": int, "run_id": str, "params": dict, "status": str}


def _read_state(path: Path) -> dict[str, Any]:
    """study.json, checked: a one-line refusal naming the file if it is not a saved study."""
    try:
        state = fileio.read_json(path)
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a saved study (not valid JSON: {one_line(error, 80)})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read ({one_line(error.strerror or error, 80)})") from None
    if not isinstance(state, dict):
        raise InputError(f"{path}: not a saved study (a JSON {type(state).__name__}, not an object)")
    for key, kind in _STATE_KEYS.items():
        if not isinstance(state.get(key), kind):
            raise InputError(f"{path}: not a saved study ({key!r} missing or not a {kind.__name__})")
    fields = {f.name for f in dataclasses.fields(Trial)}
    trials = []
    for i, entry in enumerate(state["trials"]):
        where = f"{path}: trial {i}"
        if not isinstance(entry, dict):
            raise InputError(f"{where} is not a JSON object")
        unknown = sorted(set(entry) - fields)
        if unknown:
            raise InputError(f"{where}: unknown field {unknown[0]!r}")
        bad = [k for k, kind in _TRIAL_KEYS.items() if not isinstance(entry.get(k), kind)]
        if bad:
            raise InputError(f"{where}: {bad[0]!r} missing or wrong ({_TRIAL_KEYS[bad[0]].__name__} expected)")
        if entry["number"] != i:
            raise InputError(f"{where} is numbered {entry['number']}")
        _check_sampled(entry.get("sampled"), where)
        trials.append(dataclasses.asdict(Trial(**entry)))
    return {**state, "trials": trials}


def _check_sampled(sampled: Any, where: str) -> None:
    if sampled is None:
        return
    number = lambda x: isinstance(x, (int, float)) and not isinstance(x, bool)  # noqa: E731
    if not isinstance(sampled, dict) or not all(
            isinstance(values, list) and len(values) <= 1 and all(map(number, values)) for values in sampled.values()):
        raise InputError(f"{where}: 'sampled' must map labels to [number] or []")


def _digest(space: SearchSpace) -> str:
    text = repr((sorted(space.fixed.items()), space.tree))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _save(study: Study) -> None:
    fileio.write_json(study.folder / "study.json", {
        "name": study.name, "algo": study.algo, "seed": study.seed, "space_digest": study.space_digest,
        "space_file": study.space.source, "fixed": study.space.fixed,
        "data_fingerprint": study.data_fingerprint, "data_source": study.data_source,
        "trials": [dataclasses.asdict(t) for t in study.trials],
    })


# -- the loop -------------------------------------------------------------------------

Evaluate = Callable[[list[tuple[int, str, dict[str, Any]]]], list[Trial]]


def run(study: Study, max_evals: int, evaluate: Evaluate, run_id_of: Callable[[int], str],
        on_trial: Callable[[Trial, int, int], None] | None = None, jobs: int = 1) -> Study:
    """Evaluate trials until the study holds `max_evals` of them, `jobs` at a time.

    `evaluate([(number, run_id, settings), ...])` trains those trials (in parallel
    when there are several) and returns them in order; `on_trial(trial, n, total)`
    hears of each one once it is saved.
    """
    if jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {jobs}")
    if max_evals < 1:
        raise InputError(f"--max-evals must be at least 1, got {max_evals}")
    total = min(max_evals, grid(study.space).size) if study.algo == "grid" else max_evals

    def record(trial: Trial) -> None:
        study.trials.append(trial)
        _save(study)
        if on_trial is not None:
            on_trial(trial, len(study.trials), total)

    if study.algo == "grid":
        return _run_grid(study, max_evals, evaluate, run_id_of, record, jobs)
    return _run_hyperopt(study, max_evals, evaluate, run_id_of, record, jobs)


def _run_grid(study: Study, max_evals: int, evaluate: Evaluate, run_id_of, record, jobs: int) -> Study:
    points = grid(study.space)
    end = min(max_evals, points.size)
    while len(study.trials) < end:
        numbers = range(len(study.trials), min(end, len(study.trials) + jobs))
        batch = [(n, run_id_of(n), settings(study.space, points.point(n))) for n in numbers]
        for (_, _, chosen), trial in zip(batch, evaluate(batch)):
            trial.params = _varying(study, chosen)
            record(trial)
    return study


def _run_hyperopt(study: Study, max_evals: int, evaluate: Evaluate, run_id_of, record, jobs: int) -> Study:
    from hyperopt import STATUS_FAIL, STATUS_OK, rand, space_eval, tpe
    from hyperopt.base import JOB_STATE_DONE, Domain

    hp_space = to_hyperopt(study.space)
    trials = _history(study)
    algo = {"tpe": tpe.suggest, "rand": rand.suggest}[study.algo]
    domain = Domain(lambda params: 0.0, hp_space)
    while len(study.trials) < max_evals:
        batch, docs = [], []
        for number in range(len(study.trials), min(max_evals, len(study.trials) + jobs)):
            # ask: the same seed for the same trial number, so a resumed study proposes
            # exactly what the uninterrupted one would have (with the same --jobs);
            # proposals still in flight count as pending for TPE
            ids = trials.new_trial_ids(1)
            trials.refresh()
            seed = attempt_seed(study.seed, number)
            trials.insert_trial_docs(algo(ids, domain, trials, seed))
            trials.refresh()
            docs.append(trials._dynamic_trials[-1])
            batch.append((number, run_id_of(number), settings(study.space, space_eval(hp_space, _vals(docs[-1])))))
        for (_, _, chosen), doc, trial in zip(batch, docs, evaluate(batch)):
            trial.params = _varying(study, chosen)
            trial.sampled = {label: list(values) for label, values in doc["misc"]["vals"].items()}
            # tell
            doc["state"] = JOB_STATE_DONE
            doc["result"] = _result(trial, STATUS_OK, STATUS_FAIL)
            trials.refresh()
            record(trial)
    return study


def _result(trial: Trial, ok: str, fail: str) -> dict[str, Any]:
    """What hyperopt is told of a finished trial."""
    if trial.status == "ok":
        return {"loss": trial.objective(), "status": ok}
    return {"status": fail, "error": trial.message}


def _history(study: Study):
    """hyperopt's Trials rebuilt from study.json: every finished trial with the values
    sampled for it and its result, as the uninterrupted search held them."""
    from hyperopt import STATUS_FAIL, STATUS_OK, Trials
    from hyperopt.base import JOB_STATE_DONE

    trials = Trials()
    known = [t for t in study.trials if t.sampled is not None]
    if len(known) < len(study.trials):
        warn(f"{study.folder / 'study.json'}: {len(study.trials) - len(known)} trials were saved without the values "
             f"hyperopt sampled; it proposes from the other {len(known)}")
    docs = []
    for tid, trial in enumerate(known):
        misc = {"tid": tid, "cmd": None, "workdir": None,
                "idxs": {label: [tid] if values else [] for label, values in trial.sampled.items()},
                "vals": {label: list(values) for label, values in trial.sampled.items()}}
        (doc,) = trials.new_trial_docs([tid], [None], [_result(trial, STATUS_OK, STATUS_FAIL)], [misc])
        doc["state"] = JOB_STATE_DONE
        docs.append(doc)
    trials.insert_trial_docs(docs)
    trials.refresh()
    return trials


def _vals(doc: dict) -> dict[str, Any]:
    """hyperopt's chosen values of one trial, as space_eval wants them."""
    return {label: values[0] for label, values in doc["misc"]["vals"].items() if len(values)}


def _varying(study: Study, chosen: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in chosen.items() if k not in study.space.fixed or study.space.fixed[k] != v}


# -- results --------------------------------------------------------------------------


def leaderboard(state: dict[str, Any]):
    """Trials best first (failed last): rank, trial, run, params, accuracy, seconds."""
    import pandas as pd

    rows = [{"trial": t["number"], "run_id": t["run_id"], "status": t["status"], "loss": _loss(t),
             "val_accuracy": t["val_accuracy"], "kept": t["kept"], "seconds": t["seconds"],
             "params": ", ".join(f"{k}={_short(v)}" for k, v in t["params"].items()), "message": t["message"]}
            for t in state["trials"]]
    columns = ["trial", "run_id", "status", "loss", "val_accuracy", "kept", "seconds", "params", "message"]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.sort_values(["loss", "trial"], ascending=[True, True], na_position="last")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)


def _loss(trial: dict[str, Any]) -> float | None:
    if trial["status"] != "ok":
        return None
    return trial.get("loss") if trial.get("loss") is not None else -trial["val_accuracy"]


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def best_config(state: dict[str, Any]) -> dict[str, Any]:
    """The best trial as a `kcnn train --config` file's content."""
    ok = [t for t in state["trials"] if t["status"] == "ok"]
    if not ok:
        raise InputError(f"study {state['name']!r} has no successful trial to export")
    if str(state["fixed"].get("model", "")).startswith("template:"):
        raise InputError(f"study {state['name']!r} searched a template: its best values are in the leaderboard, "
                         "not a `kcnn train` config")
    best = min(ok, key=lambda t: (_loss(t), t["number"]))
    return {**state["fixed"], **best["params"]}
