"""The engines that train attempts: in this process, in local worker processes
(joblib's loky, the pool `kcnn search --jobs` uses too), or on a Dask cluster.

Each engine offers slots (one attempt at a time each), trains an AttemptTask in
a slot, and hands back per-epoch progress. None writes the workspace: the
command stores every result itself (kaggle_cnn.training.launch).
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import re
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from kaggle_cnn.errors import InputError, one_line, warn
from kaggle_cnn.fileio import TMP_PREFIX
from kaggle_cnn.training import devices
from kaggle_cnn.training.devices import Slot
from kaggle_cnn.training.workers import (
    AttemptTask,
    Failure,
    ProgressSender,
    fit_task,
    hold_data,
    run_attempt,
)

if TYPE_CHECKING:
    pass

Progress = Callable[[str, int, dict], None]  # (run_id, epoch, logs)

SCHEDULER = re.compile(r"^(tcp|tls)://[^\s:/]+:\d{1,5}$")  # Dask needs the port: tcp://HOST:8786
LOCAL_CLUSTER = re.compile(r"^local:(\d+)$")
CONNECT_SECONDS = 5


@dataclass(frozen=True)
class Execution:
    """How a command spreads its attempts: --jobs (None: auto), --gpus, --per-gpu,
    --cluster. The default is one attempt at a time in the command's own process."""

    jobs: int | None = 1
    gpus: str | None = None
    per_gpu: int | None = None
    cluster: str | None = None

    @property
    def in_process(self) -> bool:
        return self.jobs == 1 and self.gpus is None and self.per_gpu is None and self.cluster is None


def check_execution(execution: Execution) -> None:
    """The options that need no machine to check (run before anything is written)."""
    if execution.jobs is not None and execution.jobs < 1:
        raise InputError(f"--jobs {execution.jobs}: must be a positive integer or auto")
    if execution.cluster is not None:
        cluster_kind(execution.cluster)
        for option, value in (("--gpus", execution.gpus), ("--per-gpu", execution.per_gpu)):
            if value is not None:
                raise InputError(f"{option} does not apply with --cluster: a Dask worker uses the GPU it was "
                                 f"started on (CUDA_VISIBLE_DEVICES=N dask worker ...)")
        if execution.jobs not in (1, None):
            raise InputError("--jobs does not apply with --cluster: the cluster's workers say how many run at once")


def cluster_kind(address: str) -> tuple[str, int | None]:
    """("local", N) for local:N, ("remote", None) for tcp://HOST:PORT; else one line."""
    local = LOCAL_CLUSTER.match(address)
    if local:
        if int(local.group(1)) < 1:
            raise InputError(f"--cluster {address}: local:N needs N of at least 1")
        return "local", int(local.group(1))
    if SCHEDULER.match(address):
        return "remote", None
    raise InputError(f"--cluster {address}: expected tcp://HOST:PORT (a Dask scheduler) or local:N")


def open_engine(execution: Execution, scratch: Path | None = None):
    """The engine for `execution`: GPUs placed, a cluster connected, before anything
    is written; its workers start with `engine.start(...)`. A local Dask cluster
    keeps its scratch space in a temporary folder under `scratch` (the workspace's
    models/), removed when the engine closes."""
    check_execution(execution)
    if execution.cluster is not None:
        return DaskEngine(execution.cluster, scratch)
    if execution.in_process:
        return InProcessEngine()
    visible = devices.visible_gpus() if execution.gpus is not None or execution.per_gpu is not None \
        or execution.jobs != 1 else []
    placement = devices.place(execution.jobs, gpus=devices.parse_gpus(execution.gpus, visible),
                              per_gpu=execution.per_gpu, visible=visible, cores=devices.cpu_cores())
    if len(placement.slots) == 1 and placement.slots[0].gpu is None:  # one at a time on a CPU: no worker needed
        return InProcessEngine(placement.reason)
    return LocalEngine(placement)


