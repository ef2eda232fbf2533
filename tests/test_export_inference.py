"""kcnn export-inference: a vote's bundle for code competitions. Its predict.py, run
where kaggle_cnn cannot be imported, writes the vote's CSV byte for byte from the
competition's test data; its rules are kcnn's; bad input is refused, nothing written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kaggle_cnn.competition import bundle_predict
from kaggle_cnn.ensemble import rules
from kaggle_cnn.ensemble.rules import VoteSpec

# Runs each predict.py given as (bundle, test, out) in one clean interpreter (-I: no
# PYTHONPATH, no current folder on the path) where importing kaggle_cnn fails, as on Kaggle.
CLEAN_RUN = """
import runpy, sys
class NoKaggleCnn:
    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] == 'kaggle_cnn':
            raise ImportError('kaggle_cnn is not installed on Kaggle')
sys.meta_path.insert(0, NoKaggleCnn())
try:
    import kaggle_cnn
except ImportError:
    pass
else:
    raise SystemExit('kaggle_cnn is importable')
for bundle, test, out in zip(*[iter(sys.argv[1:])] * 3):
    sys.argv = ['predict.py', '--test', test, '--out', out]
    try:
        runpy.run_path(bundle + '/predict.py', run_name='__main__')
    except SystemExit as stop:
        if stop.code:
            raise
assert not [m for m in sys.modules if m.partition('.')[0] == 'kaggle_cnn']
"""


def run_clean(*triples, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    args = [str(part) for triple in triples for part in triple]
    return subprocess.run([sys.executable, "-I", "-c", CLEAN_RUN, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_predict_py_writes_the_votes_csv_without_kaggle_cnn(trained_copy, competition, kcnn, tmp_path):
    ensemble = trained_copy / "submissions" / "ensemble"
    for method in ("soft", "hard"):
        assert kcnn("-w", trained_copy, "vote", "--method", method).exit_code == 0
    bundles = {}
    for name in ("soft_vote", "majority_vote"):
        result = kcnn("-w", trained_copy, "export-inference", ensemble / f"{name}.csv", tmp_path / name)
        assert result.exit_code == 0, result.output
        assert "2 member(s)" in result.output
        bundles[name] = tmp_path / name
    runs = sorted(p.name for p in (trained_copy / "models").iterdir() if (p / "run.json").exists())
    files = sorted(str(p.relative_to(bundles["soft_vote"])) for p in bundles["soft_vote"].rglob("*") if p.is_file())
    assert files == ["bundle.json", *[f"models/{r}/model.keras" for r in runs], "predict.py"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left
    bundle = json.loads((bundles["majority_vote"] / "bundle.json").read_text())
    sidecar = json.loads((ensemble / "majority_vote.json").read_text())
    assert bundle["method"] == "hard" and bundle["combine"] == "votes"
    assert [m["run_id"] for m in bundle["members"]] == [m["run_id"] for m in sidecar["members"]] == runs
    assert [m["weight"] for m in bundle["members"]] == [m["weight"] for m in sidecar["members"]]
    assert [m["tie_score"] for m in bundle["members"]] == [m["val_score"] for m in sidecar["members"]]
    assert bundle["classes"] == sidecar["classes"] == [str(d) for d in range(10)]
    assert bundle["submission"]["header"] == ["ImageId", "Label"]
    assert bundle["data"]["kind"] == "kaggle_csv" and bundle["data"]["image_shape"] == [28, 28, 1]
    assert json.loads((bundles["soft_vote"] / "bundle.json").read_text())["combine"] == "probability"

    # One kept run's own submission (a distilled student's, say) is a bundle of one model.
    single = trained_copy / "submissions" / f"{runs[0]}.csv"
    result = kcnn("-w", trained_copy, "export-inference", single, tmp_path / "single")
    assert result.exit_code == 0, result.output
    assert [m["run_id"] for m in json.loads((tmp_path / "single" / "bundle.json").read_text())["members"]] == runs[:1]

    # A code competition's notebook: the competition folder, or its test file.
    workdir = tmp_path / "kaggle"
    workdir.mkdir()
    result = run_clean((bundles["soft_vote"], competition, workdir / "soft.csv"),
                       (bundles["majority_vote"], competition / "test.csv", workdir / "hard.csv"),
                       (tmp_path / "single", competition, workdir / "single.csv"), cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (workdir / "single.csv").read_bytes() == single.read_bytes()
    assert (workdir / "soft.csv").read_bytes() == (ensemble / "soft_vote.csv").read_bytes()
    assert (workdir / "hard.csv").read_bytes() == (ensemble / "majority_vote.csv").read_bytes()
    assert (workdir / "hard.csv").read_bytes().startswith(b"ImageId,Label\r\n")


def _members(rng, n_members, rows, n_classes, coarse):
    """Probabilities on a coarse grid (many exact ties) or fine, and each member's top class."""
    proba = []
    for _ in range(n_members):
        raw = rng.integers(0, 3, (rows, n_classes)).astype(float) + 1 if coarse else rng.random((rows, n_classes))
        proba.append(raw / raw.sum(axis=1, keepdims=True))
    return proba, np.array([p.argmax(axis=1) for p in proba])


