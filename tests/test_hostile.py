"""Generated hostile input (Hypothesis): option values, config files and tampered
workspaces fed to the CLI. Whatever comes in, `kcnn` ends with exit code 0 or 2,
never a traceback; on exit 2 it has written nothing; it never writes outside
its workspace.

Training is replaced by a stand-in that returns uniform predictions at once, so
every generated configuration that passes the checks goes through the whole
store path (run folder, index, submission) in milliseconds.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

RUNS = ["cnn1-s0-a000", "cnn1-s0-a001"]
EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

# -- strategies -----------------------------------------------------------------------------

NUMBER_TEXT = st.one_of(
    st.sampled_from(["0", "-1", "1", "2", "0.5", "1.5", "nan", "inf", "-inf", "1e400", "abc", "", "null", "true",
                     "10000000000000000000000", "0x10", " 3", "٣", "[1]", "{a: 1}", "1/0", "-0"]),
    st.integers(-3, 300).map(str),
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
)
YAML_VALUE = st.one_of(st.integers(-3, 10**12), st.floats(), st.text(max_size=8), st.none(), st.booleans(),
                       st.lists(st.integers(0, 3), max_size=2))
TRAIN_OPTIONS = ["--epochs", "--batch-size", "--lr", "--seed", "--val-fraction", "--keep-above", "--dropout", "--min-lr",
                 "--weight-decay", "--repeat", "--until-kept", "--reduce-lr-factor", "--reduce-lr-patience",
                 "--patience", "--fine-tune-epochs", "--fine-tune-lr"]
CONFIG_NAMES = ["epochs", "batch_size", "lr", "optimizer", "weight_decay", "patience", "augment", "min_lr",
                "reduce_lr_factor", "dropout1", "dense_units", "model", "fine_tune_epochs", "unknown"]


@st.composite
def train_arguments(draw):
    """(options, config mapping or None): a few generated options of `kcnn train`."""
    options = []
    for name in draw(st.lists(st.sampled_from(TRAIN_OPTIONS), max_size=3, unique=True)):
        options += [name, draw(NUMBER_TEXT)]
    if draw(st.booleans()):
        options += ["--set", f"{draw(st.sampled_from(CONFIG_NAMES))}={draw(NUMBER_TEXT)}"]
    if draw(st.booleans()):
        options += ["--augment", draw(st.sampled_from(["rotation", "shift", "zoom", "hflip", "bogus"]))
                    + draw(st.sampled_from(["", "="])) + draw(NUMBER_TEXT)]
    config = draw(st.none() | st.dictionaries(st.sampled_from(CONFIG_NAMES), YAML_VALUE, max_size=3))
    return options, config


def _damage_run_json(root: Path, run: str, draw) -> None:
    path = root / "models" / run / "run.json"
    record = yaml.safe_load(path.read_text())  # JSON is YAML
    key = draw(st.sampled_from(["scores", "data", "run_id", "model", "config"]))
    record[key] = draw(YAML_VALUE)
    path.write_text(yaml.safe_dump(record) if draw(st.booleans()) else str(record))


def _damage_array(root: Path, run: str, draw) -> None:
    path = root / "models" / run / draw(st.sampled_from(["test_proba.npy", "val_proba.npy"]))
    kind = draw(st.sampled_from(["truncate", "nan", "shape", "object", "delete", "text"]))
    if not path.exists():  # deleted by an earlier damage
        return
    if kind in ("nan", "shape"):
        try:
            np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError):  # already damaged
            return
    if kind == "truncate":
        path.write_bytes(path.read_bytes()[: draw(st.integers(0, 200))])
    elif kind == "nan":
        array = np.load(path)
        array[0, 0] = np.nan
        np.save(path, array)
    elif kind == "shape":
        np.save(path, np.load(path)[:-1])
    elif kind == "object":
        np.save(path, np.array(["a"] * 5, dtype=object))
    elif kind == "delete":
        path.unlink()
    else:
        path.write_text("not an array")


def _damage_file(root: Path, run: str, draw) -> None:
    path = root / draw(st.sampled_from([
        "models/index.csv", f"submissions/{run}.csv", f"models/{run}/submission.csv", f"models/{run}/history.csv",
    ]))
    path.write_bytes(draw(st.sampled_from([b"", b"\x00\xff\xfe", b"a,b\n1\n", b"ImageId,Label\n1,[/]\n"])))


def _damage_split(root: Path, run: str, draw) -> None:
    path = next((root / "models" / "splits").glob("*.json"))
    path.write_text(draw(st.sampled_from(["", "[]", "{}", '{"fingerprint": 1}', "nan"])))


DAMAGES = [_damage_run_json, _damage_array, _damage_file, _damage_split]


def _tamper(root: Path, draw) -> None:
    """One or two damages, drawn while the test runs (they depend on the files)."""
    for damage in draw(st.lists(st.sampled_from(DAMAGES), min_size=1, max_size=2)):
        damage(root, draw(st.sampled_from(RUNS)), draw)


READ_COMMANDS = st.sampled_from([
    ["vote"], ["vote", "--method", "soft"], ["vote", "--method", "greedy"], ["vote", "--top", "1"],
    ["metrics"], ["metrics", RUNS[0]], ["metrics", "ensemble/majority_vote"],
    ["check", f"submissions/{RUNS[0]}.csv"], ["doctor"], ["plot", "curves", RUNS[1]],
])


# -- the checks every case must pass --------------------------------------------------------------


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under root (the lock file aside) with a hash of its content."""
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


