"""Launching attempts on an engine's slots and storing them in attempt order.

Up to one attempt per slot is in flight. Whatever order they finish in, results
are stored in the order the attempts were planned, exactly as one-at-a-time
training stores them, so the same seeds give the same workspace. Launching stops
when the target is met (`want_more`), when an attempt failed, or when the time
budget says the next attempt cannot finish in time; attempts in flight always
finish and are stored.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from kaggle_cnn.errors import AttemptFailed
from kaggle_cnn.training.engines import outcome
from kaggle_cnn.training.workers import AttemptTask, Failure


@dataclass(frozen=True)
class Planned:
    """One attempt to launch: its place in this command (1-based), its task."""

    number: int
    task: AttemptTask


@dataclass
class TimeBudget:
    """--time-budget: no attempt is launched that the attempts measured so far say
    cannot finish before the deadline, and every attempt is sent the time it may
    take (kaggle_cnn.training.fit keeps to it). Before any attempt has finished, an
    attempt's length is projected from its epochs so far."""

    seconds: float
    attempts: int = 1  # the attempts the target asks for: with --epochs auto, each gets its share of the time
    started: float = field(default_factory=time.monotonic)
    plan: dict[str, Any] | None = None  # what kaggle_cnn.training.budget measured and planned
    durations: list[float] = field(default_factory=list)  # attempts finished, launch to result
    stopped: bool = False  # it refused a launch (and refuses every later one)
    left_when_stopped: float | None = None
    estimate_when_stopped: float | None = None
    finished_at: float | None = None  # when the last attempt was stored

    @property
    def deadline(self) -> float:
        return self.started + self.seconds

    def estimate(self, running: dict[str, "Running"]) -> float | None:
        if self.durations:
            return sum(self.durations) / len(self.durations)
        projections = [r.projected() for r in running.values() if r.epochs_done]
        return max(projections) if projections else None

    def allows(self, now: float, running: dict[str, "Running"]) -> bool:
        if self.stopped:
            return False
        estimate = self.estimate(running)
        left = self.deadline - now
        if left > 0 and (estimate is None or estimate <= left):
            return True
        self.stopped, self.left_when_stopped, self.estimate_when_stopped = True, max(0.0, left), estimate
        return False

    def share(self, now: float, launched: int, slots: int) -> float:
        """The time an attempt launched now may take (--epochs auto fits its epochs to
        it): what is left, shared by the rounds of attempts still to come."""
        rounds = math.ceil(max(1, self.attempts - launched) / max(1, slots))
        return max(0.0, self.deadline - now) / rounds

    def allowance(self, now: float, launched: int, slots: int, fitted: bool) -> float:
        """What an attempt launched now is sent: its share when its epochs are fitted
        to it, else all that is left (it ends before an epoch that would overrun)."""
        return self.share(now, launched, slots) if fitted else max(0.0, self.deadline - now)

    def spent(self, now: float) -> float:
        return now - self.started

    def reason(self, trained: int) -> str:
        """Why training ended, as the summary and the plan say it."""
        if self.stopped:
            estimate = "" if self.estimate_when_stopped is None else \
                f"an attempt takes about {self.estimate_when_stopped:.0f} s and "
            return f"stopped launching: {estimate}{self.left_when_stopped:.0f} s were left"
        return f"{trained} of {self.attempts} planned attempts trained" if trained < self.attempts \
            else "every planned attempt trained"

    def outcome(self, trained: int) -> dict[str, Any]:
        """What the plan file records of this budget."""
        return {"minutes": self.seconds / 60, "used_seconds": round(self.spent(self.finished_at or time.monotonic()), 1),
                "attempts_trained": trained, "stopped": self.reason(trained), **(self.plan or {})}


@dataclass
class Running:
    planned: Planned
    slot: int
    epochs: int
    launched: float = field(default_factory=time.monotonic)
    epochs_done: int = 0
    last_epoch_at: float | None = None

    def projected(self) -> float:
        """The whole attempt's length, from its epochs so far."""
        return (self.last_epoch_at - self.launched) / self.epochs_done * self.epochs


