"""Every bad input of the spine: one line naming the file/row/column, exit code 2,
no traceback, nothing written to the workspace."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_cnn import api
from kaggle_cnn.config import TrainConfig, check_train_config
from kaggle_cnn.errors import InputError


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


def _lone_class(frame):
    frame.loc[7, "label"] = "987"
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
    "a class with one image": (edit_frame("train.csv", _lone_class),
                               ["train.csv: class '987' has only 1 row", "at least 2", "validation split"]),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_competition_files(kcnn, assert_refused, case, competition, tmp_path):
    edit, fragments = BAD_DATA[case]
    data = broken(competition, tmp_path, edit)
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", data, "--model", "cnn1", "--epochs", 1)
    assert_refused(result, *fragments)
    assert "np." not in result.stderr  # labels and ids as plain text, never numpy's repr
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
        (["--max-attempts", "3"], ["--max-attempts only applies with --until-kept"]),
        (["--until-kept", "0"], ["--until-kept"]),
        (["--epochs", "0"], ["--epochs"]),
        (["--image-shape", "28x28x2"], ["784"]),
        (["--image-shape", "banana"], ["banana"]),
        *[([f"--{name}", "nan"], [f"--{name} nan: must be a finite number"])
          for name in ("lr", "min-lr", "weight-decay", "fine-tune-lr", "reduce-lr-factor", "keep-above", "dropout",
                       "val-fraction")],
        # each refusal names the option and the value as given, then (where shown) what it must be
        *[([option, value], [f"{option} {value}{must}"]) for option, value, must in [
            ("--lr", "1e400", ": must be a finite number greater than 0"),
            ("--lr", "0", ": must be a finite number greater than 0"),
            ("--epochs", "2.5", ": must be an integer of at least 1"),
            ("--seed", "-1", ": must be an integer from 0 to 4294967295"),
            ("--seed", "4294967296", ""),
        ]],
        *[(["--set", f"dropout={value}"], [f"--set dropout={value}: must be a finite number in [0, 1)"])
          for value in ("abc", "1.5", "null")],
        (["--set", "dropout=.nan"], ["--set dropout=nan"]),
        *[(["--set", f"dense_units={value}"], [f"--set dense_units={value}{must}"]) for value, must in [
            ("0", ": must be an integer of at least 1"), ("true", ": must be an integer"), ("12.5", "")]],
        (["--dropout", "1"], ["--dropout 1: must be a finite number in [0, 1)"]),
        (["--augment", "rotation=nan"], ["--augment 'rotation=nan'", "finite number"]),
        (["--model", "kaggle_ensemble", "--image-shape", "784x1x1"],
         ["kaggle_ensemble cannot take 784x1x1 images", "below 1 pixel"]),
    ],
)
def test_bad_train_options(kcnn, assert_refused, options, fragments, competition, tmp_path):
    workspace = tmp_path / "ws"
    args = ["--data", competition, *options] if "--data" not in options else options
    result = kcnn("-w", workspace, "train", "--model", "cnn1", "--epochs", 1, *args)
    assert_refused(result, *fragments)
    assert not workspace.exists()


@pytest.mark.parametrize("options, message", [
    ({"repeat": 5, "until_kept": 2}, "give --repeat N or --until-kept K, not both"),
    ({"max_attempts": 3}, "--max-attempts only applies with --until-kept"),
    ({"repeat": 2, "max_attempts": 3}, "--max-attempts only applies with --until-kept"),
])
def test_the_api_refuses_the_train_options_the_cli_refuses(options, message, competition, tmp_path):
    """api.train used to ignore repeat beside until_kept: the check lives in the library now."""
    dataset = api.load_data(competition)
    with pytest.raises(InputError) as refused:
        api.train(dataset, api.Workspace(tmp_path / "ws"), TrainConfig(model="cnn1", epochs=1), **options)
    assert str(refused.value) == message
    assert not (tmp_path / "ws").exists()


def test_a_refused_train_writes_not_even_the_split(kcnn, assert_refused, competition, tmp_path):
    """--seed is checked with everything else, before the split is recorded for good."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    result = kcnn("-w", workspace, "train", "--data", competition, "--model", "cnn1", "--epochs", 1,
                  "--seed", -1, "--val-fraction", 0.3)
    assert_refused(result, "--seed -1")
    assert list(workspace.rglob("*")) == []


