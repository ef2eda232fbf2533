"""Ctrl-C and SIGTERM: a real `kcnn` process stopped mid-command ends with the
"Interrupted" line and exit code 130 (Ctrl-C) or 143 (SIGTERM), no traceback; the
runs kept so far are whole and nothing temporary is left."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from kaggle_cnn.errors import INTERRUPTED
from kaggle_cnn.store.workspace import Workspace

RUN_FILES = {"run.json", "history.csv", "model.keras", "val_proba.npy", "test_proba.npy", "submission.csv"}

# Runs kcnn as `python -m kaggle_cnn` does, with a Ctrl-C raised by the import of
# one module: the interrupt lands at exactly that point of the command, every time.
INTERRUPT_ON_IMPORT = """
import runpy, sys
target = sys.argv.pop(1)

class Interrupt:
    def find_spec(self, name, path=None, target_module=None):
        if name == target:
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, Interrupt())
sys.argv[0] = "kcnn"
runpy.run_module("kaggle_cnn", run_name="__main__", alter_sys=True)
"""


def kcnn_process(*args, **popen) -> subprocess.Popen:
    """kcnn started as from a terminal. A child inherits an ignored SIGINT and Python
    keeps ignoring it (as a shell's background job does), and a library an earlier
    test used can leave SIGINT ignored in this process: while the child starts,
    SIGINT is caught here, which exec turns into the default in the child."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen([sys.executable, "-m", "kaggle_cnn", *map(str, args)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, **popen)
    finally:
        signal.signal(signal.SIGINT, previous)


def assert_interrupted(returncode: int, stderr: str, expected: int) -> None:
    assert returncode == expected, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == INTERRUPTED, stderr[-2000:]


@pytest.mark.parametrize("module", [
    "kaggle_cnn.cli.vote",  # the command modules, loaded before the command starts
    "kaggle_cnn.ensemble.vote",  # the library, loaded by the command itself
])
def test_ctrl_c_while_the_modules_load_ends_with_the_interrupted_line(tmp_path, module):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "a.csv").write_text("ImageId,Label\n1,3\n")
    done = subprocess.run([sys.executable, "-c", INTERRUPT_ON_IMPORT, module, "-w", str(tmp_path / "ws"), "vote",
                           str(tmp_path / "subs")], capture_output=True, text=True, check=False)
    assert_interrupted(done.returncode, done.stderr, 130)
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("signal_number, exit_code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_training_keeps_the_runs_and_leaves_nothing_half_written(tmp_path, competition,
                                                                            signal_number, exit_code):
    proc = kcnn_process("-w", tmp_path, "train", "--data", competition, "--model", "cnn1", "--repeat", 50,
                        "--epochs", 1, "--batch-size", 32)
    workspace = Workspace(tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and not workspace.run_ids() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal_number)
    _, stderr = proc.communicate(timeout=180)
    assert_interrupted(proc.returncode, stderr, exit_code)
    assert 1 <= len(workspace.run_ids()) < 50
    for run in workspace.runs():
        assert {p.name for p in run.path.iterdir()} == RUN_FILES
    assert not workspace.leftovers()
    workspace.repair()  # what the next command does: the index lists a run stored just before the signal
    assert sorted(workspace.read_index()["run_id"]) == workspace.run_ids()
