"""`kcnn vote --method stack`: a logistic regression on the members' probabilities,
fitted on the honest rows. Two one-epoch runs on a three-digit slice of the demo
give the workspace (its runs, split and CSVs); the tests about arithmetic write
their own members' probabilities into a copy, so that the answer is known."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict

from kaggle_cnn import api
from kaggle_cnn.data import demo_path
from kaggle_cnn.ensemble import rules, stack
from kaggle_cnn.errors import InputError
from kaggle_cnn.store.submissions import CLASS_COLUMNS, write_predictions
from kaggle_cnn.store.validation import honest_predictions
from kaggle_cnn.store.workspace import Workspace

CLASSES = ["0", "1", "2"]


@pytest.fixture(scope="module")
def three_digits(kcnn, tmp_path_factory):
    """Two kept cnn1 runs (1 epoch) on 240 images of the digits 0, 1 and 2. Read-only."""
    folder = tmp_path_factory.mktemp("digits")
    train = pd.read_csv(demo_path() / "train.csv.gz", nrows=1200)
    train[train["label"] < 3].head(240).to_csv(folder / "train.csv", index=False)
    pd.read_csv(demo_path() / "test.csv.gz", nrows=30).to_csv(folder / "test.csv", index=False)
    root = tmp_path_factory.mktemp("stack") / "ws"
    result = kcnn("-w", root, "train", "--data", folder, "--model", "cnn1", "--repeat", 2, "--epochs", 1,
                  "--batch-size", 32, "--keep-above", 0)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def digits(three_digits, tmp_path):
    return Workspace(shutil.copytree(three_digits, tmp_path / "ws"))


def _noisy(rng, labels, strength):
    """Probabilities leaning to `labels` by `strength` (logits), with noise."""
    logits = rng.normal(0, 1, (len(labels), 3))
    logits[np.arange(len(labels)), labels] += strength
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def plant(workspace: Workspace, suffix: str = "", seed: int = 0) -> np.ndarray:
    """Give the two runs known probabilities: the first is weak but honest (leans to
    the truth, noisily); the second is confident and systematically wrong (calls
    every digit the next one: 0 a 1, 1 a 2, 2 a 0). Returns the test rows' truth."""
    rng = np.random.default_rng(seed)
    first, second = workspace.runs()
    truth = honest_predictions(workspace, first).truth
    assert [str(c) for c in first.classes] == CLASSES
    test_truth = rng.integers(0, 3, first.record["data"]["n_test"])
    for run, shift, strength in ((first, 0, 0.8), (second, 1, 6.0)):
        np.save(run.path / f"val_proba{suffix}.npy", _noisy(rng, (truth + shift) % 3, strength))
        np.save(run.path / f"test_proba{suffix}.npy", _noisy(rng, (test_truth + shift) % 3, strength))
    return test_truth


def members(workspace: Workspace, suffix: str = ""):
    """The runs' honest probabilities, their truth, and their test probabilities, as stored."""
    runs = workspace.runs()
    honest = [honest_predictions(workspace, run, suffix) for run in runs]
    return ([h.proba.astype(np.float64) for h in honest], honest[0].truth,
            [np.load(run.path / f"test_proba{suffix}.npy").astype(np.float64) for run in runs])


def by_hand(val_proba, truth, outer=5, inner=3):
    """The stacking procedure written out with scikit-learn: C by log-loss on inner
    stratified folds, out-of-fold probabilities from outer stratified folds."""
    search = GridSearchCV(LogisticRegression(solver="newton-cg", max_iter=1000, random_state=0),
                          {"C": [0.01, 0.1, 1.0, 10.0, 100.0]}, cv=StratifiedKFold(inner, shuffle=True, random_state=0),
                          scoring="neg_log_loss")
    features = np.hstack(val_proba)
    oof = cross_val_predict(search, features, truth, cv=StratifiedKFold(outer, shuffle=True, random_state=0),
                            method="predict_proba")
    return oof, search.fit(features, truth)


def labels_of(csv_path) -> list[str]:
    return pd.read_csv(csv_path, dtype=str).iloc[:, 1].tolist()