@pytest.mark.parametrize(
    "content, fragments",
    [
        ("epochs: 0\n", ["cfg.yaml: epochs 0: must be an integer of at least 1"]),
        ("epochs: abc\n", ["cfg.yaml: epochs 'abc': must be an integer of at least 1"]),
        ("epochs: true\n", ["cfg.yaml: epochs true: must be an integer"]),
        ("batch_size: 0\n", ["cfg.yaml: batch_size 0: must be an integer of at least 1"]),
        ("lr: -1\n", ["cfg.yaml: lr -1: must be a finite number greater than 0"]),
        ("lr: .nan\n", ["cfg.yaml: lr nan: must be a finite number greater than 0"]),
        ("min_lr: .inf\n", ["cfg.yaml: min_lr inf"]),
        ("optimizer: lamb\n", ["cfg.yaml: optimizer 'lamb': must be one of adam"]),
        ("dropout: 1.5\n", ["cfg.yaml: dropout 1.5: must be a finite number in [0, 1)"]),
        ("dense_units: 0\n", ["cfg.yaml: dense_units 0: must be an integer of at least 1"]),
        ("augment: 'zoom=inf'\n", ["--augment 'zoom=inf'"]),
    ],
)
def test_bad_config_file_values(kcnn, assert_refused, content, fragments, competition, tmp_path):
    """A --config file's values get the checks the same options get on the command line."""
    (tmp_path / "cfg.yaml").write_text("model: cnn1\n" + content)
    workspace = tmp_path / "ws"
    assert_refused(kcnn("-w", workspace, "train", "--data", competition, "--config", tmp_path / "cfg.yaml"),
                   *fragments)
    assert not workspace.exists()


LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi")) + "epochs: *i\n"


@pytest.mark.parametrize("content, line, fragment", [
    (LAUGHS, 1, "YAML anchors and aliases (&name, *name) are not accepted"),
    ("epochs: 1\nlr: &loop [*loop]\n", 2, "YAML anchors and aliases"),
    ("dense1: " + "[" * 200 + "]" * 200 + "\n", 1, "nested deeper than 32 levels"),
    ("epochs: 1\n" + "# padding\n" * 120_000, None, "bytes, too large for a {} file (at most 1,000,000)"),
])
def test_a_config_that_would_take_the_machine_is_refused(kcnn, assert_refused, content, line, fragment,
                                                         competition, tmp_path):
    """Aliases (a "billion laughs", a document that holds itself), deep nesting and
    huge files are refused before the document is built."""
    space = "space:\n  lr: {choice: [0.1]}\n"  # two lines more above the same content
    workspace = tmp_path / "ws"
    for name, command, text, shift in (("config", "--config", content, 0), ("space", "--space", space + content, 2)):
        (tmp_path / f"{name}.yaml").write_text(text)
        where = f"{name}.yaml" if line is None else f"{name}.yaml line {line + shift}:"
        result = kcnn("-w", workspace, "search" if name == "space" else "train", "--data", competition,
                      command, tmp_path / f"{name}.yaml")
        assert_refused(result, where, fragment.format(name))
        assert len(result.stderr) < 500 and not workspace.exists()


def test_what_kcnn_writes_as_yaml_it_reads_back(tmp_path):
    """A value used twice is written out twice, not as the alias read_yaml refuses."""
    from kaggle_cnn.fileio import read_yaml, write_yaml

    shared = [64, 128]
    write_yaml(tmp_path / "best.yaml", {"model": "cnn1", "widths": shared, "again": shared})
    assert "*" not in (tmp_path / "best.yaml").read_text()
    assert read_yaml(tmp_path / "best.yaml", "config")[1] == {"model": "cnn1", "widths": shared, "again": shared}


