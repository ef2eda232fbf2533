"""Labels are spelled one way wherever they are read (kaggle_cnn.labels): a training
CSV, an answers CSV, a vote member and a checked submission agree that `7.0`,
`7.00` and ` 7` are the label `7`, while text labels and zero-padded codes stay
as written."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from kaggle_cnn import api
from kaggle_cnn.labels import normalise_label


@pytest.mark.parametrize("written, label", [
    ("7", "7"), ("7.0", "7"), ("7.00", "7"), (" 7 ", "7"), ("+7", "7"), ("-3.", "-3"), ("-0.0", "0"), ("0", "0"),
    ("07", "07"), ("007", "007"), ("7.5", "7.5"), ("1e3", "1e3"), (" cat ", "cat"), ("Cat", "Cat"), ("NA", "NA"),
])
def test_normalise_label(written, label):
    assert normalise_label(written) == label


def test_a_training_csv_with_float_spellings_is_the_same_data(competition, tmp_path):
    folder = shutil.copytree(competition, tmp_path / "floats")
    train = pd.read_csv(folder / "train.csv", dtype={"label": str})
    train["label"] = [[f"{v}.0", f" {v}", f"{v}.00", v][i % 4] for i, v in enumerate(train["label"])]
    train.to_csv(folder / "train.csv", index=False)
    assert (pd.read_csv(folder / "train.csv", dtype=str)["label"].str.contains(r"\.0")).any()
    original, floats = api.load_data(competition), api.load_data(folder)
    assert floats.classes == original.classes == list(range(10))
    assert floats.y_train.tolist() == original.y_train.tolist()
    assert floats.fingerprint() == original.fingerprint()


def test_score_and_check_read_7_0_as_7(kcnn, competition, tmp_path):
    answers = pd.DataFrame({"ImageId": ["1", "2", "3", "4"], "Label": ["7", "3", "0", "9"]})
    answers.to_csv(tmp_path / "answers.csv", index=False)
    pd.DataFrame({"ImageId": ["1", "2", "3", "4"], "Label": ["7.0", " 3", "0.00", "8.0"]}).to_csv(
        tmp_path / "floats.csv", index=False)
    result = kcnn("score", tmp_path / "floats.csv", "--answers", tmp_path / "answers.csv")
    assert result.exit_code == 0, result.output
    assert "accuracy 0.7500 on 4 rows" in result.output
    sample = pd.read_csv(competition / "sample_submission.csv", dtype=str)
    sample["Label"] = "4.0"
    sample.to_csv(tmp_path / "sub.csv", index=False)
    result = kcnn("check", tmp_path / "sub.csv", "--data", competition)
    assert result.exit_code == 0, result.output
    assert "labels" in result.output


def test_a_vote_counts_4_0_and_4_as_one_label(tmp_path):
    folder = tmp_path / "members"
    folder.mkdir()
    for name, labels in {"a": ["4.0", "3"], "b": ["4", "7"], "c": ["5", "7.00"]}.items():
        pd.DataFrame({"ImageId": ["1", "2"], "Label": labels}).to_csv(folder / f"{name}.csv", index=False)
    outcome = api.vote(api.Workspace(tmp_path / "ws"), folder)
    assert pd.read_csv(outcome.csv_path, dtype=str)["Label"].tolist() == ["4", "7"]
    sidecar = json.loads(outcome.json_path.read_text())
    assert sidecar["classes"] == ["3", "4", "5", "7"] and sidecar["ties"] == 0
