"""Top-k answers: a whale-categorization miniature (train.csv `Image,Id` where Image
names the file and Id is the whale; a sample whose rows hold 5 labels; MAP@5),
built from real MNIST digits written as image files, taken through `kcnn data`,
`train --metric map@5`, `vote`, `check` and `score`; the MAP@K grader on a
hand-made example; the bad --metric values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kaggle_cnn.errors import InputError

TRAIN, TEST = 240, 40
K = 5


def whale_name(i: int) -> str:
    return f"{(i * 2654435761) % 16**8:08x}.jpg"  # like whale-categorization's 00022e1a.jpg


@pytest.fixture(scope="module")
def whales(tmp_path_factory, mnist) -> Path:
    """train/ and test/ of <hex>.jpg digits, train.csv Image,Id with Id w_<digit>,
    a sample of 5 labels a row in its own order, and the hidden answers beside."""
    root = tmp_path_factory.mktemp("whales") / "whale-categorization-playground"
    with np.load(mnist) as arrays:
        pixels, digits = arrays["x_train"][: TRAIN + TEST], arrays["y_train"][: TRAIN + TEST]
    names = [whale_name(i) for i in range(TRAIN + TEST)]
    for i, name in enumerate(names):
        folder = root / ("train" if i < TRAIN else "test")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[i]).save(folder / name, "JPEG", quality=95)
    labels = [f"w_{d}" for d in digits]
    pd.DataFrame({"Image": names[:TRAIN], "Id": labels[:TRAIN]}).to_csv(root / "train.csv", index=False)
    order = names[TRAIN:][::-1]  # the sample's own order, not the folder's
    pd.DataFrame({"Image": order, "Id": "new_whale w_1 w_2 w_3 w_4"}).to_csv(root / "sample_submission.csv",
                                                                             index=False)
    pd.DataFrame({"Image": names[TRAIN:], "Id": labels[TRAIN:]}).to_csv(root.parent / "answers.csv", index=False)
    return root


@pytest.fixture(scope="module")
def voted(whales, tmp_path_factory):
    """A workspace of two kept 1-epoch runs judged by map@5, and their soft vote."""
    from click.testing import CliRunner

    from kaggle_cnn.cli import cli

    workspace = tmp_path_factory.mktemp("ws")
    invoke = lambda *a: CliRunner().invoke(cli, [str(x) for x in a], catch_exceptions=False)  # noqa: E731
    trained = invoke("-w", workspace, "train", "--data", whales, "--model", "cnn1", "--epochs", 1, "--batch-size", 32,
                     "--repeat", 2, "--metric", "map@5", "--keep-above", 0)
    assert trained.exit_code == 0, trained.output
    result = invoke("-w", workspace, "vote")
    assert result.exit_code == 0, result.output
    (csv,) = (workspace / "submissions" / "ensemble").glob("*.csv")
    return workspace, csv


def grade_by_hand(submission: Path, answers: Path) -> float:
    """MAP@5 as mle-bench's whale grade.py computes it, for one true label a row."""
    sub = pd.read_csv(submission, dtype=str).sort_values("Image")
    ans = pd.read_csv(answers, dtype=str).sort_values("Image")
    total = 0.0
    for ranked, truth in zip(sub["Id"].str.split(" "), ans["Id"]):
        total += 1 / (ranked.index(truth) + 1) if truth in ranked[:5] else 0.0
    return total / len(ans)


def test_data_finds_the_layout_task_and_metric(whales, kcnn):
    shown = kcnn("data", whales)
    assert shown.exit_code == 0, shown.output
    assert "id column Image, label Id" in shown.output
    assert "top-5 answers" in shown.output and "map@5" in shown.output
    assert "Image,Id  (5 space-separated labels a row" in shown.output
    assert f"train {TRAIN}" in shown.output and f"test {TEST}" in shown.output