@pytest.mark.parametrize("seed", range(6))
def test_predict_py_rules_are_kcnns(seed):
    """bundle_predict.combine gives rules.combine's classes on rows full of ties."""
    rng = np.random.default_rng(seed)
    n_members, rows, n_classes = int(rng.choice([2, 4])), 200, int(rng.integers(2, 5))  # even: tied votes
    proba, votes = _members(rng, n_members, rows, n_classes, coarse=seed % 2 == 0)
    scores = [float(s) for s in rng.choice([0.5, 0.7, 0.9], n_members)]
    if seed == 4:
        scores = [None] * n_members  # a vote without validation rows
    cases = [
        ("hard", np.ones(n_members), False),
        ("hard", np.r_[0.0, np.ones(n_members - 1)], False),
        ("weighted", rng.choice([0.0, 1.0, 2.0, 0.5], n_members) + np.r_[1.0, np.zeros(n_members - 1)], False),
        ("soft", np.ones(n_members), False),
        ("soft", np.ones(n_members), True),
        ("greedy", rng.integers(0, 3, n_members) + np.r_[1, np.zeros(n_members - 1, int)], False),
    ]
    broken = dict.fromkeys(("probability", "best_member", "smallest_label"), 0)
    for method, weights, geometric in cases:
        spec = VoteSpec(method=method, geometric=geometric)
        expected = rules.combine(spec, weights, votes, proba, scores, n_classes)
        probability = rules.combines_probabilities(spec, proba, weights)
        bundle = {"combine": "probability" if probability else "votes", "geometric": geometric,
                  "classes": [str(c) for c in range(n_classes)],
                  "members": [{"weight": float(w), "tie_score": s} for w, s in zip(weights, scores)]}
        got = bundle_predict.combine(bundle, proba, votes)
        assert np.array_equal(got, expected.predictions), (method, weights)
        if not probability:
            broken = {rule: n + expected.ties_by_rule[rule] for rule, n in broken.items()}
    assert broken["probability"] > 0  # the tie rules were exercised
    if seed % 2 == 0 and seed != 4:  # equal probabilities on the coarse grid: the later rules too
        assert broken["best_member"] > 0


def test_predict_py_refuses_test_data_it_cannot_read(tmp_path):
    bundle = {"data": {"kind": "kaggle_csv"}}
    with pytest.raises(bundle_predict.Refused, match="no test.csv"):
        bundle_predict.locate(bundle, tmp_path, None)
    with pytest.raises(bundle_predict.Refused, match="no such file"):
        bundle_predict.locate(bundle, tmp_path / "missing", None)
    x = np.array([[0.0, 1.5, 3.0]], dtype=np.float32)
    with pytest.raises(bundle_predict.Refused, match="neither scale"):
        bundle_predict.scale_to_unit(x, "test.csv")


