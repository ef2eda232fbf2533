"""--time-budget: a budget is a promise, and it is used.

Before anything is written, a short measurement (a few training steps of the
attempt's own model, in this process) says how long an epoch takes here. From it:

- a budget that cannot hold one epoch is refused (one line, nothing written);
- with the epochs fixed (an attempt's epochs not --epochs auto), the projected
  length of an attempt is told first, and a budget that cannot finish one is refused;
- with epochs to fit and no --repeat or --until-kept, how many attempts the budget
  makes: epochs first, then members for the vote. One attempt (one on each worker
  slot) while its share holds no more than the most epochs an attempt trains
  (max_epochs); a budget that holds more makes as few more attempts as use it, up
  to MAX_ATTEMPTS (benchmarks/RESULTS.md says why);
- with the recipe's augmentation or label smoothing left open, what those epochs
  can use: nothing for short attempts; for attempts of LONG_EPOCHS or more, shifts
  (and mirror images where they keep the label), and label smoothing where each
  image has one class, nothing is mixed and the metric is not log-loss
  (benchmarks/RESULTS.md says why).

Once training, each attempt is sent its share of what is left (TimeBudget.share):
an attempt that ends early hands its time on to the attempts after it.

Attempts that take turns over several configurations (`--model a,b`): each
distinct configuration is measured once and planned as above for the same number
of attempts. Every attempt is sent the same share whatever its model, so with
--epochs auto a faster model trains more epochs in its share and the total is
kept. Left to choose, the budget makes the attempts the slowest configuration
would get alone, and at least one of each.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from kaggle_cnn.errors import InputError
from kaggle_cnn.evaluation.metric_registry import accuracy
from kaggle_cnn.labels import SINGLE_LABEL
from kaggle_cnn.training.numeric_targets import target_task
from kaggle_cnn.training.options import batch_size_for

if TYPE_CHECKING:
    from kaggle_cnn.config import TrainConfig
    from kaggle_cnn.data import Dataset
    from kaggle_cnn.store.workspace import Workspace

MAX_ATTEMPTS = 5  # the most attempts a budget makes by itself (--repeat asks for more)
LONG_EPOCHS = 16  # attempts at least this long get shifts (and mirror images where they keep the label)...
SHIFT = "shift=0.1"
SMOOTHING = 0.1  # ...and label smoothing: on 5,000 MNIST digits in 8 minutes, ahead on every seed (RESULTS.md)
CHOOSES = ("augment", "label_smoothing")  # the settings a budget may choose for long attempts, when left open
UNSMOOTHED = ("logloss",)  # metrics that score the probabilities themselves, which label smoothing caps
TIMED_STEPS = 4  # steps timed after the first (which pays for tracing)
NARROW = {"small_resnet": ("width", 16)}  # the default network narrower: about twice the epochs a minute
NARROW_BELOW = 8  # attempts the budget gives fewer epochs than this train the narrower network (RESULTS.md)
FLIP_KEEPS = 0.9  # mirror images are label-safe when a class-mean classifier keeps this share of its accuracy on them


@dataclass
class BudgetPlan:
    """What a budget makes of the recipe: attempts, their epochs, notes for the user."""

    seconds: float
    cost: "Measured"  # an epoch and an attempt's fixed cost, as measured here
    attempts: int
    epochs_each: int  # what each attempt's share holds (fixed epochs: what it trains)
    config: "TrainConfig"
    notes: list[str] = field(default_factory=list)

    @property
    def configs(self) -> "list[TrainConfig]":
        return [self.config]

    def record(self) -> dict[str, Any]:
        return {"minutes": self.seconds / 60, "epoch_seconds": round(self.cost.epoch, 3),
                "attempt_overhead_seconds": round(self.cost.overhead, 1),
                "attempts": self.attempts, "epochs_each": self.epochs_each}


def plan_budget(minutes: float, config: "TrainConfig", arrays: dict, n_classes: int, *, attempts: int | None,
                slots: int = 1, chooses: Collection[str] = (), cost: "Measured | None" = None) -> BudgetPlan:
    """The budget's plan for `config` on these training and validation `arrays`.

    `attempts`: what --repeat (or --until-kept) asks for, None to let the budget
    choose; `slots`: attempts trained at once; `chooses`: the settings of CHOOSES
    the user left to the recipe (the budget may set them); `cost`: `config`'s
    measurement when it was measured already."""
    seconds = minutes * 60
    asked = attempts
    cost = cost or measure(config, arrays, n_classes)
    rounds_of = (lambda n: math.ceil(n / max(1, slots)))
    if not config.auto_epochs:
        attempt = cost.attempt(config.total_epochs)
        fits = int(seconds // attempt) * max(1, slots)
        if fits < 1:
            raise InputError(f"--time-budget {minutes:g}: one attempt of {config.total_epochs} epochs takes about "
                             f"{_minutes(attempt)} here ({cost.epoch:.1f} s an epoch); give more minutes, fewer "
                             f"--epochs, or leave --epochs out to fit them to the budget")
        chosen = attempts if attempts is not None else 1
        notes = [f"time budget {minutes:g} min: an attempt of {config.total_epochs} epochs takes about "
                 f"{_minutes(attempt)} here, so about {fits} can finish"
                 + (f"; only those are launched of the {chosen} asked for" if fits < chosen else "")]
        return BudgetPlan(seconds, cost, chosen, config.total_epochs, config, notes)
    if cost.attempt(1) > seconds:
        raise InputError(f"--time-budget {minutes:g}: one epoch of {config.model} on {len(arrays['y_train'])} images "
                         f"takes about {_minutes(cost.attempt(1))} here, building and predicting included; give at "
                         f"least {_whole_minutes(cost.attempt(1) * 1.5)}")
    attempts = attempts if attempts is not None else _attempts_for(cost, seconds, slots, config.max_epochs)
    epochs_each = max(1, min(config.max_epochs, cost.epochs_in(seconds / rounds_of(attempts))))
    notes = []
    narrow = _narrower(config)
    if narrow is not None and epochs_each < NARROW_BELOW:
        config, cost = narrow, measure(narrow, arrays, n_classes)
        attempts = attempts if asked is not None else _attempts_for(cost, seconds, slots, config.max_epochs)
        epochs_each = max(1, min(config.max_epochs, cost.epochs_in(seconds / rounds_of(attempts))))
        notes.append(f"{config.model} at {NARROW[config.model][0]} {NARROW[config.model][1]}: attempts of fewer "
                     f"than {NARROW_BELOW} epochs train the narrower network (--set "
                     f"{NARROW[config.model][0]}=N to choose)")
    notes.insert(0, f"time budget {minutes:g} min: {cost.epoch:.1f} s an epoch here; "
             + (f"{attempts} attempts of about {epochs_each} epochs each" if attempts > 1
                else f"1 attempt of about {epochs_each} epochs"))
    if epochs_each >= LONG_EPOCHS:
        config = _for_long_attempts(config, arrays, n_classes, chooses, notes)
    return BudgetPlan(seconds, cost, attempts, epochs_each, config, notes)


def _for_long_attempts(config: "TrainConfig", arrays: dict, n_classes: int, chooses: Collection[str],
                       notes: list[str]) -> "TrainConfig":
    """What attempts of LONG_EPOCHS+ epochs learn from where `chooses` leaves it
    to the budget (and the recipe has none): shifts, mirror images where they keep
    the label, and label smoothing for one class an image without --mix (where it
    was measured). Each choice is told in `notes`."""
    if "augment" in chooses and config.augment is None:
        augment = SHIFT + (",hflip" if mirror_keeps_labels(arrays["x_train"], arrays["y_train"], n_classes) else "")
        config = replace(config, augment=augment)
        notes.append(f"augmentation {augment} (attempts of {LONG_EPOCHS}+ epochs; --augment none to leave it out)")
    if ("label_smoothing" in chooses and not config.label_smoothing and not config.mix
            and _one_class_an_image(arrays["y_train"])):
        config = replace(config, label_smoothing=SMOOTHING)
        notes.append(f"label smoothing {SMOOTHING:g} (attempts of {LONG_EPOCHS}+ epochs; --label-smoothing 0 to "
                     f"leave it out)")
    return config


@dataclass
class CyclePlan:
    """What a budget makes of several configurations taking turns."""

    seconds: float
    attempts: int
    configs: "list[TrainConfig]"  # in the plan's order, as the budget changed them
    each: list[BudgetPlan]  # one per distinct configuration
    notes: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {"minutes": self.seconds / 60, "attempts": self.attempts,
                "configs": [{"model": plan.config.model, "epoch_seconds": round(plan.cost.epoch, 3),
                             "attempt_overhead_seconds": round(plan.cost.overhead, 1),
                             "epochs_each": plan.epochs_each} for plan in self.each]}


def plan_cycle(minutes: float, configs: "list[TrainConfig]", arrays: dict, n_classes: int, *,
               attempts: int | None, slots: int = 1, chooses: Collection[str] = ()) -> CyclePlan:
    """The budget's plan for attempts taking turns over `configs` (the other
    arguments as plan_budget's); a configuration that cannot fit one attempt is
    refused as it would be alone."""
    seconds = minutes * 60
    distinct = {_config_key(config): config for config in configs}
    costs = {key: measure(config, arrays, n_classes) for key, config in distinct.items()}
    if attempts is None:
        chosen = min((_attempts_for(costs[key], seconds, slots, config.max_epochs) for key, config in distinct.items()
                      if config.auto_epochs), default=1)
        attempts = max(len(configs), chosen)
    each = {key: plan_budget(minutes, config, arrays, n_classes, attempts=attempts, slots=slots,
                             chooses=chooses, cost=costs[key]) for key, config in distinct.items()}
    notes = [f"time budget {minutes:g} min: {attempts} attempts taking turns over "
             f"{', '.join(config.model for config in configs)}"]
    for plan in each.values():
        model = plan.config.model
        notes.append(f"{model}: {plan.cost.epoch:.1f} s an epoch here, about {plan.epochs_each} epochs an attempt"
                     if plan.config.auto_epochs else f"{model}: an attempt of {plan.epochs_each} epochs takes about "
                     f"{_minutes(plan.cost.attempt(plan.epochs_each))} here")
        notes.extend(f"{model}: {text}" for text in plan.notes[1:])
    return CyclePlan(seconds, attempts, [each[_config_key(c)].config for c in configs], list(each.values()), notes)


def _config_key(config: "TrainConfig") -> str:
    """Configurations listed twice are one to measure and plan."""
    return json.dumps(asdict(config), sort_keys=True, default=str)


def _attempts_for(cost: "Measured", seconds: float, slots: int, most_epochs: int) -> int:
    """Epochs before members: one round of attempts (one on each of `slots`) while
    its share holds no more than `most_epochs`, else as few more rounds as use the
    budget; up to MAX_ATTEMPTS (at least one). On 5,000 MNIST images in 8 minutes,
    one attempt of 40 epochs or two of 22 beat four of 11 on every seed (RESULTS.md)."""
    slots = max(1, slots)
    rounds = 1
    while (rounds + 1) * slots <= MAX_ATTEMPTS and cost.epochs_in(seconds / rounds) > most_epochs:
        rounds += 1
    return max(1, min(MAX_ATTEMPTS, rounds * slots))


def _narrower(config: "TrainConfig") -> "TrainConfig | None":
    """The default network, narrower, when its width is left to the recipe."""
    if config.model not in NARROW or NARROW[config.model][0] in config.model_options:
        return None
    option, value = NARROW[config.model]
    return replace(config, model_options={**config.model_options, option: value})


def budget_for_training(dataset: "Dataset", workspace: "Workspace", configs: "list[TrainConfig]", minutes: float,
                        clock: float, *, repeat: int | None, until_kept: int | None, val_fraction: float | None,
                        slots: int, fit_epochs: bool, leaves: Collection[str] = (), metric: str = "accuracy",
                        note=lambda text: None):
    """`kcnn train --time-budget`, before anything is written: measure here and
    plan; returns the configs to train (those the attempts take turns over), the
    attempts (None: the caller's default), and the budget whose clock started at
    `clock`. `fit_epochs`: fit epochs that the configs fix too (the CLI: --epochs
    not typed); `leaves`: settings the budget leaves as the configs have them
    (the CLI: those typed); `metric`: what the runs are judged by."""
    from kaggle_cnn.config import AUTO
    from kaggle_cnn.data.split import split_arrays
    from kaggle_cnn.training.checks import check_config
    from kaggle_cnn.training.launch import TimeBudget
    from kaggle_cnn.training.options import plan_split

    configs = [replace(config, epochs=AUTO) if fit_epochs and not config.auto_epochs else config
               for config in configs]
    for config in configs:
        check_config(config, dataset.image_shape, dataset.n_classes)  # refused in one line before a model is built
    split, _ = plan_split(workspace, dataset, val_fraction)
    asked = repeat if until_kept is None else until_kept
    arrays = {**split_arrays(dataset, split.val_indices), "x_test": dataset.x_test}
    chooses = [name for name in CHOOSES
               if name not in leaves and not (name == "label_smoothing" and metric in UNSMOOTHED)]
    if len(configs) == 1:
        planned = plan_budget(minutes, configs[0], arrays, dataset.n_classes,
                              attempts=asked, slots=slots, chooses=chooses)
    else:
        planned = plan_cycle(minutes, configs, arrays, dataset.n_classes,
                             attempts=asked, slots=slots, chooses=chooses)
    for text in planned.notes:
        note(text)
    budget = TimeBudget(minutes * 60, attempts=planned.attempts, started=clock, plan=planned.record())
    return planned.configs, repeat if repeat is not None or until_kept is not None else planned.attempts, budget


@dataclass(frozen=True)
class Measured:
    """One attempt's costs here: each epoch, and what it pays once (building,
    tracing the training, validation and prediction steps, predicting, saving)."""

    epoch: float
    overhead: float

    def attempt(self, epochs: int) -> float:
        return self.overhead + epochs * self.epoch

    def epochs_in(self, seconds: float) -> int:
        return int(max(0.0, seconds - self.overhead) // self.epoch)


def measure(config: "TrainConfig", arrays: dict, n_classes: int) -> Measured:
    """Time a few training steps of `config`'s model in this process: the epoch's
    length from the steps after the first, the attempt's fixed cost from building
    it and from its first step (tracing), and predicting the test images."""
    from kaggle_cnn.backend import load_keras
    from kaggle_cnn.training.fit import build_model, compile_model, fit_input

    x, y = arrays["x_train"], arrays["y_train"]
    batch = batch_size_for(config, len(y) + len(arrays["y_val"]))
    rows = min(len(y), batch * (TIMED_STEPS + 1))
    started = time.perf_counter()
    model = build_model(config, x.shape[1:], n_classes, seed=0, table_width=getattr(x, "table_width", 0))
    compile_model(model, config, config.lr)
    ends: list[float] = []

    class StepTimes(load_keras().callbacks.Callback):
        def on_train_begin(self, logs=None):
            ends.append(time.perf_counter())

        def on_train_batch_end(self, batch_, logs=None):
            ends.append(time.perf_counter())

    model.fit(**fit_input(x[:rows], y[:rows], batch, shuffle_seed=0, mix=config.mix, n_classes=n_classes), epochs=1,
              verbose=0, callbacks=[StepTimes()])
    steps = np.diff(ends)
    step = float(np.median(steps[1:])) if len(steps) > 1 else float(steps[0])
    first = float(steps[0]) - step  # the first step's tracing
    validation = math.ceil(len(arrays["y_val"]) / batch) / 3  # a forward pass: about a third of a step
    prediction = math.ceil(len(arrays.get("x_test", ())) / batch) / 3
    build = ends[0] - started
    return Measured(epoch=step * (math.ceil(len(y) / batch) + validation),
                    overhead=build + first + step * prediction)


def mirror_keeps_labels(x, y, n_classes: int, sample: int = 2000) -> bool:
    """Are left-right mirror images still of their class? Decided from the data: a
    nearest-class-mean classifier of the training images keeps FLIP_KEEPS of its
    accuracy on their mirror images (natural photos: about all of it; digits and
    letters: about half)."""
    if hasattr(x, "tf_dataset") or len(y) < 2 * n_classes or not _one_class_an_image(y):
        return False  # streamed image files are not read for this, nor is a class mean had of tags or numbers
    images = np.asarray(x[:sample], dtype=np.float32)
    labels = np.asarray(y[:sample])
    images = images.reshape(len(images), *images.shape[1:3], -1)
    present = np.unique(labels)
    means = np.stack([images[labels == c].mean(axis=0) for c in present]).reshape(len(present), -1)

    def nearest_mean_accuracy(batch) -> float:
        flat = batch.reshape(len(batch), -1)
        distances = (flat ** 2).sum(1)[:, None] - 2 * flat @ means.T + (means ** 2).sum(1)[None, :]
        return accuracy(labels, present[distances.argmin(axis=1)])

    plain = nearest_mean_accuracy(images)
    chance = 1.0 / len(present)
    if plain <= chance:
        return False
    return (nearest_mean_accuracy(images[:, :, ::-1]) - chance) >= FLIP_KEEPS * (plain - chance)


def _one_class_an_image(y) -> bool:
    return np.ndim(y) == 1 and target_task(y) == SINGLE_LABEL  # not tags, numbers or a teacher's probabilities


def _whole_minutes(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' * (minutes != 1)}"


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
