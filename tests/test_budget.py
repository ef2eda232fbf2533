"""--time-budget: measured before anything is written, kept by every attempt,
and what a budget makes of the recipe (attempts, epochs, augmentation, label smoothing)."""

import json

import numpy as np
import pytest

from kaggle_cnn import api
from kaggle_cnn.config import TrainConfig
from kaggle_cnn.training import budget as budgets
from kaggle_cnn.training.budget import Measured

TINY = ("--batch-size", 32, "--set", "width=4", "--set", "stages=2")


def _arrays(rows=600, val=60, test=100):
    rng = np.random.default_rng(0)
    return {"x_train": rng.random((rows, 8, 8, 1), dtype=np.float32), "y_train": np.arange(rows) % 10,
            "x_val": np.zeros((val, 8, 8, 1), np.float32), "y_val": np.arange(val) % 10,
            "x_test": np.zeros((test, 8, 8, 1), np.float32)}


@pytest.fixture
def measured(monkeypatch):
    """Epochs of 1 s and 5 s an attempt, whatever this machine does."""
    monkeypatch.setattr(budgets, "measure", lambda config, arrays, n_classes: Measured(epoch=1.0, overhead=5.0))


def test_a_budget_alone_buys_epochs_first_then_attempts_for_the_vote(measured):
    auto = TrainConfig(epochs="auto")  # at most 40 epochs an attempt (max_epochs)
    # 40 s: one attempt holds 35 epochs, under the 40 an attempt trains: one attempt, not two of 15
    plan = budgets.plan_budget(40 / 60, auto, _arrays(), 10, attempts=None)
    assert (plan.attempts, plan.epochs_each) == (1, 35)
    assert "1 attempt of about 35 epochs" in plan.notes[0]
    # 2 minutes: one attempt would hold 115 epochs, two 55 each, three 35: the fewest that use the budget
    plan = budgets.plan_budget(2, auto, _arrays(), 10, attempts=None)
    assert (plan.attempts, plan.epochs_each) == (3, 35)
    assert "3 attempts of about 35 epochs each" in plan.notes[0]
    # 10 minutes: at most MAX_ATTEMPTS, each at most 40 epochs
    plan = budgets.plan_budget(10, auto, _arrays(), 10, attempts=None)
    assert (plan.attempts, plan.epochs_each) == (budgets.MAX_ATTEMPTS, 40)
    # two worker slots: one attempt on each, whatever the budget
    assert budgets.plan_budget(40 / 60, auto, _arrays(), 10, attempts=None, slots=2).attempts == 2
    # --repeat 3 asked: three, whatever they get
    assert budgets.plan_budget(40 / 60, auto, _arrays(), 10, attempts=3).attempts == 3


def test_attempts_long_enough_get_shifts_mirror_images_where_they_keep_the_label_and_label_smoothing(measured):
    auto, digits, both = TrainConfig(epochs="auto"), _arrays(), budgets.CHOOSES
    long_ones = budgets.plan_budget(2, auto, digits, 10, attempts=1, chooses=both)
    assert long_ones.config.augment == budgets.SHIFT  # random pixels: mirror images are another class's
    assert long_ones.config.label_smoothing == budgets.SMOOTHING
    assert long_ones.notes[1:] == ["augmentation shift=0.1 (attempts of 16+ epochs; --augment none to leave it out)",
                                   "label smoothing 0.1 (attempts of 16+ epochs; --label-smoothing 0 to leave it out)"]
    short_ones = budgets.plan_budget(2, auto, digits, 10, attempts=5 * 8, chooses=both)
    assert (short_ones.config.augment, short_ones.config.label_smoothing) == (None, 0.0)
    typed = budgets.plan_budget(2, auto, digits, 10, attempts=1, chooses=())
    assert (typed.config.augment, typed.config.label_smoothing) == (None, 0.0)
    # label smoothing only where it was measured: one class an image, nothing mixed
    tags = {**digits, "y_train": np.eye(10, dtype=bool)[digits["y_train"]]}
    tagged = budgets.plan_budget(2, auto, tags, 10, attempts=1, chooses=both).config  # no class means of tags
    assert (tagged.augment, tagged.label_smoothing) == (budgets.SHIFT, 0.0)
    mixed = TrainConfig(epochs="auto", mix="mixup=0.2")
    assert budgets.plan_budget(2, mixed, digits, 10, attempts=1, chooses=both).config.label_smoothing == 0.0


def test_what_is_typed_the_budget_leaves_as_it_is(kcnn, competition, tmp_path, measured, monkeypatch):
    from kaggle_cnn.errors import InputError

    planned, plan_for_training = [], budgets.budget_for_training

    def plan_then_stop(*args, **kwargs):
        planned.append(plan_for_training(*args, **kwargs)[0][0])
        raise InputError("planned")

    monkeypatch.setattr(budgets, "budget_for_training", plan_then_stop)
    # 30 s: one attempt of 25 epochs; log-loss scores the probabilities that label smoothing caps
    for typed in ((), ("--label-smoothing", 0), ("--augment", "none"), ("--metric", "logloss")):
        result = kcnn("-w", tmp_path / str(len(planned)), "train", "--data", competition, *typed, "--time-budget", 0.5)
        assert result.exit_code == 2 and "planned" in result.output
    assert [(config.augment, config.label_smoothing) for config in planned] == [
        (budgets.SHIFT, 0.1), (budgets.SHIFT, 0.0), (None, 0.1), (budgets.SHIFT, 0.0)]


