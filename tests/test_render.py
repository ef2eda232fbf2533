"""What the CLI prints is data, printed literally: labels that look like rich
markup ('[cat]', '[b]dog', '[/]') show as they are in every table."""

from __future__ import annotations

import pandas as pd
import pytest

LABELS = {0: "[cat]", 1: "[b]dog", 2: "[/]"}


@pytest.fixture
def markup_competition(competition, tmp_path):
    folder = tmp_path / "markup"
    folder.mkdir()
    train = pd.read_csv(competition / "train.csv")
    train = train[train["label"].isin(LABELS)].assign(label=lambda f: f["label"].map(LABELS))
    train.to_csv(folder / "train.csv", index=False)
    pd.read_csv(competition / "test.csv").to_csv(folder / "test.csv", index=False)
    return folder


def test_labels_that_look_like_markup_print_literally(kcnn, markup_competition, tmp_path):
    workspace = tmp_path / "ws"
    trained = kcnn("-w", workspace, "train", "--data", markup_competition, "--model", "cnn1", "--epochs", 1)
    assert trained.exit_code == 0, trained.output
    result = kcnn("-w", workspace, "metrics")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip() for line in result.output.splitlines() if line.count("│") == 6}
    assert set(LABELS.values()) <= rows, result.output
    described = kcnn("data", markup_competition)
    assert all(f"  {label}  " in described.output for label in LABELS.values()), described.output
