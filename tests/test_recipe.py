"""The default recipe and its parts, --epochs auto (alone and fitted to a time
budget), the presets, and the architecture search's failed trials, on tiny data."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from kaggle_cnn import api
from kaggle_cnn.config import TrainConfig
from kaggle_cnn.errors import InputError
from kaggle_cnn.training import presets

TINY = ("--batch-size", 32, "--set", "width=4", "--set", "stages=2")


def run_record(workspace, index=-1):
    runs = api.Workspace(workspace).read_index()
    run_id = runs["run_id"].iloc[index]
    return json.loads((workspace / "models" / run_id / "run.json").read_text()), runs.iloc[index]


def test_the_default_recipe_is_what_kcnn_train_trains_and_run_json_records_it(kcnn, competition, tmp_path):
    result = kcnn("-w", tmp_path, "train", "--data", competition, "--epochs", 1, *TINY)
    assert result.exit_code == 0, result.output
    record, row = run_record(tmp_path)
    config = record["config"]
    assert record["model"] == "small_resnet" and row["run_id"].startswith("small_resnet-s0-")
    assert (config["optimizer"], config["schedule"], config["label_smoothing"], config["augment"]) == \
        ("adamw", "cosine", TrainConfig.label_smoothing, TrainConfig.augment)
    assert config["model_options"] == {"width": 4, "stages": 2}
    assert record["epochs_chosen"] is None and int(row["epochs"]) == 1
    assert config["batch_size"] == 32  # left open on 300 labelled images: fitted to the small set


@pytest.mark.parametrize("rows, typed, batch", [(300, None, 32), (1000, None, 32), (1024, None, 64), (2047, None, 64),
                                                (2048, None, 128), (60000, None, 128), (300, 128, 128), (60000, 8, 8)])
def test_a_batch_size_left_open_is_fitted_to_a_small_training_set(rows, typed, batch):
    from kaggle_cnn.training.options import batch_size_for, with_batch_size

    config = TrainConfig(batch_size=typed)
    assert batch_size_for(config, rows) == batch
    assert with_batch_size(config, rows).batch_size == batch


def test_epochs_auto_cools_down_when_validation_stalls_and_records_it(kcnn, competition, tmp_path):
    result = kcnn("-w", tmp_path, "train", "--data", competition, "--epochs", "auto", "--max-epochs", 6,
                  "--patience", 1, "--label-smoothing", 0.1, "--augment", "shift=0.1,erase=0.5", *TINY)
    assert result.exit_code == 0, result.output
    record, row = run_record(tmp_path)
    trained = record["phases"]["train"]
    chosen = record["epochs_chosen"]
    assert record["config"]["epochs"] == "auto" and chosen["patience"] == 1 and chosen["fitted_to_time"] is None
    assert int(row["epochs"]) == trained
    stalled = chosen["cool_down_after"]
    # a stall (patience 1) anneals the rate over a quarter of the epochs so far, then training ends; else all 6
    assert trained == (6 if stalled is None else stalled + math.ceil(stalled / 4))
    history = pd.read_csv(tmp_path / "models" / row["run_id"] / "history.csv")
    assert len(history) == trained
    best = int(history["val_loss"].idxmin()) + 1
    clearly = history["val_loss"].min() < 0.95 * history["val_loss"].iloc[-1]
    assert (chosen["kept"], chosen["best"]) == (("best", best) if clearly else ("last", trained))


@pytest.mark.parametrize("options, message", [
    (("--epochs", "auto", "--patience", 0), "--patience 0: must be an integer of at least 1"),
    (("--epochs", "soon"), "--epochs soon: must be an integer of at least 1, or auto"),
    (("--preset", "fastest"), "--preset 'fastest': choose one of default, kaggle28, cats_dogs_vgg16"),
    (("--max-epochs", 0), "--max-epochs 0: must be an integer of at least 1"),
    (("--label-smoothing", 1), "--label-smoothing 1: must be a finite number in [0, 1)"),
    (("--schedule", "linear"), "'linear' is not one of 'cosine', 'plateau', 'constant'"),
    (("--augment", "erase=2"), "--augment 'erase=2': erase must be a finite number in (0, 1]"),
    (("--set", "stages=6"), "small_resnet cannot take 28x28x1 images with stages=6"),
    (("--ema", "--epochs", "auto", "--schedule", "plateau"), "--ema does not go with --patience, or with --epochs "
                                                             "auto under the plateau schedule"),
    (("--ema", "--patience", 2), "--ema does not go with --patience"),
])
def test_bad_recipe_options_are_one_line_and_write_nothing(kcnn, assert_refused, competition, tmp_path, options,
                                                          message):
    assert_refused(kcnn("-w", tmp_path, "train", "--data", competition, *options), message)
    assert not any(tmp_path.iterdir())


def test_a_preset_sets_its_recipe_and_typed_options_win_with_a_note(kcnn, competition, tmp_path):
    result = kcnn("-w", tmp_path, "train", "--data", competition, "--preset", "kaggle28", "--epochs", 1,
                  "--batch-size", 32)
    assert result.exit_code == 0, result.output
    assert "--epochs 1 replaces preset kaggle28's epochs 40" in result.output
    record, _ = run_record(tmp_path)
    expected = {**presets.PRESETS["kaggle28"], "epochs": 1, "batch_size": 32}
    assert {name: record["config"][name] for name in expected} == expected
    assert record["model"] == "kaggle_ensemble"
    assert record["phases"] == {"train": 1} and record["epochs_chosen"] is None  # --epochs 1, not the preset's 40


def test_presets_listed_by_the_cli_are_the_library_s(kcnn):
    listing = kcnn("models").output
    assert all(name in listing for name in api.PRESETS)
    help_text = " ".join(kcnn("train", "--help").output.split())
    assert "[default: small_resnet]" in help_text and f"A named recipe: {', '.join(api.PRESETS)} " in help_text


def test_every_preset_is_a_valid_config():
    for name in api.PRESETS:
        config = api.train_config({}, preset=name)
        assert config.model == presets.PRESETS[name].get("model", TrainConfig.model)


def test_resume_refuses_a_preset(kcnn, assert_refused, trained_copy):
    plan_path = api.Workspace(trained_copy).models_dir / "plans" / "0001.json"
    plan = json.loads(plan_path.read_text())
    plan.update(finished=False, run_ids=plan["run_ids"] + ["cnn1-s0-a002"], attempts=plan["attempts"] + [2])
    plan_path.write_text(json.dumps(plan))
    assert_refused(kcnn("-w", trained_copy, "train", "--resume", "--preset", "kaggle28"),
                   "--preset: does not go with --resume")


def test_augment_none_switches_a_preset_s_augmentation_off():
    assert api.train_config({}, preset="cats_dogs_vgg16").augment.startswith("rotation=40")
    assert api.train_config({"augment": "none"}, explicit={"augment"}, preset="cats_dogs_vgg16").augment is None
    assert TrainConfig(augment="None").augment is None


# -- the schedule, the time fitting and the loss, without training ----------------------------


def test_cosine_warms_up_linearly_then_decays_to_zero():
    from kaggle_cnn.training.schedules import RateSchedule

    schedule = RateSchedule("cosine", 0.1, steps_per_epoch=10, warmup_epochs=1, epochs=10)
    assert schedule.rate(0) == pytest.approx(0.01) and schedule.rate(9) == pytest.approx(0.1)
    assert schedule.rate(10) == pytest.approx(0.1)
    assert schedule.rate(55) == pytest.approx(0.05)  # halfway through the 90 decay steps
    assert schedule.rate(100) == pytest.approx(0.0, abs=1e-12)
    assert RateSchedule("constant", 0.1, 10, 0, 5).rate(45) == 0.1


def test_the_warm_up_is_at_most_a_tenth_of_a_short_run():
    """One epoch of 40 steps: 4 steps of warm-up (not the whole epoch), then the
    cosine down to 0 at the last step."""
    from kaggle_cnn.training.schedules import RateSchedule

    one_epoch = RateSchedule("cosine", 0.1, steps_per_epoch=40, warmup_epochs=1, epochs=1)
    assert one_epoch.warmup_steps == 4
    assert one_epoch.rate(3) == pytest.approx(0.1) and one_epoch.rate(22) == pytest.approx(0.05)
    assert one_epoch.rate(39) < 0.001
    one_epoch.epochs = 20  # fitted to a time allowance: the configured epoch of warm-up again
    assert one_epoch.warmup_steps == 40


def test_a_stalled_validation_loss_anneals_the_rate_then_ends_with_the_last_weights():
    from kaggle_cnn.training.schedules import RateSchedule, ScheduleStopping

    schedule = RateSchedule("cosine", 0.1, steps_per_epoch=10, warmup_epochs=0, epochs=40)
    stopping = ScheduleStopping(schedule, patience=2)
    model = _Model()
    stopping.set_model(model)
    losses = [1.0, 0.8, 0.7, 0.72, 0.71, 0.69, 0.68, 0.675]
    for epoch, loss in enumerate(losses):
        stopping.on_epoch_begin(epoch)
        schedule.step = (epoch + 1) * 10
        model.weights_now = [epoch]
        stopping.on_epoch_end(epoch, {"val_loss": loss})
        if model.stop_training:
            break
    # epochs 4 and 5 did not beat 0.7: after epoch 5 the rate anneals over ceil(5/4) = 2 epochs
    assert stopping.cooled_at == 5 and schedule.epochs == 7 and epoch + 1 == 7
    assert schedule.rate(50) == pytest.approx(schedule.cool_down[2]) and schedule.rate(70) == pytest.approx(0.0)
    stopping.on_train_end()
    assert (stopping.kept, stopping.kept_epoch, model.weights_now) == ("last", 7, [6])


def test_an_earlier_epoch_clearly_better_than_the_last_is_restored():
    from kaggle_cnn.training.schedules import RateSchedule, ScheduleStopping

    schedule = RateSchedule("cosine", 0.1, steps_per_epoch=10, warmup_epochs=0, epochs=3)
    stopping = ScheduleStopping(schedule, patience=5, stall=False)
    model = _Model()
    stopping.set_model(model)
    for epoch, loss in enumerate([0.5, 0.3, 0.4]):  # the last is 33% worse than epoch 2
        stopping.on_epoch_begin(epoch)
        model.weights_now = [epoch]
        stopping.on_epoch_end(epoch, {"val_loss": loss})
    assert model.stop_training
    stopping.on_train_end()
    assert (stopping.kept, stopping.kept_epoch, model.weights_now) == ("best", 2, [1])


class _Model:
    stop_training = False
    weights_now: list = []

    def get_weights(self):
        return list(self.weights_now)

    def set_weights(self, weights):
        self.weights_now = list(weights)


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_epochs_are_fitted_to_the_time_allowed(monkeypatch):
    """100 s allowed, 5 s of building, then epochs of 20 s (the first) and 10 s: after
    epoch 1 it plans (100-25-20)/20 more; after epoch 2, (100-35-10)/10 more; then
    the cosine is stretched to that, and training stops there."""
    from kaggle_cnn.training import schedules

    clock = _Clock()
    monkeypatch.setattr(schedules.time, "perf_counter", clock)
    cosine = schedules.RateSchedule("cosine", 0.1, 10, 1, epochs=40)
    fitting = schedules.EpochsForTime(100, cap=40, started=0.0, schedule=cosine)

    class Model:
        stop_training = False

    fitting.set_model(Model())
    clock.now = 5.0
    stopped_at = None
    for epoch, length in enumerate([20.0] + [10.0] * 20):
        fitting.on_epoch_begin(epoch)
        clock.now += length
        fitting.on_epoch_end(epoch)
        if epoch == 0:
            assert fitting.epochs == 1 + 2 and cosine.epochs == 3  # (100-25-20)//20 = 2 more
        if fitting.model.stop_training:
            stopped_at = epoch + 1
            break
    assert fitting.epochs == 2 + 5 and cosine.epochs == 7  # (100-35-10)//10 = 5 more
    assert stopped_at == 7 and clock.now == 5 + 20 + 6 * 10  # 85 s: one epoch's worth left for predicting


def test_the_time_budget_shares_out_by_rounds_of_attempts():
    from kaggle_cnn.training.launch import TimeBudget

    budget = TimeBudget(600, attempts=5, started=0.0)
    assert budget.share(0.0, launched=0, slots=1) == 120
    assert budget.share(0.0, launched=0, slots=2) == 200  # 3 rounds
    assert budget.share(480.0, launched=4, slots=1) == 120
    assert budget.share(590.0, launched=9, slots=1) == 10  # past the target: what is left


def test_smoothed_loss_is_keras_one_hot_cross_entropy():
    from kaggle_cnn.backend import load_keras
    from kaggle_cnn.training.schedules import SparseCrossentropy

    keras = load_keras()
    y_pred = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype=np.float32)
    labels = np.array([0, 1])
    expected = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(np.eye(3)[labels], y_pred)
    assert float(SparseCrossentropy(0.1)(labels, y_pred)) == pytest.approx(float(expected), rel=1e-6)
    # by hand: targets 0.1/3 off, 0.9 + 0.1/3 on
    on, off = 0.9 + 0.1 / 3, 0.1 / 3
    by_hand = -np.mean([on * math.log(0.7) + off * (math.log(0.2) + math.log(0.1)),
                        on * math.log(0.1) + off * (math.log(0.1) + math.log(0.8))])
    assert float(expected) == pytest.approx(by_hand, rel=1e-5)


def test_random_erasing_is_an_augmentation():
    from kaggle_cnn.training.augment import augmentation_layers, parse_augment

    assert parse_augment("shift=0.1,erase=0.5") == {"shift": 0.1, "erase": 0.5}
    assert [type(layer).__name__ for layer in augmentation_layers("erase=0.5", seed=1)] == ["RandomErasing"]


# -- architecture search ------------------------------------------------------------------


def test_an_architecture_too_small_for_the_images_is_a_failed_trial_and_the_search_goes_on(
        kcnn, competition, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("model: small_resnet\nepochs: 1\nbatch_size: 32\nwidth: 4\n"
                     "space:\n  stages: {choice: [6, 2]}\n")
    result = kcnn("-w", tmp_path / "ws", "search", "--data", competition, "--space", space, "--algo", "grid",
                  "--max-evals", 2)
    assert result.exit_code == 0, result.output
    index = api.Workspace(tmp_path / "ws").read_index()
    assert list(index["status"]) == ["failed", "ok"]
    assert "cannot take 28x28x1 images with stages=6" in index["message"].iloc[0]
    assert "failed: small_resnet cannot take" in result.output


def test_the_example_architecture_space_loads_for_the_default_network():
    from pathlib import Path

    from kaggle_cnn.search.space import load_space

    spaces = Path(__file__).parents[1] / "examples" / "spaces"
    space = load_space(spaces / "architecture.yaml")
    assert space.model == "small_resnet"
    assert set(space.tree) == {"stages", "blocks", "width", "kernel_size", "pooling", "residual"}
    hyperas = load_space(spaces / "kaggle_ensemble_tpe.yaml")  # the write-up's search, on its recipe
    assert (hyperas.fixed["schedule"], hyperas.fixed["epochs"], hyperas.fixed["augment"]) == ("plateau", 10, None)


def test_small_resnet_structure_options():
    from kaggle_cnn.architectures import check, shapes_only_build

    plain = shapes_only_build("small_resnet", (28, 28, 1), 10, residual=False, width=8)
    residual = shapes_only_build("small_resnet", (28, 28, 1), 10, width=8)
    assert not any(type(layer).__name__ == "Add" for layer in plain.layers)
    assert sum(type(layer).__name__ == "Add" for layer in residual.layers) == 3
    strided = shapes_only_build("small_resnet", (32, 32, 3), 10, pooling="stride", stages=6, width=4)
    assert not any("Pooling2D" in type(layer).__name__ and "Global" not in type(layer).__name__
                   for layer in strided.layers)
    check("small_resnet", (32, 32, 3), 10, stages=6)  # 32 pixels allow 5 halvings
    with pytest.raises(InputError, match="use stages=5 or fewer"):
        check("small_resnet", (28, 28, 1), 10, stages=6)