def test_a_kfold_members_models_are_those_that_made_its_test_probabilities(tmp_path):
    """Hold-out: model.keras; k-fold: its fold models (averaged); k-fold with --refit: the refit model.keras."""
    from kaggle_cnn.competition.bundle import model_files
    from kaggle_cnn.store.run import Run

    def run(config, validation=None):
        return Run("r", tmp_path, {"config": config, **({"validation": validation} if validation else {})})

    assert model_files(run({"refit": None})) == ["model.keras"]
    assert model_files(run({"folds": 3, "refit": False}, {"kind": "folds", "folds": 3})) == \
        ["fold1.keras", "fold2.keras", "fold3.keras"]
    assert model_files(run({"folds": 3, "refit": True}, {"kind": "folds", "folds": 3})) == ["model.keras"]


# -- refusals: one line, exit 2, nothing written ---------------------------------------------


@pytest.fixture
def voted(trained_copy, kcnn):
    assert kcnn("-w", trained_copy, "vote").exit_code == 0
    return trained_copy, trained_copy / "submissions" / "ensemble" / "majority_vote.csv"


def _refused(kcnn, assert_refused, workspace, vote, out, *fragments):
    assert_refused(kcnn("-w", workspace, "export-inference", vote, out), *fragments)
    assert not out.exists() or not any(out.iterdir())
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")] == []


def test_refuses_a_csv_that_is_not_a_vote(voted, kcnn, assert_refused, tmp_path):
    workspace, vote = voted
    member = shutil.copyfile(next((workspace / "submissions").glob("*.csv")), tmp_path / "teammate.csv")
    _refused(kcnn, assert_refused, workspace, member, tmp_path / "out", member.name, "not a vote's CSV")
    vote.write_bytes(vote.read_bytes() + b"1,1\r\n")
    _refused(kcnn, assert_refused, workspace, vote, tmp_path / "out", "majority_vote.json", "checksum differs")


def test_refuses_a_member_whose_run_or_model_is_gone(voted, kcnn, assert_refused, tmp_path):
    workspace, vote = voted
    first, second = sorted(p for p in (workspace / "models").iterdir() if (p / "run.json").exists())
    shutil.rmtree(second)
    _refused(kcnn, assert_refused, workspace, vote, tmp_path / "out", f"member run {second.name} is gone")
    (first / "model.keras").unlink()
    _refused(kcnn, assert_refused, workspace, vote, tmp_path / "out", f"member run {first.name}", "model.keras")


def test_refuses_a_folder_in_use_a_tta_vote_and_other_data(voted, kcnn, assert_refused, tmp_path):
    workspace, vote = voted
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    assert_refused(kcnn("-w", workspace, "export-inference", vote, used), str(used), "not an empty folder")
    assert [p.name for p in used.iterdir()] == ["keep.txt"]

    sidecar_path = vote.with_suffix(".json")
    sidecar = json.loads(sidecar_path.read_text())
    sidecar_path.write_text(json.dumps({**sidecar, "tta": True}))
    _refused(kcnn, assert_refused, workspace, vote, tmp_path / "out", "--tta", "does not augment")
    sidecar_path.write_text(json.dumps(sidecar))

    records = {path: json.loads(path.read_text()) for path in (workspace / "models").glob("*/run.json")}
    for path, record in records.items():
        path.write_text(json.dumps({**record, "data": {**record["data"], "kind": "cifar_batches"}}))
    _refused(kcnn, assert_refused, workspace, vote, tmp_path / "out", "cifar_batches", "predict.py reads")

    # An empty folder is fine: the bundle takes its place.
    for path, record in records.items():
        path.write_text(json.dumps(record))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert kcnn("-w", workspace, "export-inference", vote, empty).exit_code == 0
    assert (empty / "predict.py").is_file() and (empty / "bundle.json").is_file()


