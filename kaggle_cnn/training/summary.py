"""What training reports as it goes (TrainReporter, for a progress display) and
what it returns (TrainSummary): the attempts of one command, kept or not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from kaggle_cnn.evaluation.metric_registry import Metric, get_metric
from kaggle_cnn.training.launch import TimeBudget
from kaggle_cnn.training.records import Attempt


class TrainReporter(Protocol):
    """What training tells a progress display (kaggle_cnn.cli.render has the CLI's).
    With several attempts in flight, epochs arrive interleaved, named by run id."""

    def note(self, text: str) -> None: ...
    def attempt_started(self, number: int, total: int | None, run_id: str, epochs: int, device: str = "") -> None: ...
    def epoch_ended(self, run_id: str, epoch: int, logs: dict[str, float]) -> None: ...
    def attempt_ended(self, attempt: "Attempt") -> None: ...


class SilentReporter:
    def note(self, text):
        pass

    def attempt_started(self, number, total, run_id, epochs, device=""):
        pass

    def epoch_ended(self, run_id, epoch, logs):
        pass

    def attempt_ended(self, attempt):
        pass


@dataclass
class TrainSummary:
    keep_above: float | None  # None: every run kept
    attempts: list[Attempt] = field(default_factory=list)
    engine: str = "one at a time in this process"  # how the attempts were spread
    plan: str = ""  # the plan file, e.g. 0003.json
    finished: bool = True  # False: the plan's target is not met yet (a time budget stopped it): --resume goes on
    budget: TimeBudget | None = None
    until_kept: int | None = None
    metric: str = "accuracy"  # what keep_above judged

    @property
    def judged_by(self) -> Metric:
        return get_metric(self.metric)

    @property
    def kept(self) -> list[Attempt]:
        return [a for a in self.attempts if a.kept]

    def accuracy_stats(self) -> dict[str, float]:
        """Mean, spread and best of the attempts' scores by the metric (best: the lowest loss), and timings."""
        scores = np.array([a.score for a in self.attempts])
        if not len(scores):
            return dict.fromkeys(("mean", "std", "best", "epoch_train_seconds", "predict_seconds"), float("nan"))
        return {
            "mean": float(scores.mean()), "std": float(scores.std()),
            "best": self.judged_by.best(scores),
            "epoch_train_seconds": float(np.mean([a.epoch_train_seconds for a in self.attempts])),
            "predict_seconds": float(np.mean([a.predict_seconds for a in self.attempts])),
        }