def reapply(sidecar_stack, proba):
    """A sidecar's meta-model applied to members' probabilities with numpy alone."""
    x = np.hstack(proba)
    if sidecar_stack["features"] == "log_proba":
        x = np.log(np.clip(x, sidecar_stack["floor"], 1.0))
    logits = x @ np.array(sidecar_stack["coef"]).T + np.array(sidecar_stack["intercept"])
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_stack_writes_a_submission_its_sidecar_can_recompute(kcnn, digits):
    test_truth = plant(digits)
    result = kcnn("-w", digits.root, "vote", "--method", "stack")
    assert result.exit_code == 0, result.output
    csv, details = digits.ensemble_dir / "stacked_vote.csv", digits.ensemble_dir / "stacked_vote.json"
    sidecar = json.loads(details.read_text())
    assert sidecar["method"] == "stack" and sidecar["rule"] == stack.TIE_RULE
    meta = sidecar["stack"]
    assert meta["members"] == [run.run_id for run in digits.runs()] and meta["classes"] == CLASSES
    assert meta["features"] == "proba" and np.array(meta["coef"]).shape == (3, 6)
    assert [m["weight"] for m in sidecar["members"]] == [1.0, 1.0]

    val_proba, truth, test_proba = members(digits)
    labels = labels_of(csv)
    assert labels == [CLASSES[i] for i in reapply(meta, test_proba).argmax(axis=1)]
    assert labels == [CLASSES[i] for i in test_truth]  # the biased member's shift undone on every test row
    in_sample = reapply(meta, val_proba)
    assert sidecar["val_predictions"] == [CLASSES[i] for i in in_sample.argmax(axis=1)]
    assert sidecar["val_accuracy"] == pytest.approx(np.mean(in_sample.argmax(axis=1) == truth))

    oof, fitted = by_hand(val_proba, truth)
    assert meta["C"] == fitted.best_params_["C"]
    assert np.array(meta["coef"]) == pytest.approx(fitted.best_estimator_.coef_, rel=1e-6, abs=1e-9)
    assert in_sample == pytest.approx(fitted.predict_proba(np.hstack(val_proba)), abs=1e-9)
    estimate = sidecar["val_estimate"]
    assert estimate["value"] == pytest.approx(np.mean(oof.argmax(axis=1) == truth))
    assert (estimate["folds"], estimate["rows"], estimate["metric"]) == (5, len(truth), "accuracy")
    assert f"{sidecar['val_score']:.4f} in-sample, {estimate['value']:.4f} 5-fold estimate" in result.output
    assert f"C {meta['C']:g}" in result.output


def test_stacking_undoes_a_biased_member_that_the_soft_vote_follows(digits):
    """The second member is confident and always one digit off: averaged in, it drags
    the soft vote wrong; the meta-model learns its shift and reads it back."""
    test_truth = plant(digits)
    soft = api.vote(digits, spec=api.VoteSpec("soft"))
    stacked = api.vote(digits, spec=api.VoteSpec("stack"))
    assert stacked.sidecar["val_estimate"]["value"] >= 0.95
    assert soft.sidecar["val_estimate"]["value"] <= 0.5
    soft_labels = np.array(labels_of(soft.csv_path))
    assert np.mean(soft_labels == np.array(CLASSES)[test_truth]) <= 0.5
    logloss = api.vote(digits, spec=api.VoteSpec("stack", metric="logloss"), name="by_logloss").sidecar
    val_proba, truth, _ = members(digits)
    oof, _ = by_hand(val_proba, truth)
    picked = np.clip(oof[np.arange(len(truth)), truth], 1e-15, 1 - 1e-15)
    assert logloss["val_estimate"]["value"] == pytest.approx(-np.mean(np.log(picked)))


def test_top_filters_members_before_the_stack_and_tta_stacks_the_augmented_probabilities(digits):
    plant(digits)
    test_truth = plant(digits, "_tta", seed=1)  # other values under the TTA names
    best = api.vote(digits, spec=api.VoteSpec("stack", top=1), name="best_only").sidecar
    first, second = digits.runs()
    assert [m["weight"] for m in best["members"]] == [1.0, 0.0]  # the honest member scores better
    assert best["stack"]["members"] == [first.run_id] and np.array(best["stack"]["coef"]).shape == (3, 3)
    tta = api.vote(digits, spec=api.VoteSpec("stack"), tta=True)
    assert tta.csv_path.name == "stacked_vote_tta.csv" and tta.sidecar["tta"] is True
    val_proba, truth, test_proba = members(digits, "_tta")
    _, fitted = by_hand(val_proba, truth)
    assert np.array(tta.sidecar["stack"]["coef"]) == pytest.approx(fitted.best_estimator_.coef_, rel=1e-6, abs=1e-9)
    labels = labels_of(tta.csv_path)
    assert labels == [CLASSES[i] for i in reapply(tta.sidecar["stack"], test_proba).argmax(axis=1)]
    assert labels == [CLASSES[i] for i in test_truth]


def test_probability_submissions_get_the_stacked_probabilities(digits):
    plant(digits)
    for run in digits.runs():  # the competition takes a probability per class: rewrite the runs' own CSVs so
        own = pd.read_csv(run.path / "submission.csv", dtype=str)
        for path in (run.path / "submission.csv", digits.member_submission(run.run_id)):
            write_predictions(path, CLASS_COLUMNS, [own.columns[0], *CLASSES], own.iloc[:, 0], CLASSES,
                              run.test_proba())
    outcome = api.vote(digits, spec=api.VoteSpec("stack"))
    written = pd.read_csv(outcome.csv_path, dtype=str)
    assert list(written.columns) == [own.columns[0], *CLASSES]
    _, _, test_proba = members(digits)
    expected = np.clip(reapply(outcome.sidecar["stack"], test_proba), 1e-15, 1 - 1e-15)
    assert written[CLASSES].to_numpy(float) == pytest.approx(expected, abs=1e-6)