# -- the other kinds of test data: image files, .npz ------------------------------------------


def _digits(classes, n_train, n_test):
    """Demo images of these digits: (train images, train labels, test images), uint8 28x28."""
    import pandas as pd

    from kaggle_cnn.data import demo_path

    frame = pd.read_csv(demo_path() / "train.csv.gz", nrows=2000)
    frame = frame[frame["label"].isin(classes)]
    images = frame.filter(like="pixel").to_numpy(dtype=np.uint8).reshape(-1, 28, 28)
    return images[:n_train], frame["label"].to_numpy()[:n_train], images[n_train:n_train + n_test]


def _image_competition(folder: Path) -> Path:
    """A labels CSV beside train/ and test/ PNGs; some test images are 30x30 (resized
    to 28x28 by --image-size), and the sample lists the test ids, without their
    extension, in another order than the files'."""
    import pandas as pd
    from PIL import Image

    x_train, y_train, x_test = _digits([0, 1], 60, 12)
    for part in ("train", "test"):
        (folder / part).mkdir(parents=True)
    for i, image in enumerate(x_train):
        Image.fromarray(image).save(folder / "train" / f"t{i:03d}.png")
    for i, image in enumerate(x_test):
        picture = Image.fromarray(image)
        (picture.resize((30, 30)) if i % 3 == 0 else picture).save(folder / "test" / f"q{i:03d}.png")
    pd.DataFrame({"id": [f"t{i:03d}" for i in range(len(x_train))],
                  "label": np.where(y_train == 0, "zero", "one")}).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"id": [f"q{i:03d}" for i in range(len(x_test))][::-1], "label": "zero"}).to_csv(
        folder / "sample_submission.csv", index=False)
    return folder


@pytest.mark.slow  # two more trainings: about 20 s of CPU
def test_predict_py_reads_image_files_and_npz_as_kcnn_did(kcnn, tmp_path):
    images = _image_competition(tmp_path / "photos")
    x_train, y_train, x_test = _digits([3, 5, 8], 60, 12)
    npz = tmp_path / "digits.npz"
    np.savez(npz, x_train=x_train, y_train=np.array(["three", "five", "eight"])[np.searchsorted([3, 5, 8], y_train)],
             x_test=x_test, ids=np.arange(100, 100 + len(x_test)))
    cases = {"photos": (images, ["--image-size", 28]), "npz": (npz, [])}
    triples = []
    for name, (data, options) in cases.items():
        workspace = tmp_path / f"ws-{name}"
        result = kcnn("-w", workspace, "train", "--data", data, "--model", "cnn1", "--keep-above", 0, "--epochs", 1,
                      "--batch-size", 16, *options)
        assert result.exit_code == 0, result.output
        assert kcnn("-w", workspace, "vote").exit_code == 0
        vote = workspace / "submissions" / "ensemble" / "majority_vote.csv"
        assert kcnn("-w", workspace, "export-inference", vote, tmp_path / f"bundle-{name}").exit_code == 0
        triples.append((tmp_path / f"bundle-{name}", data, tmp_path / f"{name}.csv"))
    kinds = [json.loads((b / "bundle.json").read_text())["data"]["kind"] for b, _, _ in triples]
    assert kinds == ["labelled_images", "npz"]
    result = run_clean(*triples, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in cases:
        vote = tmp_path / f"ws-{name}" / "submissions" / "ensemble" / "majority_vote.csv"
        assert (tmp_path / f"{name}.csv").read_bytes() == vote.read_bytes()
    assert (tmp_path / "photos.csv").read_text().splitlines()[1].startswith("q011,")
    assert (tmp_path / "npz.csv").read_text().splitlines()[1].startswith("100,")
