"""./run.sh, with its virtual environment stood in for: it names the file the vote
actually wrote (soft_vote.csv for probability members), not a fixed name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def test_run_sh_prints_the_file_the_vote_wrote(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / ".kcnn-installed").touch()  # newer than setup.cfg and pyproject.toml: no install
    # The real `kcnn vote`; train, metrics and report stand in (nothing to train here).
    kcnn = venv / "bin" / "kcnn"
    kcnn.write_text(f'#!/bin/sh\nif [ "$3" = vote ]; then exec "{sys.executable}" -m kaggle_cnn "$@"; fi\n')
    kcnn.chmod(0o755)
    workspace = tmp_path / "ws"
    (workspace / "submissions").mkdir(parents=True)
    for name, cat in {"a": [0.9, 0.2], "b": [0.7, 0.4]}.items():
        pd.DataFrame({"id": ["1", "2"], "cat": cat, "dog": [1 - p for p in cat]}).to_csv(
            workspace / "submissions" / f"{name}.csv", index=False)
    env = {**os.environ, "KCNN_VENV": str(venv), "KCNN_WORKSPACE": str(workspace), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([str(ROOT / "run.sh"), "--data", str(tmp_path)], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    written = workspace / "submissions" / "ensemble" / "soft_vote.csv"
    assert written.is_file()
    assert f"submission: {written}" in result.stdout.splitlines()
    assert "majority_vote" not in result.stdout
