"""The two light callbacks every run's Keras `fit` carries: per-epoch timing and
forwarding each epoch's logs to the progress display."""

from __future__ import annotations

import time
from collections.abc import Callable

from kaggle_cnn.backend import load_keras

keras = load_keras()

EpochHook = Callable[[int, dict[str, float]], None]


class EpochTimer(keras.callbacks.Callback):
    """Seconds spent training and validating in each epoch (the 28x28 Kaggle write-up's timing table)."""

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