@dataclass
class Ordered:
    """What launch_in_order did: results stored, launches the target or the budget stopped."""

    stored: list[Any] = field(default_factory=list)  # what `store` returned, in attempt order
    launched: int = 0
    budget: TimeBudget | None = None


def launch_in_order(engine, planned: Iterable[Planned], *, store: Callable[[Planned, Any, float], Any],
                    want_more: Callable[[list[Any]], bool], started: Callable[[Planned, str], None],
                    epoch_ended: Callable[[str, int, dict], None] | None = None, epochs: int | None = None,
                    budget: TimeBudget | None = None, stop_on_failure: bool = True,
                    epochs_to_budget: bool | None = None) -> Ordered:
    """Train `planned` attempts on `engine`'s slots, one per slot at a time.

    `store(planned, result, seconds)` keeps or discards one result (FitResult or
    Failure), in attempt order, and returns what the caller counts; `want_more`
    sees the results finished so far (stored or waiting for an earlier one) and
    says whether to launch another. A Failure stops launching (unless not
    `stop_on_failure`: a search goes on); once the attempts in flight are stored,
    AttemptFailed is raised. Under a `budget` each attempt is sent the time it may
    take: with `epochs_to_budget` (--epochs auto) its share, which its epochs are
    fitted to, else what is left. `epochs` (what projects an attempt's length from
    its epochs so far) and `epochs_to_budget` left None are each attempt's own:
    its config's epochs, and whether they are auto (attempts of several
    configurations take turns in one plan)."""
    planned = list(planned)
    pending: Iterator[Planned] = iter(planned)
    free = list(range(len(engine.slots)))
    running: dict[Any, Running] = {}
    by_run: dict[str, Running] = {}
    finished: dict[int, tuple[Planned, Any, float]] = {}  # waiting to be stored
    results: list[Any] = []  # every result so far, stored or waiting
    report = Ordered(budget=budget)
    next_number = None
    failure: str | None = None

    def on_epoch(run_id: str, epoch: int, logs: dict) -> None:
        if run_id in by_run:
            by_run[run_id].epochs_done = epoch + 1
            by_run[run_id].last_epoch_at = time.monotonic()
        if epoch_ended is not None:
            epoch_ended(run_id, epoch, logs)

    while True:
        while free and failure is None and report.launched < len(planned) and want_more(results) and \
                (budget is None or report.launched == 0 or budget.allows(time.monotonic(), by_run)):
            attempt = next(pending, None)
            if attempt is None:
                break
            next_number = attempt.number if next_number is None else next_number
            config = getattr(attempt.task, "config", None)
            if budget is not None:
                fitted = epochs_to_budget if epochs_to_budget is not None else bool(config and config.auto_epochs)
                attempt = replace(attempt, task=attempt.task.with_seconds(budget.allowance(
                    time.monotonic(), report.launched, len(engine.slots), fitted)))
            slot = free.pop(0)
            state = Running(attempt, slot, epochs if epochs is not None else config.total_epochs if config else 1)
            by_run[attempt.task.run_id] = state
            started(attempt, engine.slots[slot].name)
            report.launched += 1
            try:
                future = engine.submit(slot, attempt.task, on_epoch)
            except Exception as error:  # in this process: recorded, then raised with its traceback
                store(attempt, Failure(f"{type(error).__name__}: {error}"), time.monotonic() - state.launched)
                raise
            running[future] = state
        if not running:
            break
        for future in engine.wait(running, 0.5, on_epoch):
            state = running.pop(future)
            del by_run[state.planned.task.run_id]
            free.append(state.slot)
            free.sort()
            result = outcome(future)
            seconds = time.monotonic() - state.launched
            if isinstance(result, Failure) and stop_on_failure:
                failure = failure or f"attempt {state.planned.task.run_id} failed: {result}"
            elif budget is not None:
                budget.durations.append(seconds)
            finished[state.planned.number] = (state.planned, result, seconds)
            results.append(result)
        while next_number in finished:  # store in attempt order
            report.stored.append(store(*finished.pop(next_number)))
            next_number += 1
    if budget is not None:
        budget.finished_at = time.monotonic()
    if failure is not None:
        raise AttemptFailed(f"{failure} (the attempts in flight were stored; `kcnn train --resume` goes on)")
    return report