def test_an_alias_in_a_set_value_is_refused_as_in_a_file(kcnn, assert_refused, competition, tmp_path):
    assert_refused(kcnn("-w", tmp_path / "ws", "train", "--data", competition, "--set", "dense1=&x [*x]"),
                   "--set dense1=&x [*x] line 1: YAML anchors and aliases")
    assert not (tmp_path / "ws").exists()


def test_a_huge_value_is_cut_in_the_error_line(kcnn, assert_refused, tmp_path):
    """Whatever value a message names, its line stays short: start and end shown, the middle cut."""
    result = kcnn("-w", tmp_path, "vote", tmp_path, "--method", "x" * 1_000_000 + "-the-end")
    assert_refused(result, "--method", "xxx...xxx", "-the-end' is not one of 'hard'")
    assert len(result.stderr) < 1100


def test_a_search_space_is_checked_the_same_way(kcnn, assert_refused, competition, tmp_path):
    (tmp_path / "space.yaml").write_text("model: cnn1\nepochs: 0\nspace:\n  lr: {choice: [0.001, 0.01]}\n")
    workspace = tmp_path / "ws"
    assert_refused(kcnn("-w", workspace, "search", "--data", competition, "--space", tmp_path / "space.yaml"),
                   "space.yaml: epochs 0: must be an integer of at least 1")
    assert not workspace.exists()


def test_the_python_api_is_checked_the_same_way(competition, tmp_path):
    with pytest.raises(InputError, match=r"^--epochs 0: must be an integer of at least 1, or auto$"):
        api.train_config({"model": "cnn1", "epochs": 0})
    with pytest.raises(InputError, match=r"^--set dropout=abc: must be a finite number in \[0, 1\)$"):
        api.train_config({"model": "cnn1"}, set_options=["dropout=abc"])
    with pytest.raises(InputError, match=r"^TrainConfig: epochs 0: must be an integer of at least 1, or auto$"):
        TrainConfig(model="cnn1", epochs=0)
    with pytest.raises(InputError, match=r"^TrainConfig: lr nan: must be a finite number greater than 0$"):
        TrainConfig(lr=float("nan"))
    with pytest.raises(InputError, match=r"^trial 3: batch_size true: must be an integer of at least 1$"):
        TrainConfig.from_settings({"model": "cnn1", "batch_size": True}, "trial 3")
    assert TrainConfig(epochs=5.0, lr=1).epochs == 5 and TrainConfig(lr=1).lr == 1.0  # normalised
    with pytest.raises(InputError, match=r"^cfg.yaml: min_lr -1e-05: must be a finite number of at least 0$"):
        check_train_config({"min_lr": -1e-5, "dense1": 3}, "cfg.yaml")
    assert check_train_config({"epochs": 2.0, "dense1": "x"}, "cfg.yaml") == {"epochs": 2}  # model options: not here
    dataset = api.load_data(competition)
    workspace = api.Workspace(tmp_path / "ws")
    refusals = [
        (TrainConfig(model="cnn1", epochs=1), {"seed": -1}, r"^--seed -1: must be an integer"),
        (TrainConfig(model="cnn1", epochs=1), {"val_fraction": float("inf")}, r"^--val-fraction inf: must be"),
        (TrainConfig(model="cnn1", epochs=1, model_options={"dropout": "abc"}), {},
         r"^cnn1: dropout 'abc': must be a finite number in \[0, 1\)$"),
        (TrainConfig(model="cnn1", epochs=1, model_options={"dense_units": 0}), {},
         r"^cnn1: dense_units 0: must be an integer of at least 1$"),
    ]
    for config, options, message in refusals:
        with pytest.raises(InputError, match=message):
            api.train(dataset, workspace, config, **options)
    assert not (tmp_path / "ws").exists()


