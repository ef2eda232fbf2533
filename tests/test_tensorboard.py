"""`kcnn train --tensorboard`: each attempt's curves as TensorBoard event files,
written while it trains, kept with a kept run and gone with a discarded one."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from kaggle_cnn import api
from kaggle_cnn.store.workspace import Workspace


def scalars(folder) -> dict[str, list[float]]:
    """tag -> values by step, read from the event files under `folder` (no TensorBoard needed)."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    found: dict[str, dict[int, float]] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for raw in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(raw.numpy())
            for value in event.summary.value:
                found.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
    return {tag: [by_step[step] for step in sorted(by_step)] for tag, by_step in found.items()}


def test_a_kept_run_keeps_its_curves_and_a_discarded_one_leaves_none(kcnn, tmp_path, competition):
    train = ["-w", tmp_path, "train", "--data", competition, "--model", "cnn1", "--epochs", 2]
    assert kcnn(*train, "--tensorboard", "--keep-above", 0).exit_code == 0
    assert kcnn(*train, "--tensorboard", "--keep-above", 1).exit_code == 0  # a001: discarded
    assert kcnn(*train, "--keep-above", 0).exit_code == 0  # a002: no curves asked for
    workspace = Workspace(tmp_path)
    assert workspace.run_ids() == ["cnn1-s0-a000", "cnn1-s0-a002"]

    kept = workspace.run_dir("cnn1-s0-a000")
    history = pd.read_csv(kept / "history.csv")
    train_curves, val_curves = scalars(kept / "tensorboard" / "train"), scalars(kept / "tensorboard" / "validation")
    assert train_curves["epoch_loss"] == pytest.approx(history["loss"].tolist(), rel=1e-5)
    assert train_curves["epoch_accuracy"] == pytest.approx(history["accuracy"].tolist(), rel=1e-5)
    assert val_curves["epoch_loss"] == pytest.approx(history["val_loss"].tolist(), rel=1e-5)
    rates = train_curves["epoch_learning_rate"]  # cosine from the peak 3e-3 after one warm-up epoch, to 0
    assert len(rates) == 2 and 0 <= rates[1] < rates[0] <= 3e-3
    assert json.loads((kept / "run.json").read_text())["options"] == {"tensorboard": True}

    assert not workspace.live_curves("cnn1-s0-a001").exists()  # the discarded attempt's curves went with it
    assert not workspace.live_curves("cnn1-s0-a000").exists()  # moved into the run, not copied
    unwatched = workspace.run_dir("cnn1-s0-a002")
    assert not (unwatched / "tensorboard").exists()
    assert json.loads((unwatched / "run.json").read_text())["options"] == {"tensorboard": False}
    assert api.doctor(workspace) == []  # models/tensorboard/ is not taken for a broken run


def test_a_k_fold_run_keeps_each_folds_curves(kcnn, tmp_path, competition):
    result = kcnn("-w", tmp_path, "train", "--data", competition, "--model", "cnn1", "--epochs", 1, "--folds", 2,
                  "--tensorboard")
    assert result.exit_code == 0, result.output
    curves = Workspace(tmp_path).run_dir("cnn1-s0-a000") / "tensorboard"
    assert sorted(p.name for p in curves.iterdir()) == ["fold1", "fold2"]
    for fold in ("fold1", "fold2"):
        assert len(scalars(curves / fold / "validation")["epoch_loss"]) == 1


def test_an_attempt_trained_again_starts_its_curves_afresh(kcnn, tmp_path, competition):
    stale = Workspace(tmp_path).live_curves("cnn1-s0-a000") / "train"
    stale.mkdir(parents=True)
    (stale / "events.out.tfevents.killed").write_bytes(b"")  # left by a command killed mid-attempt
    result = kcnn("-w", tmp_path, "train", "--data", competition, "--model", "cnn1", "--epochs", 1, "--tensorboard")
    assert result.exit_code == 0, result.output
    kept = Workspace(tmp_path).run_dir("cnn1-s0-a000") / "tensorboard" / "train"
    assert [p.name for p in kept.iterdir()] != [] and not (kept / "events.out.tfevents.killed").exists()


def test_search_trials_write_their_curves_too(kcnn, tmp_path, competition):
    space = tmp_path / "space.yaml"
    space.write_text("model: cnn1\nepochs: 1\nspace:\n  lr: {choice: [0.001]}\n")
    result = kcnn("-w", tmp_path / "ws", "search", "--data", competition, "--space", space, "--max-evals", 1,
                  "--tensorboard")
    assert result.exit_code == 0, result.output
    workspace = Workspace(tmp_path / "ws")
    (run_id,) = workspace.run_ids()
    assert len(scalars(workspace.run_dir(run_id) / "tensorboard" / "validation")["epoch_loss"]) == 1
    assert json.loads((workspace.run_dir(run_id) / "run.json").read_text())["options"] == {"tensorboard": True}