def _behaved(result, command: str) -> None:
    allowed = (0, 1, 2) if command == "doctor" else (0, 2)
    assert result.exit_code in allowed, (result.exit_code, result.output)
    assert "Traceback" not in result.output, result.output
    if result.exit_code == 2:
        errors = [line for line in result.stderr.splitlines() if not line.startswith("Warning: ")]
        assert len(errors) == 1 and errors[0].startswith("Error: "), result.stderr


@pytest.fixture
def stand_in_training(monkeypatch, tmp_path):
    """fit_one replaced by uniform predictions (no TensorFlow training)."""
    from kaggle_cnn.training import fit

    def fit_one(config, seed, *, x_train, y_train, x_val, y_val, x_test, n_classes, on_epoch=None, **_):
        path = tmp_path / f"{seed}.keras"
        path.write_bytes(b"stand-in model")
        uniform = 1.0 / n_classes
        history = [{"epoch": 1, "loss": 1.0, "accuracy": uniform, "val_loss": 1.0, "val_accuracy": uniform,
                    "train_seconds": 0.01, "val_seconds": 0.01, "phase": "train"}]
        return fit.FitResult(None, history, np.full((len(x_val), n_classes), uniform),
                             np.full((len(x_test), n_classes), uniform), uniform, 1.0, 0.01, model_bytes=path.read_bytes())

    monkeypatch.setattr(fit, "fit_one", fit_one)


@given(arguments=train_arguments())
@EXAMPLES
def test_generated_train_options(kcnn, competition, stand_in_training, arguments):
    options, config = arguments
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        workspace = scratch / "ws"
        extra = []
        if config is not None:
            (scratch / "cfg.yaml").write_text(yaml.safe_dump(config))
            extra = ["--config", scratch / "cfg.yaml"]
        before = _snapshot(scratch)
        result = kcnn("-w", workspace, "train", "--data", competition, "--model", "cnn1", *options, *extra)
        _behaved(result, "train")
        event(f"exit {result.exit_code}")
        after = _snapshot(scratch)
        outside = {path for path in after.keys() - before.keys() if not path.startswith("ws/")}
        assert not outside, outside
        if result.exit_code == 2:
            assert after == before, sorted(after.keys() - before.keys())


@given(data=st.data(), command=READ_COMMANDS)
@EXAMPLES
def test_tampered_workspaces(kcnn, trained, data, command):
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(shutil.copytree(trained, Path(scratch) / "ws"))
        _tamper(root, data.draw)
        before = _snapshot(Path(scratch))
        arguments = [root / a if a.startswith("submissions/") else a for a in command]
        result = kcnn("-w", root, *arguments)
        _behaved(result, command[0])
        event(f"exit {result.exit_code} {command[0]}")
        after = _snapshot(Path(scratch))
        assert all(path.startswith("ws/") for path in after), sorted(after)
        if result.exit_code == 2:
            assert after == before, sorted(p for p in after.keys() | before.keys() if after.get(p) != before.get(p))
