"""One training run: build, compile, fit, score the validation split, predict.

Nothing here knows about the workspace or keeping: `fit_one` returns arrays and
timings, and kaggle_cnn.api decides what to keep. The loop is Keras' own `fit`
with two light callbacks (per-epoch timing, progress), so a run costs what a bare
Keras loop costs; benchmarks/train_overhead.py measures that.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kaggle_cnn.backend import load_keras
from kaggle_cnn.config import OPTIMIZERS, TrainConfig  # noqa: F401  (TrainConfig: re-exported)

keras = load_keras()


@dataclass
class FitResult:
    model: Any
    history: list[dict[str, float]]  # one dict per epoch, timings included
    val_proba: np.ndarray
    test_proba: np.ndarray
    val_accuracy: float
    val_loss: float
    predict_seconds: float  # the test set's prediction
    params: int = 0
    model_path: str | None = None  # when trained in a worker process: where it saved the model
    worker_seconds: float | None = None


EpochHook = Callable[[int, dict[str, float]], None]


class EpochTimer(keras.callbacks.Callback):
    """Seconds spent training and validating in each epoch (seed 004's timing table)."""

    def __init__(self) -> None:
        super().__init__()
        self.train_seconds: list[float] = []
        self.val_seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._val_start = None

    def on_test_begin(self, logs=None):
        self._val_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = time.perf_counter()
        val_start = self._val_start or end
        self.train_seconds.append(val_start - self._start)
        self.val_seconds.append(end - val_start)


class EpochCallback(keras.callbacks.Callback):
    """Forwards each epoch's logs to a plain function (the progress display)."""

    def __init__(self, hook: EpochHook) -> None:
        super().__init__()
        self._hook = hook

    def on_epoch_end(self, epoch, logs=None):
        self._hook(epoch, {k: float(v) for k, v in (logs or {}).items()})


def fit_one(
    config: TrainConfig,
    seed: int,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    x_test: np.ndarray,
    n_classes: int,
    on_epoch: EpochHook | None = None,
) -> FitResult:
    """Train one fresh model with Adam (or config.optimizer) and ReduceLROnPlateau, as seed 004 did."""
    from kaggle_cnn.architectures import build

    keras.backend.clear_session()  # no graph growth over 30 attempts in one process
    keras.utils.set_random_seed(seed)
    model = build(config.model, x_train.shape[1:], n_classes, **config.model_options)
    if config.augment:
        from kaggle_cnn.augment import with_augmentation

        model = with_augmentation(model, config.augment, seed)
    binary = model.output_shape[-1] == 1  # two classes: one sigmoid unit (architectures.heads)
    model.compile(
        optimizer=make_optimizer(config.optimizer, config.lr, config.weight_decay),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    timer = EpochTimer()
    callbacks = [
        timer,
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=config.reduce_lr_factor, patience=config.reduce_lr_patience,
            min_lr=config.min_lr,
        ),
    ]
    if config.patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                                       restore_best_weights=True))
    if on_epoch is not None:
        callbacks.append(EpochCallback(on_epoch))
    fitted = model.fit(
        x_train, y_train, batch_size=config.batch_size, epochs=config.epochs,
        validation_data=(x_val, y_val), callbacks=callbacks, verbose=0,
    )
    val_proba = class_probabilities(model.predict(x_val, batch_size=config.batch_size, verbose=0))
    start = time.perf_counter()
    test_proba = class_probabilities(model.predict(x_test, batch_size=config.batch_size, verbose=0))
    predict_seconds = time.perf_counter() - start
    return FitResult(
        model=model,
        history=_epoch_rows(fitted.history, timer),
        val_proba=val_proba.astype(np.float32),
        test_proba=test_proba.astype(np.float32),
        val_accuracy=float(np.mean(val_proba.argmax(axis=1) == y_val)),
        val_loss=_cross_entropy(val_proba, y_val),
        predict_seconds=predict_seconds,
        params=int(model.count_params()),
    )


def fit_in_worker(config: TrainConfig, seed: int, arrays: dict, x_test: np.ndarray, n_classes: int,
                  model_path: str, threads: int) -> FitResult | str:
    """fit_one in a joblib worker process (kcnn search --jobs): saves the model to
    `model_path` and returns the rest, or the error's message as a string."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # a reused worker: TensorFlow is already running with its threads
    start = time.perf_counter()
    try:
        result = fit_one(config, seed, n_classes=n_classes, x_test=x_test, **arrays)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    result.model.save(model_path)
    result.model, result.model_path = None, model_path
    result.worker_seconds = time.perf_counter() - start
    return result


def make_optimizer(name: str, lr: float, weight_decay: float | None = None):
    from kaggle_cnn.errors import InputError

    if name not in OPTIMIZERS:
        raise InputError(f"optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
    options = {"learning_rate": lr, "weight_decay": weight_decay}
    if name == "sgd":
        options["momentum"] = 0.9
    return getattr(keras.optimizers, OPTIMIZERS[name])(**options)


def class_probabilities(raw: np.ndarray) -> np.ndarray:
    """One column per class: a sigmoid's single column p becomes (1 - p, p)."""
    raw = np.asarray(raw, dtype=np.float32)
    return np.hstack([1.0 - raw, raw]) if raw.shape[1] == 1 else raw


def _epoch_rows(history: dict[str, list[float]], timer: EpochTimer) -> list[dict[str, float]]:
    rows = []
    for epoch in range(len(timer.train_seconds)):
        row = {"epoch": epoch + 1}
        row.update({name: float(values[epoch]) for name, values in history.items()})
        row["train_seconds"] = round(timer.train_seconds[epoch], 4)
        row["val_seconds"] = round(timer.val_seconds[epoch], 4)
        rows.append(row)
    return rows


def _cross_entropy(proba: np.ndarray, labels: np.ndarray) -> float:
    picked = proba[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))


def library_versions() -> dict[str, str]:
    import platform

    import numpy
    import tensorflow

    import kaggle_cnn

    return {
        "kaggle_cnn": kaggle_cnn.__version__,
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
    }