class InProcessEngine:
    """One attempt at a time in this process (--jobs 1): no worker to start, and an
    error comes with its traceback."""

    kind = "in-process"

    def __init__(self, reason: str = "") -> None:
        self.slots = [Slot("this process", None, 0)]
        self.description = f"{reason}, in this process" if reason else "one at a time in this process"
        self.announce = bool(reason)  # print the description: --jobs auto chose this

    def start(self, arrays, x_test, data_path) -> None:
        self._arrays, self._x_test = arrays, x_test

    def submit(self, slot: int, task: AttemptTask, on_epoch: Progress) -> concurrent.futures.Future:
        """Trains now, in this process; the future it returns is done."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        result = fit_task(task, self._arrays, self._x_test, lambda epoch, logs: on_epoch(task.run_id, epoch, logs))
        future.set_result(result)
        return future

    def wait(self, futures, timeout: float, on_epoch: Progress) -> set:
        return {future for future in futures if future.done()}

    def close(self, cancel: bool = False) -> None:
        pass


class LocalEngine:
    """J worker processes on this machine, one per slot, each started with its
    slot's environment (its GPU, its threads) and the split's images; loky starts
    them as fresh processes, so TensorFlow's memory goes back when they end."""

    kind = "local workers"
    announce = True

    def __init__(self, placement: devices.Placement) -> None:
        self.slots = placement.slots
        self.description = placement.reason
        self._executors: list = []

    def start(self, arrays, x_test, data_path) -> None:
        """Start one worker per slot, holding the split's images."""
        from joblib.externals import loky

        self._progress = ProgressListener()
        self._executors = [loky.ProcessPoolExecutor(max_workers=1, env=slot.env, initializer=hold_data,
                                                    initargs=(arrays, x_test)) for slot in self.slots]

    def submit(self, slot: int, task: AttemptTask, on_epoch: Progress) -> concurrent.futures.Future:
        return self._executors[slot].submit(run_attempt, task, self.slots[slot].threads, self._progress.sender)

    def wait(self, futures, timeout: float, on_epoch: Progress) -> set:
        import queue

        done, _ = concurrent.futures.wait(list(futures), timeout=timeout,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        while True:
            try:
                run_id, epoch, logs = self._progress.events.get_nowait()
            except queue.Empty:
                return done
            on_epoch(run_id, epoch, logs)

    def close(self, cancel: bool = False) -> None:
        for executor in self._executors:
            executor.shutdown(wait=not cancel, kill_workers=cancel)
        if self._executors:
            self._progress.close()
        self._executors = []


class ProgressListener:
    """Where local workers send each epoch's logs: a socket of this process, read by
    daemon threads into `events` (no helper process to start, so a script without a
    `__main__` guard can train with --jobs too)."""

    def __init__(self) -> None:
        import os
        import queue
        from multiprocessing.connection import Listener

        self.events: queue.Queue = queue.Queue()
        authkey = os.urandom(16)
        self._listener = Listener(authkey=authkey)
        self._closed = False
        self.sender = ProgressSender(self._listener.address, authkey)
        threading.Thread(target=self._accept, daemon=True, name="kcnn-progress").start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection = self._listener.accept()
            except (OSError, EOFError):  # closed, or a stranger without the key
                continue
            threading.Thread(target=self._read, args=(connection,), daemon=True, name="kcnn-progress").start()

    def _read(self, connection) -> None:
        with connection:
            while True:
                try:
                    self.events.put(connection.recv())
                except (EOFError, OSError):
                    return

    def close(self) -> None:
        self._closed = True
        self._listener.close()


class DaskEngine:
    """Attempts on a Dask distributed cluster: one at a time per worker (TensorFlow
    keeps one model per process), the images loaded by each worker from the same
    path, results and progress sent back to this process."""

    kind = "dask"
    announce = True

    def __init__(self, address: str, scratch: Path | None = None) -> None:
        kind, workers = cluster_kind(address)
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError(f"--cluster {address}: Dask is not installed; pip install 'kaggle_cnn[cluster]'") \
                from None
        self._cluster, self._scratch = None, _Scratch(scratch)
        if kind == "local":
            cores = devices.cpu_cores()
            if workers > cores:  # each worker is a process training one model: more only wait for a core
                warn(f"--cluster {address}: this machine gives kcnn {cores} cores; starting {cores} workers")
                workers = cores
            threads = max(1, cores // workers)
            try:
                import dask

                scratch_folder = self._scratch.open()
                # the scheduler's scratch too, not only the workers'
                with dask.config.set({"temporary-directory": scratch_folder} if scratch_folder else {}):
                    self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                 dashboard_address=None, silence_logs=logging.ERROR,
                                                 env=devices.thread_env(threads), local_directory=scratch_folder)
            except BaseException:
                self._scratch.remove()
                raise
            address_used = self._cluster.scheduler_address
        else:
            address_used = address
        try:
            self._client = Client(address_used, timeout=f"{CONNECT_SECONDS}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            self._close_cluster()
            raise InputError(f"--cluster {address}: no Dask scheduler answered within {CONNECT_SECONDS} s "
                             f"({one_line(error, 100)})") from None
        info = self._client.scheduler_info()["workers"]
        if not info:
            self.close()
            raise InputError(f"--cluster {address}: the cluster has no workers; start some with "
                             f"`dask worker {address}`")
        self._workers = sorted(info)
        local_threads = max(1, devices.cpu_cores() // len(self._workers)) if kind == "local" else None
        self.slots = [Slot(f"{info[w].get('name', w)}", None, local_threads or int(info[w].get("nthreads", 1)))
                      for w in self._workers]
        self.description = (f"{len(self.slots)} at once on a local Dask cluster" if kind == "local"
                            else f"{len(self.slots)} at once on the Dask cluster at {address}")
        self._topic = f"kcnn-progress-{uuid.uuid4().hex[:8]}"
        self._events: collections.deque = collections.deque()  # appended by the client's event thread
        self._client.subscribe_topic(self._topic, self._events.append)

    def start(self, arrays, x_test, data_path) -> None:
        self._data_path = data_path

    def submit(self, slot: int, task: AttemptTask, on_epoch: Progress):
        task = dataclasses.replace(task, data=self._data_path)
        return self._client.submit(run_attempt, task, self.slots[slot].threads, DaskProgress(self._topic),
                                   workers=[self._workers[slot]], allow_other_workers=False, pure=False,
                                   key=f"{task.run_id}-{uuid.uuid4().hex[:6]}")

    def wait(self, futures, timeout: float, on_epoch: Progress) -> set:
        from distributed import wait

        try:
            with self._client.as_current():  # not made the process's default client: a notebook may have its own
                done, _ = wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        while self._events:
            _, (run_id, epoch, logs) = self._events.popleft()
            on_epoch(run_id, epoch, logs)
        return set(done)

    def close(self, cancel: bool = False) -> None:
        try:
            self._client.close()
        finally:
            self._close_cluster()

    def _close_cluster(self) -> None:
        try:
            if self._cluster is not None:
                self._cluster.close()
        finally:
            self._scratch.remove()


class _Scratch:
    """A local cluster's scratch space: a temporary folder under `parent` (whose
    `.kcnn-tmp-` name the workspace's repair removes after a kill -9), or Dask's
    default place when there is no parent. Folders made for it are removed with it,
    so a refused command leaves no empty workspace behind."""

    def __init__(self, parent: Path | None) -> None:
        self.parent, self.path, self._made = parent, None, []

    def open(self) -> str | None:
        if self.parent is None:
            return None
        self._made = [p for p in (self.parent, *self.parent.parents) if not p.exists()]
        self.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}dask-", dir=self.parent))
        return str(self.path)

    def remove(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
        for folder in self._made:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break  # something else was written there meanwhile: it stays


@dataclass(frozen=True)
class DaskProgress:
    """A Dask worker's side of the progress channel: an event on the client's topic."""

    topic: str

    def put(self, item: Any) -> None:
        from distributed import get_worker

        get_worker().log_event(self.topic, item)


def outcome(future) -> Any:
    """A finished future's FitResult or Failure; a worker that died is a Failure too."""
    try:
        return future.result()
    except Exception as error:  # the worker process was killed (out of memory, a signal) or lost
        return Failure(f"the worker stopped: {type(error).__name__}: {one_line(error, 200)}")
