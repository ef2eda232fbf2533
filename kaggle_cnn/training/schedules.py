"""How an attempt's learning rate moves and when it stops, as Keras callbacks:

- cosine: a linear warm-up to `lr`, then a cosine down to 0 at the last step;
  the warm-up is capped at a tenth of the run, so a short run (one epoch) still
  spends most of its steps annealing and ends at a rate of 0;
- constant: the warm-up, then `lr`;
- plateau: ReduceLROnPlateau on the validation loss (the 28x28 write-up's);
- --epochs auto under a cosine or constant rate (ScheduleStopping): the schedule
  decides, not a noisy validation loss at a high rate. Fitted to a time allowance,
  the schedule runs to its end; without one, a validation loss that stalls for
  `patience` epochs starts a cool-down (the rate annealed to 0 over a quarter of
  the epochs so far), and training ends there. The last epoch's weights are kept
  unless an earlier epoch's validation loss was clearly lower;
- --epochs auto under the plateau schedule: early stopping on the validation loss,
  the best epoch's weights restored (the rate drops on a plateau, so the loss is
  judged at a falling rate already);
- with a time allowance (--time-budget): as many epochs as the allowance holds,
  measured on the attempt's own first epochs, the schedule fitted to them; no epoch
  is started that would overrun the allowance, whatever fixed the epochs.

The rate is set before every batch from Python (a variable assignment, microseconds
against a step's milliseconds), so the schedule's length can change after the
first epochs have been timed.
"""

from __future__ import annotations

import math
import time

import numpy as np

from kaggle_cnn.backend import load_keras
from kaggle_cnn.config import TrainConfig

keras = load_keras()

WARMUP_SHARE = 0.1  # the most of a run the warm-up may take
COOL_DOWN_SHARE = 0.25  # a stalled --epochs auto run anneals over this share of its epochs so far (at least 1)
CLEARLY_BETTER = 0.05  # an earlier epoch's weights replace the last ones when its val loss is this much lower


class RateSchedule(keras.callbacks.Callback):
    """Warm-up, then cosine decay (or a constant rate), step by step."""

    def __init__(self, kind: str, lr: float, steps_per_epoch: int, warmup_epochs: float, epochs: int):
        super().__init__()
        self.kind, self.lr, self.steps_per_epoch = kind, float(lr), max(1, int(steps_per_epoch))
        self.warmup_epochs = float(warmup_epochs)
        self.epochs = int(epochs)  # may change: EpochsForTime fits it to the time allowed
        self.cool_down: tuple[int, int, float] | None = None  # (first step, last step, rate there)
        self.step = 0

    @property
    def warmup_steps(self) -> int:
        """The warm-up's steps: as configured, at most WARMUP_SHARE of the run."""
        return int(round(min(self.warmup_epochs, WARMUP_SHARE * self.epochs) * self.steps_per_epoch))

    def rate(self, step: int) -> float:
        if self.cool_down is not None and step >= self.cool_down[0]:
            first, last, start_rate = self.cool_down
            progress = min(1.0, (step - first) / max(1, last - first))
            return 0.5 * start_rate * (1.0 + math.cos(math.pi * progress))
        warmup = self.warmup_steps
        if step < warmup:
            return self.lr * (step + 1) / warmup
        if self.kind == "constant":
            return self.lr
        decay_steps = max(1, self.epochs * self.steps_per_epoch - warmup)
        progress = min(1.0, (step - warmup) / decay_steps)
        return 0.5 * self.lr * (1.0 + math.cos(math.pi * progress))

    def end_after(self, epochs: int) -> None:
        """Anneal from the rate now to 0 over the next `epochs` epochs, and end there."""
        self.cool_down = (self.step, self.step + epochs * self.steps_per_epoch, self.rate(self.step))
        self.epochs = self.step // self.steps_per_epoch + epochs

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.rate(self.step))
        self.step += 1