def test_train_vote_check_score(whales, voted, kcnn):
    workspace, csv = voted
    sample = pd.read_csv(whales / "sample_submission.csv", dtype=str)
    submission = pd.read_csv(csv, dtype=str)
    assert list(submission.columns) == list(sample.columns) == ["Image", "Id"]
    assert submission["Image"].tolist() == sample["Image"].tolist()
    rows = submission["Id"].str.split(" ")
    assert (rows.map(len) == K).all() and (rows.map(lambda r: len(set(r))) == K).all()
    assert set(rows.sum()) <= {f"w_{d}" for d in range(10)}
    for run_csv in (workspace / "submissions").glob("*.csv"):  # each run's own submission ranks 5 too
        assert (pd.read_csv(run_csv, dtype=str)["Id"].str.split(" ").map(len) == K).all()

    checked = kcnn("check", csv, "--data", whales)
    assert checked.exit_code == 0, checked.output
    assert "id set and order" in checked.output and "5 distinct labels a row" in checked.output
    scored = kcnn("score", csv, "--answers", whales.parent / "answers.csv", "--metric", "map@5")
    assert scored.exit_code == 0, scored.output
    value = float(scored.output.split("map@5 ")[1].split()[0])
    assert value == pytest.approx(grade_by_hand(csv, whales.parent / "answers.csv"), abs=1e-4)
    assert value > 0.2  # 10 classes: a random ranking scores about 0.23; it is at least a ranking

    sidecar = pd.read_json(csv.with_suffix(".json"), typ="series")
    assert sidecar["metric"] == "map@5" and sidecar["method"] == "soft"


def test_check_refuses_rows_that_are_not_five_known_labels(whales, voted, kcnn, assert_refused, tmp_path):
    _, csv = voted
    submission = pd.read_csv(csv, dtype=str)
    short = submission.assign(Id=submission["Id"].str.rsplit(" ", n=1).str[0])
    short.to_csv(tmp_path / "short.csv", index=False)
    assert_refused(kcnn("check", tmp_path / "short.csv", "--data", whales), "short.csv: holds 4 labels a row",
                   "sample_submission.csv asks for 5")
    unknown = submission.copy()
    unknown.loc[2, "Id"] = "w_1 w_2 w_3 w_4 w_99"
    unknown.to_csv(tmp_path / "unknown.csv", index=False)
    assert_refused(kcnn("check", tmp_path / "unknown.csv", "--data", whales), "unknown.csv line 4: label 'w_99'",
                   "not one of the 10 classes")
    twice = submission.copy()
    twice.loc[0, "Id"] = "w_1 w_2 w_1 w_4 w_5"
    twice.to_csv(tmp_path / "twice.csv", index=False)
    assert_refused(kcnn("check", tmp_path / "twice.csv", "--data", whales), "twice.csv line 2: label 'w_1' is listed twice")


def test_score_grades_map_at_5_on_a_hand_made_example(tmp_path, kcnn):
    """Ranks 1, 2 and 5 and a miss: (1 + 1/2 + 1/5 + 0) / 4 = 0.425; a repeated label counts once."""
    ids = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    pd.DataFrame({"Image": ids, "Id": ["w_1", "w_2", "new_whale", "w_3"]}).to_csv(tmp_path / "answers.csv", index=False)
    pd.DataFrame({"Image": ids[::-1], "Id": ["w_1 w_2 w_4 w_5 w_6", "w_1 w_2 w_3 w_4 new_whale",
                                             "w_1 w_2 w_3 w_4 w_5", "w_1 w_2 w_3 w_4 w_5"]}
                 ).to_csv(tmp_path / "sub.csv", index=False)
    scored = kcnn("score", tmp_path / "sub.csv", "--answers", tmp_path / "answers.csv", "--metric", "map@5")
    assert scored.exit_code == 0, scored.output
    assert "accuracy 0.2500, map@5 0.4250 on 4 rows" in scored.output

    from kaggle_cnn.evaluation.top_k import average_precision_at_k

    assert average_precision_at_k({"a"}, ["x", "a", "a"], 5) == pytest.approx(1 / 2)
    assert average_precision_at_k({"a", "b"}, ["a", "x", "b"], 2) == pytest.approx(1 / 2)  # b beyond k=2
    assert average_precision_at_k(set(), ["a"], 5) == 0.0


