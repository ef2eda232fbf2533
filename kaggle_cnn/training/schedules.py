"""How an attempt's learning rate moves and when it stops, as Keras callbacks:

- cosine: a linear warm-up to `lr`, then a cosine down to 0 at the last step;
- constant: the warm-up, then `lr`;
- plateau: ReduceLROnPlateau on the validation loss (the 28x28 write-up's);
- --epochs auto: early stopping on the validation loss with patience scaled to the
  schedule, the best epoch's weights restored;
- with a time allowance (--time-budget with --epochs auto): as many epochs as the
  allowance holds, measured on the attempt's own first epochs, the cosine fitted to
  them.

The rate is set before every batch from Python (a variable assignment, microseconds
against a step's milliseconds), so the schedule's length can change after the
first epochs have been timed.
"""

from __future__ import annotations

import math
import time

from kaggle_cnn.backend import load_keras
from kaggle_cnn.config import TrainConfig

keras = load_keras()


class RateSchedule(keras.callbacks.Callback):
    """Warm-up, then cosine decay (or a constant rate), step by step."""

    def __init__(self, kind: str, lr: float, steps_per_epoch: int, warmup_epochs: float, epochs: int):
        super().__init__()
        self.kind, self.lr, self.steps_per_epoch = kind, float(lr), max(1, int(steps_per_epoch))
        self.warmup_steps = int(round(warmup_epochs * self.steps_per_epoch))
        self.epochs = int(epochs)  # may change: EpochsForTime fits it to the time allowed
        self.step = 0

    def rate(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.kind == "constant":
            return self.lr
        decay_steps = max(1, self.epochs * self.steps_per_epoch - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        return 0.5 * self.lr * (1.0 + math.cos(math.pi * progress))

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.rate(self.step))
        self.step += 1


class EpochsForTime(keras.callbacks.Callback):
    """Train as many epochs as `seconds` allow (at most `cap`): after each of the
    first two epochs (the first pays for tracing) the epochs still affordable are
    counted from the last epoch's length, and the schedule is stretched or shrunk
    to them; later, an epoch that would overrun the allowance is not started."""

    def __init__(self, seconds: float, cap: int, started: float, schedule: RateSchedule | None,
                 first_epoch: int = 0, reserve: float = 1.0):
        super().__init__()
        self.seconds, self.cap, self.started, self.schedule = float(seconds), int(cap), started, schedule
        self.first_epoch = first_epoch
        self.reserve = reserve  # epochs' worth of time kept for predicting and saving after the last epoch
        self.epochs = int(cap)  # what the allowance holds, once measured
        self.fitted = False

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1 - self.first_epoch
        now = time.perf_counter()
        last = now - self._epoch_start
        # What is left of the allowance, less what predicting and saving will take.
        left = self.seconds - (now - self.started) - self.reserve * last
        affordable = done + int(max(0.0, left) // max(last, 1e-6))
        if done <= 2:
            self.epochs = max(done, min(self.cap, affordable))
            self.fitted = True
            if self.schedule is not None:
                self.schedule.epochs = self.epochs
        if done >= self.epochs or affordable <= done:
            self.model.stop_training = True


def patience(config: TrainConfig) -> int:
    """Epochs without a better validation loss before --epochs auto stops: given,
    or twice the plateau's patience (the rate gets a drop and as long again to
    help), or a tenth of --max-epochs (at least 3) under a cosine or constant rate."""
    if config.patience is not None:
        return config.patience
    if config.schedule == "plateau":
        return 2 * config.reduce_lr_patience
    return max(3, math.ceil(config.max_epochs / 10))


def callbacks(config: TrainConfig, lr: float, epochs: int, steps_per_epoch: int, *, auto: bool,
              seconds: float | None, started: float, first_epoch: int, reserve: float = 1.0,
              validated: bool = True) -> list:
    """The rate schedule, early stopping and time fitting of one training phase
    (without validation rows, a refit's, the plateau schedule watches the training loss)."""
    made: list = []
    schedule = None
    if config.schedule == "plateau":
        made.append(keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss" if validated else "loss", factor=config.reduce_lr_factor, patience=config.reduce_lr_patience,
            min_lr=min(config.min_lr, lr)))
    else:
        schedule = RateSchedule(config.schedule, lr, steps_per_epoch, config.warmup_epochs, epochs)
        made.append(schedule)
    if auto and seconds is not None:
        made.append(EpochsForTime(seconds, epochs, started, schedule, first_epoch, reserve))
    if auto or config.patience is not None:
        made.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience(config),
                                                  restore_best_weights=True))
    return made


@keras.saving.register_keras_serializable(package="kaggle_cnn")
class SparseCrossentropy(keras.losses.Loss):
    """Cross-entropy on integer labels with label smoothing, which Keras offers only
    for one-hot labels: the labels become one-hot inside the loss."""

    def __init__(self, label_smoothing: float = 0.0, name: str = "smoothed_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        ops = keras.ops
        labels = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), ops.shape(y_pred)[-1])
        return keras.losses.categorical_crossentropy(labels, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def loss(config: TrainConfig, binary: bool):
    """The training loss: plain cross-entropy (what every run used before label
    smoothing), or with label smoothing."""
    if binary:
        return keras.losses.BinaryCrossentropy(label_smoothing=config.label_smoothing) if config.label_smoothing \
            else "binary_crossentropy"
    return SparseCrossentropy(config.label_smoothing) if config.label_smoothing else "sparse_categorical_crossentropy"