class EpochsForTime(keras.callbacks.Callback):
    """Keep an attempt within `seconds`. With `fit` (the epochs were not typed), the
    epochs the allowance holds (at most `cap`) are counted after each of the first
    two epochs (the first's traced step left out) from the last epoch's length, and
    the schedule is stretched or shrunk to them, again after every epoch of its
    first half (on the median of the last three epochs); later, an epoch slower than
    planned shortens it. In every case an epoch that would
    overrun the allowance is not started, and a batch past it ends training."""

    def __init__(self, seconds: float, cap: int, started: float, schedule: RateSchedule | None,
                 first_epoch: int = 0, reserve: float = 1.0, fit: bool = True):
        super().__init__()
        self.seconds, self.cap, self.started, self.schedule = float(seconds), int(cap), started, schedule
        self.first_epoch = first_epoch
        self.reserve = reserve  # epochs' worth of time kept for predicting and saving after the last epoch
        self.fit = fit
        self.epochs = int(cap)  # what the allowance holds, once measured
        self.fitted = False
        self.cut = False  # training ended by the allowance before its epochs were done
        self.lengths: list[float] = []  # each epoch's seconds (the first's traced step left out)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._after_first_batch = None
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self._batches += 1
        if self._after_first_batch is None:
            self._after_first_batch = now
        # The promise of a budget: a first epoch far longer than measured cannot run on.
        if now - self.started > self.seconds:
            self.model.stop_training = self.cut = True

    def _epoch_length(self, epoch: int, now: float) -> float:
        """The last epoch's length; for the phase's first, its batches after the first
        (which traced the step) scaled to all of them: tracing is paid once."""
        if epoch == self.first_epoch and self._after_first_batch is not None and self._batches > 2:
            return (now - self._after_first_batch) * self._batches / (self._batches - 1)
        return now - self._epoch_start

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1 - self.first_epoch
        now = time.perf_counter()
        self.lengths.append(self._epoch_length(epoch, now))
        recent = (self.lengths[1:] or self.lengths)[-3:]  # after the first epoch, the epochs after it
        last = float(np.median(recent))
        # What is left of the allowance, less what predicting and saving will take.
        left = self.seconds - (now - self.started) - self.reserve * last
        affordable = done + int(max(0.0, left) // max(last, 1e-6))
        # Fitted again after every epoch of the schedule's first half (a busy machine's
        # slow epochs neither cut it short nor leave time unused); in the second half
        # only shortened, so the rate keeps falling and ends at 0 in time.
        if self.fit and (done <= max(2, self.epochs // 2) or affordable < self.epochs):
            self.epochs = max(done, min(self.cap, affordable))
            self.fitted = True
            if self.schedule is not None:
                self.schedule.epochs = self.epochs
        if self.schedule is not None:  # a cool-down may have ended the schedule sooner
            self.epochs = min(self.epochs, self.schedule.epochs)
        if done >= self.epochs:
            self.model.stop_training = True
        elif affordable <= done:
            self.model.stop_training = self.cut = True


class ScheduleStopping(keras.callbacks.Callback):
    """--epochs auto under a cosine or constant rate: the schedule sets the length.
    `stall` (no time allowance): a validation loss that has not improved for
    `patience` epochs starts a cool-down to the end. At the end, the last epoch's
    weights are kept unless the best epoch's validation loss was clearly lower."""

    def __init__(self, schedule: RateSchedule, patience: int, first_epoch: int = 0, stall: bool = True,
                 restore: bool = True):
        super().__init__()
        self.schedule, self.patience, self.first_epoch, self.stall = schedule, int(patience), first_epoch, stall
        self.restore = restore  # False (--ema): the run ends with its weights' average, never an epoch's own
        self.best_loss, self.best_epoch, self.best_weights = math.inf, 0, None
        self.last_loss = math.inf
        self.cooled_at: int | None = None  # the epoch (1-based) whose stall started the cool-down
        self.kept = "last"

    def on_epoch_end(self, epoch, logs=None):
        loss = float((logs or {}).get("val_loss", math.nan))
        self.last_loss = loss
        if loss < self.best_loss:
            self.best_loss, self.best_epoch = loss, epoch
            self.best_weights = self.model.get_weights() if self.restore else None
        done = epoch + 1 - self.first_epoch
        if self.stall and self.cooled_at is None and epoch - self.best_epoch >= self.patience:
            cool = max(1, math.ceil(COOL_DOWN_SHARE * done))
            if done + cool < self.schedule.epochs:  # shorter than the schedule's own end
                self.schedule.end_after(cool)
                self.cooled_at = epoch + 1
        if done >= self.schedule.epochs:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore and self.best_weights is not None and self.best_loss < (1 - CLEARLY_BETTER) * self.last_loss:
            self.model.set_weights(self.best_weights)
            self.kept = "best"
        self.best_weights = None  # no copy of the weights outlives training

    @property
    def kept_epoch(self) -> int:
        """The epoch (1-based) whose weights the model ends with."""
        return self.best_epoch + 1 if self.kept == "best" else self.last_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.last_epoch = epoch + 1


def patience(config: TrainConfig) -> int:
    """Epochs without a better validation loss before --epochs auto acts: given,
    or twice the plateau's patience (the rate gets a drop and as long again to
    help), or a tenth of --max-epochs (at least 3) under a cosine or constant rate."""
    if config.patience is not None:
        return config.patience
    if config.schedule == "plateau":
        return 2 * config.reduce_lr_patience
    return max(3, math.ceil(config.max_epochs / 10))


def callbacks(config: TrainConfig, lr: float, epochs: int, steps_per_epoch: int, *, auto: bool,
              seconds: float | None, started: float, first_epoch: int, reserve: float = 1.0,
              validated: bool = True, fit_epochs: bool | None = None) -> list:
    """The rate schedule, stopping and time keeping of one training phase
    (without validation rows, a refit's, the plateau schedule watches the training
    loss). `fit_epochs`: fit the epochs to `seconds` (default: with --epochs auto)."""
    made: list = []
    schedule = None
    if config.schedule == "plateau":
        made.append(keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss" if validated else "loss", factor=config.reduce_lr_factor, patience=config.reduce_lr_patience,
            min_lr=min(config.min_lr, lr)))
    else:
        schedule = RateSchedule(config.schedule, lr, steps_per_epoch, config.warmup_epochs, epochs)
        made.append(schedule)
    if seconds is not None:
        made.append(EpochsForTime(seconds, epochs, started, schedule, first_epoch, reserve,
                                  fit=auto if fit_epochs is None else fit_epochs))
    if auto and validated and schedule is not None:
        made.append(ScheduleStopping(schedule, patience(config), first_epoch, stall=seconds is None,
                                     restore=not config.ema))
    elif (auto or config.patience is not None) and validated:
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


def loss(config: TrainConfig, binary: bool, soft: bool = False):
    """The training loss: plain cross-entropy (what every run used before label
    smoothing), or with label smoothing; with --mix or `soft` targets (a teacher's),
    on class probabilities."""
    if binary:
        return keras.losses.BinaryCrossentropy(label_smoothing=config.label_smoothing) if config.label_smoothing \
            else "binary_crossentropy"
    if config.mix or soft:
        return keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    return SparseCrossentropy(config.label_smoothing) if config.label_smoothing else "sparse_categorical_crossentropy"
