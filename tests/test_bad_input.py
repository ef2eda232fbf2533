"""Every bad input of the spine: one line naming the file/row/column, exit code 2,
no traceback, nothing written to the workspace."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest


def broken(competition: Path, tmp_path: Path, edit) -> Path:
    folder = tmp_path / "broken"
    shutil.copytree(competition, folder)
    edit(folder)
    return folder


def edit_csv(name: str, change):
    def edit(folder: Path) -> None:
        path = folder / name
        path.write_text(change(path.read_text()))
    return edit


def edit_frame(name: str, change):
    def edit(folder: Path) -> None:
        frame = pd.read_csv(folder / name, dtype=str)
        change(frame).to_csv(folder / name, index=False)
    return edit


def _drop_label(frame):
    return frame.drop(columns="label")


def _nan_pixel(frame):
    frame.loc[4, "pixel300"] = ""
    return frame


def _narrow(frame):
    return frame.drop(columns=["pixel783", "pixel782"])


def _duplicate_id(frame):
    frame.loc[5, "ImageId"] = frame.loc[2, "ImageId"]
    return frame


def _other_ids(frame):
    frame.loc[0, "ImageId"] = "99999"
    return frame


def _ragged(text: str) -> str:
    lines = text.splitlines()
    lines[6] += ",0,0"
    return "\n".join(lines) + "\n"


BAD_DATA = {
    "missing label column": (edit_frame("train.csv", _drop_label), ["train.csv", "label"]),
    "ragged row": (edit_csv("train.csv", _ragged), ["train.csv", "line 7"]),
    "NaN pixel": (edit_frame("train.csv", _nan_pixel), ["train.csv", "line 6", "pixel300"]),
    "widths that form no image": (lambda f: (edit_frame("train.csv", _narrow)(f), edit_frame("test.csv", _narrow)(f)),
                                  ["782", "--image-shape"]),
    "test narrower than train": (edit_frame("test.csv", _narrow), ["test.csv"]),
    "duplicate test ids": (edit_frame("test.csv", _duplicate_id), ["test.csv", "duplicate"]),
    "sample ids differ": (edit_frame("sample_submission.csv", _other_ids), ["sample_submission.csv", "99999"]),
    "empty train file": (lambda f: (f / "train.csv").write_text(""), ["train.csv", "empty"]),
    "binary test file": (lambda f: (f / "test.csv").write_bytes(bytes(range(256)) * 8), ["test.csv"]),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_competition_files(kcnn, assert_refused, case, competition, tmp_path):
    edit, fragments = BAD_DATA[case]
    data = broken(competition, tmp_path, edit)
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", data, "--model", "cnn1", "--epochs", 1)
    assert_refused(result, *fragments)
    assert not workspace.exists()


@pytest.mark.parametrize(
    "options, fragments",
    [
        (["--data", "no/such/place"], ["no/such/place"]),
        (["--model", "cnn9"], ["unknown model 'cnn9'", "kaggle_ensemble"]),
        (["--keep-above", "1.5"], ["--keep-above", "1.5"]),
        (["--keep-above", "-0.1"], ["--keep-above"]),
        (["--repeat", "0"], ["--repeat", "0"]),
        (["--repeat", "2", "--until-kept", "2"], ["not both"]),
        (["--until-kept", "0"], ["--until-kept"]),
        (["--epochs", "0"], ["--epochs"]),
        (["--image-shape", "28x28x2"], ["784"]),
        (["--image-shape", "banana"], ["banana"]),
    ],
)
def test_bad_train_options(kcnn, assert_refused, options, fragments, competition, tmp_path):
    workspace = tmp_path / "ws"
    args = ["--data", competition, *options] if "--data" not in options else options
    result = kcnn("-w", workspace, "train", "--model", "cnn1", "--epochs", 1, *args)
    assert_refused(result, *fragments)
    assert not workspace.exists()


# -- vote ----------------------------------------------------------------------------


def members(tmp_path: Path, **frames: pd.DataFrame) -> Path:
    folder = tmp_path / "members"
    folder.mkdir()
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def submission(ids, labels, header=("ImageId", "Label")) -> pd.DataFrame:
    return pd.DataFrame({header[0]: ids, header[1]: labels})


@pytest.mark.parametrize(
    "frames, fragments",
    [
        ({"a": submission([1, 2, 3], [0, 1, 2]), "b": submission([1, 3, 2], [0, 1, 2])},
         ["b.csv line 3", "'3'", "a.csv"]),
        ({"a": submission([1, 2, 3], [0, 1, 2]), "b": submission([1, 2], [0, 1])}, ["b.csv", "2 rows"]),
        ({"a": submission([1, 2], [0, 1]), "b": submission([1, 2], [0, 1], header=("id", "label"))},
         ["b.csv", "header id,label", "ImageId,Label"]),
    ],
    ids=["id order", "row count", "header"],
)
def test_vote_refuses_members_that_disagree(kcnn, assert_refused, frames, fragments, tmp_path):
    folder = members(tmp_path, **frames)
    workspace = tmp_path / "ws"
    assert_refused(kcnn("-w", workspace, "vote", folder), *fragments)
    assert not workspace.exists()


def test_vote_refuses_an_empty_folder_and_a_missing_one(kcnn, assert_refused, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_refused(kcnn("-w", tmp_path / "ws", "vote", tmp_path / "empty"), "empty", "no submission CSVs")
    assert_refused(kcnn("-w", tmp_path / "ws", "vote", tmp_path / "nowhere"), "nowhere")
    assert not (tmp_path / "ws").exists()


def test_vote_refuses_an_empty_member(kcnn, assert_refused, tmp_path):
    folder = members(tmp_path, a=submission([1, 2], [0, 1]))
    (folder / "b.csv").write_text("")
    assert_refused(kcnn("-w", tmp_path / "ws", "vote", folder), "b.csv", "empty")
    assert not (tmp_path / "ws").exists()


# -- metrics -------------------------------------------------------------------------


def test_metrics_without_runs(kcnn, assert_refused, tmp_path):
    assert_refused(kcnn("-w", tmp_path, "metrics"), "no kept runs")
    assert not (tmp_path / "reports").exists()


def test_metrics_of_an_unknown_run(kcnn, assert_refused, trained):
    assert_refused(kcnn("-w", trained, "metrics", "cnn7-s0-a000"), "cnn7-s0-a000")
