"""One training run: build, compile, fit, score the validation split, predict.

Nothing here knows about the workspace or keeping: `fit_one` returns arrays and
timings, and kaggle_cnn.training.runs decides what to keep. The loop is Keras' own `fit`
with two light callbacks (per-epoch timing, progress), so a run costs what a bare
Keras loop costs; benchmarks/train_overhead.py measures that.
"""

from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from kaggle_cnn.backend import load_keras
from kaggle_cnn.config import OPTIMIZERS, TrainConfig, check_optimizer
from kaggle_cnn.evaluation.metric_registry import accuracy, log_loss
from kaggle_cnn.labels import MULTI_LABEL, REGRESSION, SINGLE_LABEL
from kaggle_cnn.training.epoch_callbacks import EpochCallback, EpochHook, EpochTimer
from kaggle_cnn.training.options import with_batch_size

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
    device: dict[str, Any] | None = None  # what it ran on (Device.record()), recorded in run.json
    model_bytes: bytes | None = None  # trained in a worker process: the saved model, to store here
    worker_seconds: float | None = None
    epochs: dict[str, Any] | None = None  # --epochs auto: the best epoch, and what a time allowance held
    allowance: dict[str, Any] | None = None  # under a time budget: the seconds it was given, and whether they cut it
    target_scale: dict[str, float] | None = None  # a numeric target's training mean and std (numeric_targets)


PRECISIONS = {"GPU": "mixed_float16", "CPU": "mixed_bfloat16"}  # what --mixed-precision means on each


@dataclass(frozen=True)
class Device:
    """What one attempt trains on, and the choices made for it: XLA compiles the
    training step on a GPU only (on a CPU it was no faster: benchmarks/cpu_speed.py), and
    mixed precision is float16 on a GPU, bfloat16 on a CPU."""

    kind: str  # "GPU" or "CPU"
    name: str  # "GPU 0 (NVIDIA H100 80GB HBM3)", "CPU"
    precision: str  # the Keras dtype policy: float32, mixed_float16, mixed_bfloat16
    xla: bool
    threads: int | None = None  # TensorFlow's intra-op threads, when set

    def record(self) -> dict[str, Any]:
        import platform

        return {"kind": self.kind, "name": self.name, "precision": self.precision, "xla": self.xla,
                "threads": self.threads, "host": platform.node()}


