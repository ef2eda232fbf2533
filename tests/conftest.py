"""Shared fixtures: a small real competition cut from the packaged demo (MNIST),
and a workspace trained on it once per test session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from kaggle_cnn.cli import cli
from kaggle_cnn.data import demo_path

SLICE_TRAIN_ROWS = 300
SLICE_TEST_ROWS = 60


@pytest.fixture(scope="session")
def competition(tmp_path_factory) -> Path:
    """A Kaggle-style folder: 300 labelled demo images, 60 test images whose sample
    submission lists the ids in a different order than test.csv does."""
    folder = tmp_path_factory.mktemp("competition")
    pd.read_csv(demo_path() / "train.csv.gz", nrows=SLICE_TRAIN_ROWS).to_csv(folder / "train.csv", index=False)
    test = pd.read_csv(demo_path() / "test.csv.gz", nrows=SLICE_TEST_ROWS)
    test.to_csv(folder / "test.csv", index=False)
    sample = pd.DataFrame({"ImageId": test["ImageId"][::-1].to_numpy(), "Label": 0})
    sample.to_csv(folder / "sample_submission.csv", index=False)
    return folder


def kcnn(*args: str):
    """Run the CLI in-process, as a user would type it."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, competition) -> Path:
    """A workspace with two kept cnn1 runs (1 epoch each) on the slice."""
    workspace = tmp_path_factory.mktemp("workspace")
    result = kcnn("--workspace", workspace, "train", "--data", competition, "--model", "cnn1",
                  "--repeat", 2, "--keep-above", 0, "--epochs", 1, "--batch-size", 32)
    assert result.exit_code == 0, result.output
    return workspace
