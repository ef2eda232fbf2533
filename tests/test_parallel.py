"""Attempts spread over worker processes, GPUs and a Dask cluster; plans, resume
and time budgets (kaggle_cnn.training: devices, engines, schedule, plans)."""

from __future__ import annotations

import concurrent.futures
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kaggle_cnn import api
from kaggle_cnn.errors import AttemptFailed, InputError, InputWarning
from kaggle_cnn.store.workspace import Workspace
from kaggle_cnn.training import devices
from kaggle_cnn.training.launch import Planned, TimeBudget, launch_in_order
from kaggle_cnn.training.runs import attempt_seed
from kaggle_cnn.training.workers import Failure

TINY = ("--model", "cnn1", "--epochs", 1, "--batch-size", 32)


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and p.name != ".lock"}


# -- the same seeds give the same workspace, however the attempts are spread ---------------


def test_jobs_2_keeps_the_same_runs_as_jobs_1(kcnn, tmp_path, competition):
    threshold = 0.72
    for jobs in ("1", "2"):
        result = kcnn("-w", tmp_path / jobs, "train", "--data", competition, *TINY, "--repeat", 4,
                      "--keep-above", threshold, "--jobs", jobs)
        assert result.exit_code == 0, result.output
    serial, parallel = Workspace(tmp_path / "1"), Workspace(tmp_path / "2")
    assert "training 2 at once on" in result.output
    columns = ["run_id", "seed", "kept", "status"]
    assert parallel.read_index()[columns].to_dict("records") == serial.read_index()[columns].to_dict("records")
    assert parallel.read_index()["run_id"].tolist() == [f"cnn1-s0-a00{k}" for k in range(4)]  # attempt order
    assert parallel.run_ids() == serial.run_ids()
    assert np.allclose(parallel.read_index()["val_accuracy"], serial.read_index()["val_accuracy"], atol=1e-6)
    for run in parallel.runs():
        assert np.allclose(run.val_proba(), serial.load_run(run.run_id).val_proba(), atol=1e-4)
        assert run.record["device"]["engine"] == "local workers"
        assert run.record["device"]["threads"] == max(1, devices.cpu_cores() // 2)
        assert run.record["device"]["xla"] is False and run.record["device"]["precision"] == "float32"
        assert parallel.member_submission(run.run_id).read_bytes() == (run.path / "submission.csv").read_bytes()
    assert serial.runs()[0].record["device"]["engine"] == "in-process"


def test_a_local_dask_cluster_trains_and_the_command_stores(kcnn, tmp_path, competition, trained):
    result = kcnn("-w", tmp_path, "train", "--data", competition, *TINY, "--repeat", 2, "--cluster", "local:2")
    assert result.exit_code == 0, result.output
    assert "training 2 at once on a local Dask cluster" in result.output
    workspace = Workspace(tmp_path)
    assert workspace.run_ids() == ["cnn1-s0-a000", "cnn1-s0-a001"]
    assert workspace.read_index()["status"].tolist() == ["ok", "ok"]
    for run in workspace.runs():
        assert run.record["device"]["engine"] == "dask"
        assert run.record["seed"] == attempt_seed(0, int(run.run_id[-3:]))
        assert (run.path / "model.keras").stat().st_size > 10_000  # the model came back from the worker
        assert run.val_proba().shape == (30, 10)
        # the same runs as in this process (`trained`: the same settings and seeds), although the
        # worker's own threads draw from Python's global random generator meanwhile
        assert np.allclose(run.val_proba(), Workspace(trained).load_run(run.run_id).val_proba(), atol=1e-4)
    assert json.loads((workspace.models_dir / "plans" / "0001.json").read_text())["finished"] is True


# -- a killed command is finished by --resume ----------------------------------------------


def test_sigkill_mid_attempt_then_resume_completes_exactly_the_missing_attempts(kcnn, tmp_path, competition):
    command = [sys.executable, "-m", "kaggle_cnn", "-w", str(tmp_path), "train", "--data", str(competition),
               "--model", "cnn1", "--repeat", "4", "--epochs", "3", "--batch-size", "32"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workspace = Workspace(tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and not workspace.run_ids():
        time.sleep(0.05)
    time.sleep(0.3)  # into the next attempt's epochs
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(workspace.run_ids())
    assert 1 <= done_before < 4, "the kill should land mid-job"
    plan = json.loads((workspace.models_dir / "plans" / "0001.json").read_text())
    assert plan["finished"] is False and plan["target"] == {"repeat": 4, "until_kept": None}

    result = kcnn("-w", tmp_path, "train", "--resume")
    assert result.exit_code == 0, result.output
    assert f"{4 - done_before} of 4 attempts left" in result.output
    run_ids = [f"cnn1-s0-a00{k}" for k in range(4)]
    assert workspace.run_ids() == run_ids
    index = workspace.read_index()
    assert sorted(index["run_id"]) == run_ids and (index["status"] == "ok").all()  # 4 rows, none twice
    assert sorted(p.stem for p in workspace.submissions_dir.glob("*.csv")) == run_ids  # 4 members
    assert [run.record["seed"] for run in workspace.runs()] == [attempt_seed(0, k) for k in range(4)]
    assert {run.record["config"]["epochs"] for run in workspace.runs()} == {3}
    assert not workspace.leftovers()
    again = kcnn("-w", tmp_path, "train", "--resume")
    assert again.exit_code == 2 and "is finished; nothing to resume" in again.output


# -- the launching loop, with a stand-in engine (no TensorFlow) -----------------------------


class Result:
    def __init__(self, val_accuracy):
        self.val_accuracy = val_accuracy


class StandInEngine:
    """Attempts that take `seconds[run_id]` in threads, finishing out of order."""

    kind = "stand-in"

    def __init__(self, slots, seconds, scores):
        self.slots = [devices.Slot(f"slot {n}", None, 1) for n in range(slots)]
        self.pool = concurrent.futures.ThreadPoolExecutor(slots)
        self.seconds, self.scores = seconds, scores

    def submit(self, slot, task, on_epoch):
        def work():
            time.sleep(self.seconds[task])
            on_epoch(task, 0, {})
            return Failure("boom") if self.scores[task] is None else Result(self.scores[task])

        return self.pool.submit(work)

    def wait(self, futures, timeout, on_epoch):
        done, _ = concurrent.futures.wait(list(futures), timeout, concurrent.futures.FIRST_COMPLETED)
        return done


class Task(str):
    """An attempt's task as the loop sees it: a run id, and the seconds a budget sends it."""

    run_id = property(str)
    seconds = None

    def with_seconds(self, seconds):
        task = Task(self)
        task.seconds = seconds
        return task


def launch(engine, names, **options):
    stored = []
    options.setdefault("want_more", lambda results: True)
    report = launch_in_order(engine, [Planned(n, Task(name)) for n, name in enumerate(names, 1)],
                             store=lambda planned, result, seconds: stored.append((planned.task, result)) or planned.task,
                             started=lambda planned, device: None, **options)
    return stored, report


def test_results_are_stored_in_attempt_order_whatever_order_they_finish_in():
    engine = StandInEngine(3, {"a": 0.3, "b": 0.05, "c": 0.15, "d": 0.01}, {"a": 0.5, "b": 0.9, "c": 0.1, "d": 0.2})
    stored, report = launch(engine, "abcd")
    assert [name for name, _ in stored] == ["a", "b", "c", "d"]
    assert [result.val_accuracy for _, result in stored] == [0.5, 0.9, 0.1, 0.2]
    assert report.launched == 4


def test_until_kept_stops_launching_and_stores_the_attempts_in_flight():
    scores = {"a": 0.9, "b": 0.1, "c": 0.9, "d": 0.9, "e": 0.9}
    engine = StandInEngine(2, {"a": 0.01, "b": 0.2, "c": 0.01, "d": 0.01, "e": 0.01}, scores)
    kept_two = lambda results: sum(r.val_accuracy >= 0.5 for r in results) < 2  # noqa: E731
    stored, report = launch(engine, "abcde", want_more=kept_two)
    # a and c are kept while b is still in flight: nothing more is launched, and b is stored too
    assert [name for name, _ in stored] == ["a", "b", "c"]


def test_a_failed_attempt_stops_launching_after_storing_those_in_flight():
    engine = StandInEngine(2, {"a": 0.01, "b": 0.2, "c": 0.01, "d": 0.01}, {"a": None, "b": 0.5, "c": 0.5, "d": 0.5})
    stored = []
    with pytest.raises(AttemptFailed, match="attempt a failed: boom"):
        launch_in_order(engine, [Planned(n, Task(x)) for n, x in enumerate("abcd", 1)],
                        store=lambda planned, result, seconds: stored.append(planned.task),
                        want_more=lambda results: True, started=lambda planned, device: None)
    assert stored == ["a", "b"]  # the failure is recorded, b (in flight) is stored, c and d never start


def test_time_budget_launches_no_attempt_that_cannot_finish():
    engine = StandInEngine(1, dict.fromkeys("abcdefgh", 0.2), dict.fromkeys("abcdefgh", 0.5))
    budget = TimeBudget(0.5)
    stored, report = launch(engine, "abcdefgh", budget=budget)
    # a: 0.2 s measured; b fits (0.3 s left); c would end at 0.6 s > 0.5 s: not launched
    assert [name for name, _ in stored] == ["a", "b"]
    assert budget.stopped and budget.estimate_when_stopped == pytest.approx(0.2, abs=0.05)
    assert budget.left_when_stopped == pytest.approx(0.1, abs=0.05)


def test_time_budget_through_train_leaves_the_plan_to_resume(kcnn, tmp_path, competition):
    result = kcnn("-w", tmp_path, "train", "--data", competition, *TINY, "--repeat", 30, "--time-budget", 0.2)
    assert result.exit_code == 0, result.output
    trained = len(Workspace(tmp_path).read_index())
    assert 1 <= trained < 30
    assert "time budget 0.2 min: an attempt of 1 epochs takes about " in result.output
    assert "time budget 12 s: " in result.output
    assert f"{trained} attempt{'s' * (trained > 1)} trained; stopped launching" in result.output
    assert "is not finished: `kcnn train --resume` goes on with it" in result.output


# -- GPUs: which worker gets which device ------------------------------------------------------


def test_slots_go_round_robin_over_the_gpus():
    placement = devices.place(None, gpus=None, per_gpu=2, visible=["0", "1"], cores=16)
    assert [slot.env["CUDA_VISIBLE_DEVICES"] for slot in placement.slots] == ["0", "1", "0", "1"]
    assert {slot.env["TF_FORCE_GPU_ALLOW_GROWTH"] for slot in placement.slots} == {"true"}
    assert [slot.threads for slot in placement.slots] == [4, 4, 4, 4]
    assert placement.reason == "--jobs auto: 4 at once (2 GPU(s) x 2 attempt(s) each)"
    three = devices.place(3, gpus=None, per_gpu=None, visible=["0", "1"], cores=16)
    assert [slot.gpu for slot in three.slots] == ["0", "1", "0"]


def test_gpus_are_named_as_tensorflow_numbers_them():
    # CUDA_VISIBLE_DEVICES=2,3: TensorFlow's GPU 1 is physical GPU 3, and that is what the worker is given
    assert devices.parse_gpus("1", ["2", "3"]) == ["3"]
    placement = devices.place(2, gpus=devices.parse_gpus("1", ["2", "3"]), per_gpu=2, visible=["2", "3"], cores=8)
    assert [slot.env["CUDA_VISIBLE_DEVICES"] for slot in placement.slots] == ["3", "3"]
    with pytest.raises(InputError, match="--gpus 7: this machine has no GPU 7 \\(TensorFlow sees GPUs 0-1\\)"):
        devices.parse_gpus("7", ["0", "1"])
    with pytest.raises(InputError, match="--jobs 5: more than 2 GPU\\(s\\) x --per-gpu 2"):
        devices.place(5, gpus=None, per_gpu=2, visible=["0", "1"], cores=8)


def test_cpu_slots_share_the_cores_and_auto_says_why():
    assert devices.place(None, gpus=None, per_gpu=None, visible=[], cores=2).reason == \
        "--jobs auto: 1 at once (2 CPU cores, about 4 per attempt; no GPU)"
    sixteen = devices.place(None, gpus=None, per_gpu=None, visible=[], cores=16)
    assert [(slot.threads, slot.env["OMP_NUM_THREADS"]) for slot in sixteen.slots] == [(4, "4")] * 4
    with pytest.warns(InputWarning, match="--per-gpu 2: no GPU here, so it is ignored"):
        devices.place(2, gpus=None, per_gpu=2, visible=[], cores=2)


def test_jobs_auto_says_what_it_chose(kcnn, tmp_path, competition):
    result = kcnn("-w", tmp_path, "train", "--data", competition, *TINY, "--jobs", "auto")
    assert result.exit_code == 0, result.output
    assert "training --jobs auto: " in result.output
    if devices.cpu_cores() < 2 * devices.CORES_PER_CPU_ATTEMPT and not devices.visible_gpus():
        assert "1 at once (" in result.output and "in this process" in result.output
        assert Workspace(tmp_path).runs()[0].record["device"]["engine"] == "in-process"


def test_each_local_worker_starts_with_its_slots_environment():
    from kaggle_cnn.training.engines import LocalEngine

    slots = [devices.Slot("GPU 5", "5", 1, {"CUDA_VISIBLE_DEVICES": "5"}),
             devices.Slot("GPU 6", "6", 1, {"CUDA_VISIBLE_DEVICES": "6"})]
    engine = LocalEngine(devices.Placement(slots, "test"))
    engine.start({}, np.zeros((0, 1)), None)
    try:
        import os

        seen = [executor.submit(os.getenv, "CUDA_VISIBLE_DEVICES").result() for executor in engine._executors]
    finally:
        engine.close()
    assert seen == ["5", "6"]


def test_mixed_precision_on_a_cpu_is_bfloat16_with_a_float32_classifier(tmp_path, competition):
    config = api.train_config({"model": "cnn1", "epochs": 1, "batch_size": 32, "mixed_precision": True})
    summary = api.train(api.load_data(competition), api.Workspace(tmp_path), config)
    run = api.Workspace(tmp_path).load_run(summary.attempts[0].run_id)
    assert run.record["device"]["precision"] == "mixed_bfloat16" and run.record["config"]["mixed_precision"] is True
    assert run.val_proba().dtype == np.float32
    assert np.allclose(run.val_proba().sum(axis=1), 1, atol=1e-5)


# -- bad input: one line, exit 2, nothing written --------------------------------------------


@pytest.mark.parametrize("options, message", [
    (("--jobs", "0"), "--jobs 0: must be a positive integer or auto"),
    (("--jobs", "many"), "--jobs many: must be a positive integer or auto"),
    (("--gpus", "7", "--jobs", "2"), "--gpus 7: this machine has no GPU 7"),
    (("--cluster", "8786"), "--cluster 8786: expected tcp://HOST:PORT (a Dask scheduler) or local:N"),
    (("--scheduler", "local:2"), "--scheduler: the option is --cluster"),
    (("--cluster", "tcp://nowhere"), "--cluster tcp://nowhere: expected tcp://HOST:PORT"),
    (("--cluster", "local:0"), "--cluster local:0: local:N needs N of at least 1"),
    (("--cluster", "local:2", "--gpus", "0"), "--gpus does not apply with --cluster"),
    (("--time-budget", "0"), "--time-budget 0: must be a finite number greater than 0"),
    (("--time-budget", "nan"), "--time-budget nan: must be a finite number greater than 0"),
    (("--per-gpu", "0"), "--per-gpu 0: must be an integer of at least 1"),
    (("--resume",), "--resume: no training plan in"),
])
def test_bad_parallel_options_write_nothing(kcnn, assert_refused, tmp_path, competition, options, message):
    result = kcnn("-w", tmp_path / "ws", "train", "--data", competition, *TINY, *options)
    assert_refused(result, message)
    assert not (tmp_path / "ws").exists()


def test_a_local_cluster_keeps_its_scratch_in_the_workspace_with_a_worker_per_core_at_most(tmp_path):
    """local:99999 starts one worker per core (not 99999 that never finish starting);
    Dask's scratch space is a temporary folder in the workspace, gone with the engine."""
    from kaggle_cnn.training.engines import Execution, open_engine

    cores, models = devices.cpu_cores(), tmp_path / "ws" / "models"
    with pytest.warns(InputWarning, match=f"local:99999: this machine gives kcnn {cores} cores; starting {cores} "):
        engine = open_engine(Execution(cluster="local:99999"), models)
    try:
        assert len(engine.slots) == cores
        (scratch,) = models.iterdir()
        assert scratch.name.startswith(".kcnn-tmp-dask-")
        folders = engine._client.run(lambda dask_worker: dask_worker.local_directory)
        assert len(folders) == cores and all(Path(f).is_relative_to(scratch) for f in folders.values())
    finally:
        engine.close()
    assert not (tmp_path / "ws").exists()  # the folders made for it go too


def test_an_unreachable_scheduler_fails_within_seconds(kcnn, assert_refused, tmp_path, competition):
    start = time.monotonic()
    result = kcnn("-w", tmp_path / "ws", "train", "--data", competition, *TINY, "--cluster", "tcp://127.0.0.1:9")
    assert_refused(result, "--cluster tcp://127.0.0.1:9: no Dask scheduler answered within 5 s")
    assert time.monotonic() - start < 30
    assert not (tmp_path / "ws").exists()


def test_resume_refuses_options_that_contradict_the_plan(kcnn, assert_refused, trained_copy):
    plan_path = Workspace(trained_copy).models_dir / "plans" / "0001.json"
    assert_refused(kcnn("-w", trained_copy, "train", "--resume"), "is finished; nothing to resume")
    plan = json.loads(plan_path.read_text())
    plan.update(finished=False, run_ids=plan["run_ids"] + ["cnn1-s0-a002"], attempts=plan["attempts"] + [2])
    plan_path.write_text(json.dumps(plan))
    before = files_of(trained_copy)
    assert_refused(kcnn("-w", trained_copy, "train", "--resume", "--epochs", 5),
                   "--epochs 5: the plan being resumed (0001.json) has epochs 1")
    assert_refused(kcnn("-w", trained_copy, "train", "--resume", "--set", "dropout=0.1"),
                   "--set: does not go with --resume")
    assert_refused(kcnn("-w", trained_copy, "train", "--resume", "--seed", 3), "has seed 0")
    assert files_of(trained_copy) == before
