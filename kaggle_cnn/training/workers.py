"""One attempt in a worker process (a local worker or a Dask worker): what it is
sent, how it finds its images, and what it sends back.

The worker trains with kaggle_cnn.training.fit exactly as the command's own
process does; it writes nothing in the workspace. Its model comes back as the
bytes of a .keras file, with the probabilities and the history, and the command
alone stores them, so a cluster needs no shared file system.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from kaggle_cnn.config import TrainConfig

if TYPE_CHECKING:
    from kaggle_cnn.training.fit import FitResult

# Images a local worker was given when its process started (hold_data), so that
# each attempt sends only its settings.
_HELD: dict[str, Any] = {}
# Datasets a Dask worker loaded from their path, by fingerprint: loaded once per worker.
_LOADED: dict[tuple[str, bool], tuple[Any, dict[str, np.ndarray]]] = {}


@dataclass(frozen=True)
class HeldData:
    """The images a local worker holds since it started."""

    def arrays(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return _HELD["arrays"], _HELD["x_test"]


@dataclass(frozen=True)
class DataPath:
    """Images a worker loads itself from the path the command loaded them from
    (a Dask worker on another machine needs the same data at the same path); the
    fingerprint makes sure it is the same data."""

    load_options: dict[str, Any]
    fingerprint: str
    val_indices: np.ndarray | None  # None: k-fold training, every training row (each task cuts its fold)

    def arrays(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        key = (self.fingerprint, self.val_indices is None)
        if key not in _LOADED:
            from kaggle_cnn.data import reload_dataset, split_arrays

            dataset = reload_dataset(self.load_options, self.fingerprint, owner="this training")
            held = {"x": dataset.x_train, "y": dataset.y_train} if self.val_indices is None \
                else split_arrays(dataset, self.val_indices)
            _LOADED[key] = (dataset.x_test, held)
        x_test, arrays = _LOADED[key]
        return arrays, x_test


def hold_data(arrays: dict[str, np.ndarray], x_test: np.ndarray) -> None:
    """A local worker's initializer: keep the images for every attempt it trains."""
    _HELD.update(arrays=arrays, x_test=x_test)


@dataclass(frozen=True)
class AttemptTask:
    """What a worker needs for one attempt."""

    config: TrainConfig
    seed: int
    run_id: str
    n_classes: int
    data: HeldData | DataPath
    seconds: float | None = None  # --epochs auto under a time budget: the time this attempt may take
    val_rows: np.ndarray | None = None  # a k-fold task: the rows it is scored on (empty: a refit on every row)
    curves: str | None = None  # --tensorboard: the folder its live learning curves go to
    teacher: Any = None  # a Teacher (kaggle_cnn.training.teacher): test images added to its training rows

    def with_seconds(self, seconds: float | None) -> "AttemptTask":
        """The same attempt, allowed `seconds` (a time budget's allowance)."""
        return replace(self, seconds=seconds)


def fit_task(task: AttemptTask, held: dict[str, np.ndarray], x_test: np.ndarray, on_epoch=None, device=None):
    """Train the task's attempt here, on the images an engine holds: a FitResult."""
    from kaggle_cnn.training.fit import fit_one

    return fit_one(task.config, task.seed, n_classes=task.n_classes, x_test=x_test, on_epoch=on_epoch, device=device,
                   seconds=task.seconds, curves=task.curves, **taught_arrays(task, held, x_test))


def taught_arrays(task: AttemptTask, held: dict[str, np.ndarray], x_test) -> dict[str, np.ndarray]:
    """The task's arrays, and with a teacher its test images added to the training rows (never to the scored ones)."""
    arrays = task_arrays(task, held)
    return arrays if task.teacher is None else task.teacher.taught(arrays, x_test)


def task_arrays(task: AttemptTask, held: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What fit_one trains and scores on: the split the engine holds, or, for a
    fold or a refit, every training row (held as x, y) cut by the task's rows."""
    if task.val_rows is None:
        return held
    from kaggle_cnn.data import cut_arrays

    return cut_arrays(held["x"], held["y"], task.val_rows)

@dataclass(frozen=True)
class ProgressSender:
    """A local worker's side of the progress channel: each epoch's logs sent to the
    command's listener (kaggle_cnn.training.engines.ProgressListener)."""

    address: Any
    authkey: bytes

    def put(self, item: Any) -> None:
        from multiprocessing.connection import Client

        connection = _CONNECTIONS.get(self.address)
        if connection is None:
            connection = _CONNECTIONS[self.address] = Client(self.address, authkey=self.authkey)
        connection.send(item)


_CONNECTIONS: dict[Any, Any] = {}  # this worker's connection to each listener it reports to


class Failure(str):
    """An attempt's error, as the worker saw it (a message, not a traceback)."""


def run_attempt(task: AttemptTask, threads: int | None, progress=None) -> "FitResult | Failure":
    """Train one attempt here; `progress.put((run_id, epoch, logs))` after each epoch."""
    start = time.perf_counter()
    try:
        _configure_tensorflow(threads)
        from kaggle_cnn.training.fit import this_device

        held, x_test = task.data.arrays()
        on_epoch = None
        if progress is not None:
            def on_epoch(epoch, logs):
                progress.put((task.run_id, epoch, logs))
        result = fit_task(task, held, x_test, on_epoch, this_device(task.config.mixed_precision, threads))
        result.model_bytes = _model_bytes(result.model)
    except Exception as error:  # the command records it and stops launching attempts
        return Failure(f"{type(error).__name__}: {error}")
    result.model = None
    result.worker_seconds = time.perf_counter() - start
    return result


def _model_bytes(model) -> bytes:
    with tempfile.TemporaryDirectory(prefix="kcnn-worker-") as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as handle:
            return handle.read()


def _configure_tensorflow(threads: int | None) -> None:
    """Threads and GPU memory growth, set before TensorFlow's first operation in
    this process (a worker that trained before keeps what it has)."""
    from kaggle_cnn.backend import load_keras

    load_keras()
    import tensorflow as tf

    try:
        if threads:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        for gpu in tf.config.list_physical_devices("GPU"):
            # Several attempts share one GPU (--per-gpu): each takes the memory it needs, not all of it.
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:
        pass  # TensorFlow is already running in this worker, with the settings of its first attempt