def this_device(mixed_precision: bool, threads: int | None = None) -> Device:
    """The device TensorFlow trains on in this process: its first GPU, else the CPU."""
    import os

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    kind = "GPU" if gpus else "CPU"
    name = "CPU"
    if gpus:
        physical = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip() or "0"
        details = tf.config.experimental.get_device_details(gpus[0])
        name = f"GPU {physical} ({details.get('device_name', 'unknown')})"
    return Device(kind, name, PRECISIONS[kind] if mixed_precision else "float32", xla=kind == "GPU", threads=threads)


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
    device: Device | None = None,
    seconds: float | None = None,
    curves: str | None = None,
) -> FitResult:
    """Train one fresh model with config's optimizer, schedule and loss.

    Images are arrays, or ImageFiles (image folders) streamed through tf.data. A
    pretrained backbone trains its head with the base frozen, then, with
    config.fine_tune_epochs, the unfrozen base at config.fine_tune_lr: two phases,
    one history (its `phase` column says which). `seconds` (the attempt's share of
    a time budget) sets how many epochs it trains with --epochs auto, and with
    epochs fixed ends it before an epoch that would overrun. `curves`: a folder
    for TensorBoard event files, written as each epoch ends."""
    from kaggle_cnn.architectures.backbones import find_backbone

    started = time.perf_counter()
    config = with_batch_size(config, len(x_train) + len(x_val))  # kcnn train fixed it already; the API may not
    device = device or this_device(config.mixed_precision)
    keras.backend.clear_session()  # no graph growth over 30 attempts in one process
    keras.utils.set_random_seed(seed)
    from kaggle_cnn.training.numeric_targets import (
        TargetScale,
        numeric_scores,
        target_task,
    )

    task = target_task(y_train)  # a sigmoid per label, or one linear unit for a number (architectures.heads)
    multi_label, scale = task == MULTI_LABEL, TargetScale.fit(y_train) if task == REGRESSION else None
    with dtype_policy(device.precision):
        model = build_model(config, x_train.shape[1:], n_classes, seed, multi_label, getattr(x_train, "table_width", 0))
    backbone = find_backbone(model)
    frozen = backbone is not None and not backbone.trainable
    on_gpu = device.kind == "GPU"
    # class probabilities (a teacher's targets): cross-entropy on those
    soft = np.ndim(y_train) == 2 and not multi_label
    if scale is not None:  # standardised: every architecture learns numbers of about unit size
        truth, y_train, y_val = y_val, scale.standardise(y_train), scale.standardise(y_val)
    if multi_label:  # Keras' binary cross-entropy takes numbers, not booleans
        y_train, y_val = y_train.astype(np.float32), np.asarray(y_val).astype(np.float32)
    train_input = fit_input(x_train, y_train, config.batch_size, shuffle_seed=seed, on_gpu=on_gpu, mix=config.mix,
                            n_classes=n_classes)
    # A refit on every training row has no validation rows: nothing to score, the schedule watches the loss.
    validated = len(x_val) > 0
    # Soft targets: validation labels one-hot, as with --mix.
    val_input = fit_input(x_val, y_val, config.batch_size, on_gpu=on_gpu, mix=config.mix or soft,
                          n_classes=n_classes) if validated else None
    # After the last epoch come the predictions: a forward pass costs about a third
    # of a training step, so they take this share of an epoch (plus saving).
    reserve = 0.1 + (len(x_val) + len(x_test)) / max(1, len(x_train)) / 3
    phase = functools.partial(_fit_phase, model, config, xla=device.xla, train_input=train_input,
                              val_input=val_input, on_epoch=on_epoch, curves=curves, soft=soft,
                              task=task,
                              steps_per_epoch=-(-len(x_train) // config.batch_size), started=started, reserve=reserve)
    history, epochs, cut = phase("frozen" if frozen else "train", config.lr, 0, config.epoch_cap,
                                 auto=config.auto_epochs, seconds=seconds)
    if config.fine_tune_epochs:
        unfreeze(backbone, config.unfreeze)
        if not cut:
            history += phase("fine-tune", config.fine_tune_lr, len(history), len(history) + config.fine_tune_epochs,
                             seconds=seconds)[0]
    val_proba = predict_proba(model, x_val, config.batch_size, n_classes)
    truth = np.asarray(y_val).astype(bool) if multi_label else truth if scale else y_val
    start = time.perf_counter()
    test_proba = predict_proba(model, x_test, config.batch_size, n_classes)
    predict_seconds = time.perf_counter() - start
    if scale is not None:  # back in the target's units; scored as numbers
        val_proba, test_proba = scale.restore(val_proba), scale.restore(test_proba)
        val_accuracy, val_loss = numeric_scores(truth, val_proba)
    return FitResult(
        model=model,
        history=history,
        val_proba=val_proba.astype(np.float32),
        test_proba=test_proba.astype(np.float32),
        val_accuracy=val_accuracy if scale else accuracy(truth, val_proba) if validated else float("nan"),
        val_loss=val_loss if scale else log_loss(truth, val_proba) if validated else float("nan"),
        predict_seconds=predict_seconds,
        params=int(model.count_params()),
        device=device.record(),
        epochs=epochs,
        allowance=None if seconds is None else {"seconds": round(float(seconds), 1), "cut": cut},
        target_scale=scale.record() if scale else None,
    )


def build_model(config: TrainConfig, input_shape, n_classes: int, seed: int, multi_label: bool = False,
                table_width: int = 0):
    """config's network for these images, with its augmentation layers in front;
    `multi_label`: ending with a sigmoid unit per label; `table_width`: table numbers joined before it."""
    from kaggle_cnn.architectures import build, heads, table_join

    with own_python_random(seed), heads.multi_label_head(multi_label):
        model = table_join.with_table(build(config.model, input_shape, n_classes, **config.model_options),
                                      table_width, n_classes)
        if config.augment:
            from kaggle_cnn.training.augment import with_augmentation

            model = with_augmentation(model, config.augment, seed)
    return model


def compile_model(model, config: TrainConfig, lr: float, xla: bool = False, soft: bool = False,
                  task: str = SINGLE_LABEL) -> None:
    """Compile with config's optimizer and loss (a two-class model has one sigmoid unit);
    `soft`: the labels are class probabilities; `task` MULTI_LABEL: rows of 0/1 per label,
    REGRESSION: a standardised number, mean squared error."""
    from kaggle_cnn.training import schedules

    multi_label = task == MULTI_LABEL
    binary = model.output_shape[-1] == 1 or multi_label  # one sigmoid unit, or one per label (architectures.heads)
    # Multi-label: the share of (image, label) decisions right, under the name epochs' rows use.
    accuracy_metric = keras.metrics.BinaryAccuracy(name="accuracy") if multi_label else "accuracy"
    model.compile(
        optimizer=make_optimizer(config.optimizer, lr, config.weight_decay, ema=config.ema),
        loss="mean_squared_error" if task == REGRESSION else schedules.loss(config, binary, soft),
        metrics=[keras.metrics.RootMeanSquaredError(name="rmse") if task == REGRESSION else accuracy_metric],
        jit_compile=xla,
    )


@contextlib.contextmanager
def own_python_random(seed: int):
    """Keras seeds every layer and initializer built without a seed from Python's
    global `random`. In a Dask worker another thread (its event loop) draws from
    that same generator at any moment, which changed attempts that local workers
    reproduce exactly; while the model is built, Keras gets a generator of this
    attempt's own, seeded as set_random_seed seeds the global one, so an attempt
    draws the same seeds in a Dask worker as in a local one."""
    import random

    from keras.src.random import (
        seed_generator,  # the module-level name Keras draws from
    )

    shared = seed_generator.python_random
    seed_generator.python_random = random.Random(seed)
    try:
        yield
    finally:
        seed_generator.python_random = shared


@contextlib.contextmanager
def dtype_policy(name: str):
    """Build layers under a Keras dtype policy (mixed precision), then go back to
    float32: an in-process attempt must not leave its policy to the next one.
    Every model ends with a float32 classifier (architectures.heads)."""
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy("float32")


def _fit_phase(model, config: TrainConfig, phase: str, lr: float, first_epoch: int, last_epoch: int, *,
               xla: bool, train_input: dict, val_input, on_epoch: EpochHook | None, curves: str | None,
               steps_per_epoch: int, soft: bool = False, task: str = SINGLE_LABEL,
               started: float, reserve: float, auto: bool = False, seconds: float | None = None,
               ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, bool]:
    """Compile (again: trainable layers may have changed) and fit epochs
    first_epoch+1..last_epoch (fewer with --epochs auto). Returns the epochs' rows
    and, with --epochs auto, the best epoch and what a time allowance held, and
    whether the time allowance ended it before its epochs were done."""
    from kaggle_cnn.training import schedules

    compile_model(model, config, lr, xla, soft, task)
    timer = EpochTimer()
    callbacks = [timer, *schedules.callbacks(config, lr, last_epoch - first_epoch, steps_per_epoch, auto=auto,
                                             seconds=seconds, started=started, first_epoch=first_epoch,
                                             reserve=reserve, validated=val_input is not None)]
    if first_epoch == 0:
        from kaggle_cnn.training.batch_norm import FreshStatistics

        callbacks.insert(0, FreshStatistics(train_input))
    if on_epoch is not None:
        callbacks.append(EpochCallback(on_epoch))
    if curves is not None:
        from kaggle_cnn.training.curves import TensorBoardCurves

        callbacks.append(TensorBoardCurves(curves))
    fitted = model.fit(**train_input, epochs=last_epoch, initial_epoch=first_epoch, validation_data=val_input,
                       callbacks=callbacks, verbose=0)
    from kaggle_cnn.training.batch_norm import recalibrate_batch_norm

    recalibrate_batch_norm(model, train_input)
    timed = next((c for c in callbacks if isinstance(c, schedules.EpochsForTime)), None)
    return (_epoch_rows(fitted.history, timer, first_epoch, phase), _chosen_epochs(callbacks) if auto else None,
            timed is not None and timed.cut)


def _chosen_epochs(callbacks: list) -> dict[str, Any]:
    """--epochs auto: the epoch whose weights were kept (1-based), the patience, the
    epochs a time allowance held, and (cosine or constant rate) where a stalled
    validation loss started the cool-down."""
    from kaggle_cnn.training.schedules import EpochsForTime, ScheduleStopping

    timed = next((c for c in callbacks if isinstance(c, EpochsForTime)), None)
    chosen: dict[str, Any] = {"fitted_to_time": timed.epochs if timed is not None and timed.fitted else None}
    by_schedule = next((c for c in callbacks if isinstance(c, ScheduleStopping)), None)
    if by_schedule is not None:
        return {"best": by_schedule.kept_epoch, "patience": by_schedule.patience, **chosen,
                "kept": by_schedule.kept, "cool_down_after": by_schedule.cooled_at}
    stopping = next((c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)), None)
    if stopping is None:  # a refit: no validation rows to choose by
        return {"best": None, "patience": None, **chosen}
    return {"best": int(stopping.best_epoch) + 1, "patience": int(stopping.patience), **chosen}


def unfreeze(backbone, last_layers: int | None = None) -> None:
    """Make the base trainable: all of it, or its last `last_layers` layers.

    Batch normalisation stays frozen (and, as the base was called with
    training=False, in inference mode): re-estimating its statistics on a small
    dataset undoes what ImageNet taught it (Keras transfer-learning guide)."""
    backbone.trainable = True
    chosen = backbone.layers if not last_layers else backbone.layers[-int(last_layers):]
    for layer in backbone.layers:
        layer.trainable = layer in chosen and not isinstance(layer, keras.layers.BatchNormalization)


def fit_input(x, y, batch_size: int, shuffle_seed: int | None = None, on_gpu: bool = False,
              mix: str | None = None, n_classes: int = 0):
    """What model.fit takes for these images: arrays (Keras batches and shuffles
    them), for ImageFiles a streaming tf.data pipeline, and on a GPU a prefetched
    tf.data pipeline, so the next batch is on its way while the GPU computes.
    With `mix` (--mix) the labels are class probabilities: training batches are
    mixed (kaggle_cnn.training.mixing), validation labels one-hot."""
    training = shuffle_seed is not None
    if mix and n_classes > 2 and not training and not hasattr(x, "tf_dataset"):
        return (x, np.eye(n_classes, dtype=np.float32)[np.asarray(y, dtype=np.int64)])
    if hasattr(x, "tf_dataset"):
        stream = x.tf_dataset(batch_size, labels=y, shuffle_seed=shuffle_seed)
    elif on_gpu or (mix and training):
        import tensorflow as tf

        stream = tf.data.Dataset.from_tensor_slices((x, y))
        if training:
            stream = stream.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
        stream = stream.batch(batch_size)
    elif training:
        return {"x": x, "y": y, "batch_size": batch_size, "shuffle": True}
    else:
        return (x, y)
    if mix and training:
        from kaggle_cnn.training.mixing import mixed_batches

        stream = mixed_batches(stream, mix, n_classes, shuffle_seed)
    elif mix and n_classes > 2:
        import tensorflow as tf

        stream = stream.map(lambda images, labels: (images, tf.one_hot(tf.cast(labels, tf.int32), n_classes)))
    if on_gpu:
        import tensorflow as tf

        stream = stream.prefetch(tf.data.AUTOTUNE)
    return {"x": stream, "shuffle": False} if training else stream  # shuffled in the stream


def predict_proba(model, x, batch_size: int, n_classes: int) -> np.ndarray:
    """One probability column per class for arrays or ImageFiles (streamed)."""
    if len(x) == 0:  # an image folder without test images
        return np.zeros((0, n_classes), dtype=np.float32)
    source = x.tf_dataset(batch_size) if hasattr(x, "tf_dataset") else x
    options = {} if hasattr(x, "tf_dataset") else {"batch_size": batch_size}
    raw = model.predict(source, verbose=0, **options)
    return raw.astype(np.float32) if n_classes == 1 else class_probabilities(raw)  # 1: a number (regression)


def make_optimizer(name: str, lr: float, weight_decay: float | None = None, ema: bool = False):
    check_optimizer(name)
    options = {"learning_rate": lr, "weight_decay": weight_decay, "use_ema": ema}
    if name == "sgd":
        options["momentum"] = 0.9
    return getattr(keras.optimizers, OPTIMIZERS[name])(**options)


def class_probabilities(raw: np.ndarray) -> np.ndarray:
    """One column per class: a sigmoid's single column p becomes (1 - p, p)."""
    raw = np.asarray(raw, dtype=np.float32)
    return np.hstack([1.0 - raw, raw]) if raw.shape[1] == 1 else raw


def _epoch_rows(history: dict[str, list[float]], timer: EpochTimer, first_epoch: int = 0,
                phase: str = "train") -> list[dict[str, Any]]:
    rows = []
    for epoch in range(len(timer.train_seconds)):
        row: dict[str, Any] = {"epoch": first_epoch + epoch + 1, "phase": phase}
        row.update({name: float(values[epoch]) for name, values in history.items()})
        row["train_seconds"] = round(timer.train_seconds[epoch], 4)
        row["val_seconds"] = round(timer.val_seconds[epoch], 4)
        rows.append(row)
    return rows