def test_what_a_stack_cannot_do_is_refused(kcnn, assert_refused, digits, trained_copy, tmp_path):
    plant(digits)
    weights = tmp_path / "weights.csv"
    pd.DataFrame({"member": [r.run_id for r in digits.runs()], "weight": [1, 1]}).to_csv(weights, index=False)
    assert_refused(kcnn("-w", digits.root, "vote", "--method", "stack", "--member-weights", weights),
                   "--member-weights is for --method weighted, not stack")
    assert_refused(kcnn("-w", digits.root, "vote", "--method", "stack", "--geometric"), "--geometric")
    teammate = pd.read_csv(digits.member_submission(digits.runs()[0].run_id), dtype=str)
    teammate.to_csv(digits.submissions_dir / "teammate.csv", index=False)
    assert_refused(kcnn("-w", digits.root, "vote", "--method", "stack"),
                   "--method stack needs stored probabilities of every member", "teammate.csv")
    assert not digits.ensemble_dir.exists()

    # ten digits on 60 hold-out rows: some digit has fewer than 3 of them
    workspace = Workspace(trained_copy)
    truth = honest_predictions(workspace, workspace.runs()[0]).truth
    counts = np.bincount(truth, minlength=10)
    short = int(np.flatnonzero(counts < 3)[0])
    assert_refused(kcnn("-w", trained_copy, "vote", "--method", "stack"), "at least 3 honest rows of every class",
                   f"{len(truth)} hold-out rows", f"class {short} has {counts[short]}")
    assert not workspace.ensemble_dir.exists()


def test_too_few_honest_rows_are_refused_naming_the_counts():
    truth = np.array([0, 1, 2] * 5)
    with pytest.raises(InputError, match="there are 15 hold-out rows: it needs at least 20"):
        stack.check_rows(truth, CLASSES, "15 hold-out rows")
    stack.check_rows(np.array([0, 1, 2] * 7), CLASSES, "21 hold-out rows")
    assert rules.VoteSpec("stack").uses_probabilities


def test_a_two_class_stack_is_stored_as_softmax_rows_that_give_scikit_learns_probabilities():
    rng = np.random.default_rng(3)
    truth = np.repeat([0, 1], 20)
    proba = [np.column_stack([1 - p, p]) for p in (np.clip(truth * 0.6 + rng.uniform(0, 0.4, 40), 0, 1),
                                                   rng.uniform(0, 1, 40))]
    model = stack.fit(proba, truth, ["a", "b"], ["no", "yes"])
    assert model.coef.shape == (2, 4) and not model.coef[0].any() and model.intercept[0] == 0
    _, fitted = by_hand(proba, truth, inner=3)
    assert model.apply(proba) == pytest.approx(fitted.predict_proba(np.hstack(proba)), abs=1e-9)
    assert reapply(model.as_json(), proba) == pytest.approx(model.apply(proba), abs=1e-12)


def test_a_stacked_votes_bundle_writes_its_csv_and_probabilities(digits, kcnn, tmp_path):
    """The stack's meta-model travels in bundle.json: predict.py, where kaggle_cnn cannot be
    imported, writes the stacked vote's CSV byte for byte; test_proba.npy holds the stack's probabilities."""
    from test_export_inference import run_clean

    assert kcnn("-w", digits.root, "vote", "--method", "stack").exit_code == 0
    csv = digits.ensemble_dir / "stacked_vote.csv"
    sidecar = json.loads(csv.with_suffix(".json").read_text())
    saved = np.load(digits.ensemble_dir / "stacked_vote.test_proba.npy")
    _, _, test = members(digits)
    assert np.allclose(saved, stack.MetaModel(
        sidecar["stack"]["members"], CLASSES, sidecar["stack"]["features"], sidecar["stack"]["C"],
        np.array(sidecar["stack"]["coef"]), np.array(sidecar["stack"]["intercept"])).apply(test), atol=1e-6)
    result = kcnn("-w", digits.root, "export-inference", csv, tmp_path / "bundle")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "bundle" / "bundle.json").read_text())["combine"] == "stack"
    data = json.loads(next(digits.models_dir.glob("*/run.json")).read_text())["data"]["load_options"]["path"]
    done = run_clean((tmp_path / "bundle", data, tmp_path / "out.csv"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "out.csv").read_bytes() == csv.read_bytes()
