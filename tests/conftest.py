"""Shared fixtures: the CLI runner, the refusal check, a small real competition cut
from the packaged demo (MNIST), a workspace trained on it once per test session,
and the real photos of ../shared/data when they are there.

Test modules import nothing from each other or from here: what they share is a
fixture. Shared workspaces are read-only: the session's `trained`, and the
module-scoped `four_runs` (test_vote) and `pictured_once` (test_report). A test
that writes asks for its own copy (`trained_copy`, `workspace4`, `pictured`), and
every test that reaches a shared workspace is checked afterwards to have left it
exactly as it was (SHARED_WORKSPACES).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from kaggle_cnn.cli import cli
from kaggle_cnn.data import demo_path

SLICE_TRAIN_ROWS = 300
SLICE_TEST_ROWS = 60
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


# -- the command line ----------------------------------------------------------------


def _invoke(*args):
    """Run the CLI in-process, as a user would type it."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _assert_refused(result, *fragments: str) -> None:
    """Exit code 2, one line on stderr starting 'Error: ' holding every fragment, no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="session")
def kcnn():
    """kcnn("-w", path, "train", ...) -> click's Result."""
    return _invoke


@pytest.fixture(scope="session")
def assert_refused():
    """assert_refused(result, *fragments): a one-line refusal naming every fragment."""
    return _assert_refused


# -- data ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: real MNIST, a CIFAR-10 subset, cats/dogs JPEGs (may be absent)."""
    return SHARED_DATA


def real_dataset(shared_data: Path, name: str) -> Path:
    """A file or folder of the real datasets; the test skips, naming it, when it is absent."""
    path = shared_data / name
    if not path.exists():
        pytest.skip(f"needs the real dataset {path}")
    return path


@pytest.fixture(scope="session")
def catsdogs(shared_data) -> Path:
    """The real cats/dogs JPEGs (400 of each, of varying sizes)."""
    return real_dataset(shared_data, "catsdogs")


@pytest.fixture(scope="session")
def mnist(shared_data) -> Path:
    return real_dataset(shared_data, "mnist.npz")


@pytest.fixture(scope="session")
def cifar(shared_data) -> Path:
    return real_dataset(shared_data, "cifar10_subset.npz")


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


# -- the session's trained workspace: read-only ------------------------------------------


@pytest.fixture(scope="session")
def trained(tmp_path_factory, competition) -> Path:
    """A workspace with two kept cnn1 runs (1 epoch each) on the slice. READ-ONLY:
    tests that write (vote, metrics, tta, plots, more training) use trained_copy."""
    workspace = tmp_path_factory.mktemp("workspace")
    result = _invoke("--workspace", workspace, "train", "--data", competition, "--model", "cnn1",
                     "--repeat", 2, "--keep-above", 0, "--epochs", 1, "--batch-size", 32)
    assert result.exit_code == 0, result.output
    return workspace


@pytest.fixture
def trained_copy(trained, tmp_path) -> Path:
    """This test's own copy of the trained workspace, to write into."""
    return Path(shutil.copytree(trained, tmp_path / "trained"))


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under root with its size and modification time."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            stat = path.stat()
            found[str(path.relative_to(root))] = (stat.st_size if name in files else -1, stat.st_mtime_ns)
    return found


# Workspaces made once and shared by several tests; none of them may change one.
SHARED_WORKSPACES = ("trained", "four_runs", "pictured_once")


@pytest.fixture(autouse=True)
def _shared_workspaces_are_left_as_they_were(request):
    """Fail (at teardown) any test that changed a shared workspace it reached."""
    roots = {name: request.getfixturevalue(name) for name in SHARED_WORKSPACES if name in request.fixturenames}
    before = {name: _snapshot(root) for name, root in roots.items()}
    yield
    for name, root in roots.items():
        after = _snapshot(root)
        changed = sorted(p for p in before[name].keys() | after.keys() if before[name].get(p) != after.get(p))
        assert not changed, f"{request.node.nodeid} wrote into the shared `{name}` workspace: {changed}"