def test_the_metric_equals_the_grader_on_probabilities():
    from kaggle_cnn.evaluation.metric_registry import get_metric
    from kaggle_cnn.evaluation.top_k import mean_average_precision_at_k

    rng = np.random.default_rng(3)
    proba = rng.dirichlet(np.ones(8), size=200)
    truth = rng.integers(0, 8, size=200)
    ranked = np.argsort(-proba, axis=1, kind="stable")[:, :3]
    expected = mean_average_precision_at_k([{t} for t in truth], ranked.tolist(), 3)
    metric = get_metric("map@3")
    assert metric.value(truth, proba) == pytest.approx(expected)
    assert metric.greater_is_better and metric.passes(0.5, 0.4) and not metric.passes(0.3, 0.4)
    hand = np.array([[0.5, 0.3, 0.2, 0.0], [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    assert metric.value(np.array([0, 0, 1]), hand) == pytest.approx((1 + 0 + 1 / 2) / 3)
    # ranks 1, 1, 1 (a tie goes to the lower class), 2, miss, 2, 1, 1 among the top 2: 6 / 8
    proba = np.array([[.7, .2, .1], [.1, .6, .3], [.2, .2, .6], [.5, .1, .4], [.3, .3, .4], [.4, .5, .1],
                      [.1, .1, .8], [.2, .7, .1]])
    assert get_metric("map@2").value(np.array([0, 1, 2, 2, 1, 0, 2, 1]), proba) == pytest.approx(0.75)


@pytest.mark.parametrize("name, fragment", [("map@0", "--metric map@0: K of map@K must be a whole number"),
                                            ("map@x", "--metric map@x: K of map@K must be a whole number"),
                                            ("map@11", "--metric map@11: K is 11, more than the 10 classes")])
def test_bad_map_metrics_are_refused_and_nothing_is_written(whales, kcnn, assert_refused, tmp_path, name, fragment):
    workspace = tmp_path / "ws"
    result = kcnn("-w", workspace, "train", "--data", whales, "--model", "cnn1", "--epochs", 1, "--metric", name)
    assert_refused(result, fragment)
    assert not workspace.exists()


def test_map_metric_names(tmp_path):
    from kaggle_cnn.evaluation.metric_registry import get_metric

    assert get_metric("map@5").k == 5 and get_metric("map@05").name == "map@5"
    for bad in ("map@K", "map@-1", "map@1.5", "mapk"):
        with pytest.raises(InputError, match=r"^--metric "):
            get_metric(bad)


def test_votes_that_cannot_rank_are_refused(voted, kcnn, assert_refused):
    workspace, csv = voted
    before = sorted((p, p.stat().st_mtime_ns) for p in (workspace / "submissions").rglob("*"))
    assert_refused(kcnn("-w", workspace, "vote", "--metric", "map@11", "--name", "eleven"),
                   "--metric map@11: K is 11, more than the 10 classes")
    assert_refused(kcnn("-w", workspace, "vote", "--metric", "map@0", "--name", "zero"), "--metric map@0")
    assert_refused(kcnn("-w", workspace, "vote", "--method", "hard", "--name", "hard"),
                   "--method hard", "rows of 5 labels (likeliest first)")
    assert sorted((p, p.stat().st_mtime_ns) for p in (workspace / "submissions").rglob("*")) == before


def test_the_inference_bundle_writes_the_votes_top_k_csv(whales, voted, kcnn, tmp_path):
    """predict.py, run where kaggle_cnn is not importable, writes the vote's CSV byte for byte."""
    import os
    import subprocess
    import sys

    workspace, csv = voted
    result = kcnn("-w", workspace, "export-inference", csv, tmp_path / "bundle")
    assert result.exit_code == 0, result.output
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    ran = subprocess.run([sys.executable, "-I", str(tmp_path / "bundle" / "predict.py"), "--test", str(whales),
                          "--out", str(tmp_path / "out.csv")], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert (tmp_path / "out.csv").read_bytes() == csv.read_bytes()