def tiny_npz(path: Path, side: int = 4, **arrays) -> Path:
    """20 training images of side x side pixels in two classes, 4 test images."""
    rng = np.random.default_rng(0)
    content = {"x_train": rng.integers(0, 256, (20, side, side)), "y_train": np.arange(20) % 2,
               "x_test": rng.integers(0, 256, (4, side, side)), **arrays}
    np.savez(path, **content)
    return path


@pytest.mark.parametrize("key", ["x_train", "x_test"])
def test_npz_with_a_zero_size_dimension(kcnn, assert_refused, tmp_path, key):
    data = tiny_npz(tmp_path / "empty.npz", **{key: np.zeros((20 if key == "x_train" else 4, 0, 28))})
    assert_refused(kcnn("-w", tmp_path / "ws", "train", "--data", data, "--model", "cnn1", "--epochs", 1),
                   f"empty.npz, key {key}", "(20, 0, 28)" if key == "x_train" else "(4, 0, 28)", "size 0")
    assert not (tmp_path / "ws").exists()


def test_a_model_too_large_for_the_images(kcnn, assert_refused, tmp_path):
    data = tiny_npz(tmp_path / "tiny.npz")
    assert_refused(kcnn("-w", tmp_path / "ws", "train", "--data", data, "--model", "cnn4", "--epochs", 1),
                   "cnn4 cannot take 4x4x1 images: its convolutions and pooling shrink them below 1 pixel",
                   "kcnn models --image-shape 4x4x1")
    assert not (tmp_path / "ws").exists()
    with pytest.raises(InputError, match="^cnn4 cannot take 4x4x1 images"):
        api.train(api.load_data(data), api.Workspace(tmp_path / "ws"), TrainConfig(model="cnn4", epochs=1))
    assert not (tmp_path / "ws").exists()


def test_models_shows_what_does_not_fit(kcnn, assert_refused):
    result = kcnn("models", "--image-shape", "4x4x1")
    assert result.exit_code == 0, result.output
    assert "does not" in result.output
    rows = {row["name"]: row for row in api.models((4, 4, 1), 10)}
    assert (rows["cnn4"]["fits"], rows["cnn4"]["params"], rows["cnn4"]["input"]) == (False, 0, "4x4x1: does not fit")
    assert rows["cnn4"]["reason"].startswith("cnn4 cannot take 4x4x1 images")
    assert not rows["kaggle_ensemble"]["fits"]
    # cnn1: conv 3x3x32 (320), 1x1x32 after pooling, dense 128 (4,224), softmax 10 (1,290)
    assert (rows["cnn1"]["fits"], rows["cnn1"]["params"], rows["cnn1"]["input"]) == (True, 5_834, "4x4x1")
    assert_refused(kcnn("models", "--classes", 10_000_000), "--classes", "10000000", "100000")


@pytest.mark.parametrize("spec, fragment", [("rotate=nan", "rotate must be a finite number"),
                                            ("rotate=inf", "rotate must be a finite number"),
                                            ("shift_px=1e400", "shift_px must be an integer")])
def test_tta_refuses_non_finite_amounts(kcnn, assert_refused, tmp_path, spec, fragment):
    assert_refused(kcnn("-w", tmp_path / "ws", "tta", "--transforms", spec), f"--transforms {spec!r}", fragment)
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("spec", ["shift_px=1000", "hflip,shift_px=28"])
def test_tta_refuses_a_shift_as_large_as_the_images(kcnn, assert_refused, trained_copy, spec):
    before = sorted(p.name for p in trained_copy.rglob("*"))
    assert_refused(kcnn("-w", trained_copy, "tta", "--transforms", spec), "--transforms 'shift_px=",
                   "the images are 28x28", "at most shift_px=27")
    assert sorted(p.name for p in trained_copy.rglob("*")) == before  # no *_proba_tta.npy, run.json untouched


