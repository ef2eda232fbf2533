"""The architecture as a test: imports only go down (the import-linter contracts in
.importlinter), and the commands that need no model never import TensorFlow."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the kaggle_cnn found in `package_parent`, with the project's contracts."""
    return subprocess.run([str(LINT_IMPORTS), "--config", str(ROOT / ".importlinter"), "--no-cache"],
                          cwd=package_parent, capture_output=True, text=True,
                          env={"PYTHONPATH": str(package_parent), "PATH": ""})


def test_the_layering_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_an_upward_import_breaks_the_layering(tmp_path):
    """The contract can fail: the workspace store importing the api facade is caught."""
    shutil.copytree(ROOT / "kaggle_cnn", tmp_path / "kaggle_cnn", ignore=shutil.ignore_patterns("__pycache__"))
    store = tmp_path / "kaggle_cnn" / "store" / "workspace.py"
    store.write_text(store.read_text() + "\n\nfrom kaggle_cnn import api  # noqa: E402,F401\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "kaggle_cnn.store is not allowed to import kaggle_cnn.api" in result.stdout


LIGHT_COMMANDS = [
    ["--help"], ["vote", "--help"], ["vote"], ["metrics"], ["data"],
    ["check", "{workspace}/submissions/ensemble/majority_vote.csv"],
    ["score", "{workspace}/submissions/ensemble/majority_vote.csv", "--answers",
     "{workspace}/submissions/ensemble/majority_vote.csv"],
]


@pytest.mark.parametrize("command", LIGHT_COMMANDS, ids=lambda c: " ".join(c[:2]).split("{")[0].strip())
def test_light_commands_do_not_import_tensorflow(trained_copy, command):
    workspace = trained_copy
    vote = subprocess.run([sys.executable, "-m", "kaggle_cnn", "-w", str(workspace), "vote"], capture_output=True)
    assert vote.returncode == 0, vote.stderr
    args = ["-w", str(workspace), *(part.format(workspace=workspace) for part in command)]
    # kcnn metrics computes its tables without scikit-learn, whose import alone takes over a second
    heavy = ("tensorflow", "keras", *(["sklearn"] if command == ["metrics"] else []))
    code = (
        "import sys; from kaggle_cnn.cli import cli\n"
        f"try: cli.main({args!r}, prog_name='kcnn')\n"
        "except SystemExit as e: assert not e.code, e.code\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