def test_mirror_images_keep_the_label_of_symmetric_classes_not_of_digits():
    from kaggle_cnn.data.demo import demo_path

    digits = api.load_data(demo_path())
    assert not budgets.mirror_keeps_labels(digits.x_train[:1000], digits.y_train[:1000], 10)
    rng = np.random.default_rng(0)
    bars = np.zeros((200, 16, 16, 1), np.float32)
    labels = np.arange(200) % 2
    bars[labels == 0, 6:10, :, 0] = 1.0  # a horizontal bar: its own mirror image
    bars[labels == 1, :, 6:10, 0] = 1.0  # a vertical bar, centred
    assert budgets.mirror_keeps_labels(bars + rng.random(bars.shape, dtype=np.float32), labels, 2)


def test_fixed_epochs_project_the_attempt_and_a_budget_that_cannot_finish_one_is_refused(measured):
    from kaggle_cnn.errors import InputError

    plan = budgets.plan_budget(1, TrainConfig(epochs=10), _arrays(), 10, attempts=8)
    assert plan.attempts == 8 and plan.config.epochs == 10
    assert plan.notes == ["time budget 1 min: an attempt of 10 epochs takes about 15 s here, so about 4 can "
                          "finish; only those are launched of the 8 asked for"]
    with pytest.raises(InputError, match=r"--time-budget 0.2: one attempt of 10 epochs takes about 15 s here"):
        budgets.plan_budget(0.2, TrainConfig(epochs=10), _arrays(), 10, attempts=None)
    with pytest.raises(InputError, match=r"--time-budget 0.05: one epoch of small_resnet on 600 images takes about "
                                         r"6 s here"):
        budgets.plan_budget(0.05, TrainConfig(epochs="auto"), _arrays(), 10, attempts=None)


def test_fixed_epochs_end_before_an_epoch_that_would_overrun_the_allowance(monkeypatch):
    from kaggle_cnn.training import schedules

    clock = {"now": 0.0}
    monkeypatch.setattr(schedules.time, "perf_counter", lambda: clock["now"])
    cosine = schedules.RateSchedule("cosine", 0.1, 10, 1, epochs=20)
    keeping = schedules.EpochsForTime(35, cap=20, started=0.0, schedule=cosine, reserve=0.0, fit=False)

    class Model:
        stop_training = False

    keeping.set_model(Model())
    for epoch in range(20):
        keeping.on_epoch_begin(epoch)
        clock["now"] += 10.0
        keeping.on_epoch_end(epoch)
        if keeping.model.stop_training:
            break
    assert epoch + 1 == 3 and keeping.cut and cosine.epochs == 20  # a 4th would end at 40 s; the schedule unchanged


def test_a_budget_too_small_for_one_epoch_is_one_line_and_writes_nothing(kcnn, assert_refused, competition,
                                                                        tmp_path):
    assert_refused(kcnn("-w", tmp_path, "train", "--data", competition, *TINY, "--time-budget", 0.001),
                   "--time-budget 0.001: one epoch of small_resnet on 270 images takes about")
    assert_refused(kcnn("-w", tmp_path, "train", "--data", competition, *TINY, "--epochs", 5000,
                        "--time-budget", 0.1), "--time-budget 0.1: one attempt of 5000 epochs takes about")
    assert not any(tmp_path.iterdir())


def test_a_budget_alone_fits_the_epochs_and_says_how_it_was_spent(kcnn, competition, tmp_path):
    result = kcnn("-w", tmp_path, "train", "--data", competition, *TINY, "--time-budget", 0.3)
    assert result.exit_code == 0, result.output
    assert "time budget 0.3 min: " in result.output and " s an epoch here; " in result.output
    runs = api.Workspace(tmp_path).read_index()
    plan = json.loads((tmp_path / "models" / "plans" / "0001.json").read_text())
    spent = plan["time_budgets"][0]
    assert plan["config"]["epochs"] == "auto" and spent["attempts"] == len(plan["run_ids"])
    assert spent["attempts_trained"] == len(runs) and spent["used_seconds"] <= 18 + 3
    assert f"time budget 18 s: {spent['used_seconds']:.0f} s used, {len(runs)} attempt" in result.output
    record = json.loads((tmp_path / "models" / runs["run_id"].iloc[0] / "run.json").read_text())
    assert record["epochs_chosen"]["fitted_to_time"] == record["phases"]["train"]
    assert 0 < record["time_allowance"]["seconds"] <= 18


def test_attempts_too_short_for_the_default_network_train_it_narrower(monkeypatch):
    def measure(config, arrays, n_classes):  # the narrower network: a third of the epoch
        return Measured(epoch=10.0 if config.model_options.get("width") == 16 else 30.0, overhead=5.0)

    monkeypatch.setattr(budgets, "measure", measure)
    plan = budgets.plan_budget(2, TrainConfig(epochs="auto"), _arrays(), 10, attempts=None)
    assert plan.config.model_options == {"width": 16} and plan.epochs_each == 11  # (120 - 5) // 10
    assert "small_resnet at width 16: attempts of fewer than 8 epochs" in plan.notes[1]
    chosen = budgets.plan_budget(2, TrainConfig(epochs="auto", model_options={"width": 32}), _arrays(), 10,
                                 attempts=None)
    assert chosen.config.model_options == {"width": 32} and chosen.epochs_each == 3  # --set width=32 is kept
    long_enough = budgets.plan_budget(10, TrainConfig(epochs="auto"), _arrays(), 10, attempts=None)
    assert long_enough.config.model_options == {}