def test_a_shift_must_be_smaller_than_both_sides():
    from kaggle_cnn.training.tta import check_fits, parse_tta

    check_fits(parse_tta("shift_px=27,rotate=30"), (28, 28, 1))
    check_fits(parse_tta("shift_px=9"), (10, 40, 3))
    with pytest.raises(InputError, match=r"the images are 10x40 \(HxW\).*at most shift_px=9$"):
        check_fits(parse_tta("shift_px=10"), (10, 40, 3))


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
        # members are checked as `kcnn check` checks a submission: a repeated id too, where they agree,
        # probability members as well
        ({name: pd.DataFrame({"id": [1, 1, 2], "cat": [0.2, 0.6, 0.5], "dog": [0.8, 0.4, 0.5]}) for name in "ab"},
         ["a.csv line 3: id '1' repeats line 2"]),
    ],
    ids=["id order", "row count", "header", "repeated id"],
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


def test_vote_with_no_run_kept_says_so(kcnn, assert_refused, tmp_path):
    result = kcnn("-w", tmp_path / "ws", "vote")
    assert_refused(result, "no run was kept", "kcnn train", "lower --keep-above")
    assert "no such folder" not in result.stderr
    (tmp_path / "ws" / "submissions").mkdir(parents=True)
    assert_refused(kcnn("-w", tmp_path / "ws", "vote"), "no run was kept")
    assert not (tmp_path / "ws" / "submissions" / "ensemble").exists()
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "submissions").write_text("a file where the folder belongs")
    assert_refused(kcnn("-w", tmp_path / "odd", "vote"), "submissions: not a folder of submission CSVs")


def test_score_names_the_extra_answers_column(kcnn, assert_refused, tmp_path):
    submission([1, 2], [7, 3]).to_csv(tmp_path / "sub.csv", index=False)
    # answers holding the submission's two columns among others are read by those names, as graders do
    submission([1, 2], [7, 3]).assign(note=["x", "y"]).to_csv(tmp_path / "answers.csv", index=False)
    read = kcnn("score", tmp_path / "sub.csv", "--answers", tmp_path / "answers.csv")
    assert read.exit_code == 0 and "accuracy 1.0000 on 2 rows" in read.output, read.output
    submission([1, 2], [7, 3]).rename(columns={"Label": "Answer"}).assign(note=["x", "y"]).to_csv(
        tmp_path / "answers.csv", index=False)
    result = kcnn("score", tmp_path / "sub.csv", "--answers", tmp_path / "answers.csv")
    assert_refused(result, f"--answers {tmp_path / 'answers.csv'}: column 'note' is one too many")
    assert "column Label" not in result.stderr
    submission([1, 2], [7, 3]).assign(note=["x", "y"]).to_csv(tmp_path / "extra.csv", index=False)
    submission([1, 2], [7, 3]).to_csv(tmp_path / "answers.csv", index=False)
    assert_refused(kcnn("score", tmp_path / "extra.csv", "--answers", tmp_path / "answers.csv"),
                   "extra.csv line 2, column Label", "with 3 columns", "an id,label file has 2")
    pd.DataFrame({"ImageId": [1, 2], "0": [0.2, 0.9], "1": [0.8, "high"]}).to_csv(tmp_path / "proba.csv", index=False)
    submission([1, 2], [1, 0]).to_csv(tmp_path / "answers.csv", index=False)
    assert_refused(kcnn("score", tmp_path / "proba.csv", "--answers", tmp_path / "answers.csv"),
                   "proba.csv line 3, column 1: 'high' is not a probability")


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


def test_an_output_file_that_is_a_folder_is_refused_before_any_work(kcnn, assert_refused, tmp_path):
    result = kcnn("-w", tmp_path / "ws", "data", "preview", "--augment", "rotation=10", "--out", tmp_path)
    assert_refused(result, "--out", "is a directory")
    assert not (tmp_path / "ws").exists()
