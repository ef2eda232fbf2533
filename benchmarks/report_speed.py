"""How long do `kcnn plot curves`, `kcnn metrics` and `kcnn report` take on a big
workspace, and how large is the page?

Trains one real run on the demo, then clones it into N runs (fresh ids, the
probabilities perturbed so the runs differ, the index and learning curves
filled in), votes, and times each command as a whole process.

    python benchmarks/report_speed.py --runs 100
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from kaggle_cnn import api
from kaggle_cnn.api import train_config
from kaggle_cnn.data import load_dataset
from kaggle_cnn.store.run import index_row
from kaggle_cnn.store.workspace import Workspace

# The recipe these figures were measured with (the defaults before the default recipe): --preset kaggle28
KAGGLE28 = train_config({}, preset="kaggle28")


def clone_runs(workspace: Workspace, n: int) -> None:
    rng = np.random.default_rng(0)
    source = workspace.runs()[0]
    for i in range(1, n):
        run_id = f"{source.record['model']}-s0-a{i:03d}"
        target = workspace.run_dir(run_id)
        shutil.copytree(source.path, target)
        record = json.loads((target / "run.json").read_text())
        for name in ("val_proba.npy", "test_proba.npy"):
            proba = np.load(target / name) + rng.uniform(0, 0.3, np.load(target / name).shape).astype(np.float32)
            np.save(target / name, proba / proba.sum(axis=1, keepdims=True))
        split = workspace.find_split(record["data"]["fingerprint"])
        record.update(run_id=run_id, attempt=i)
        record["scores"]["val_accuracy"] = float(np.mean(np.load(target / "val_proba.npy").argmax(1) == split.val_labels))
        (target / "run.json").write_text(json.dumps(record))
        shutil.copyfile(target / "submission.csv", workspace.member_submission(run_id))
        workspace.append_index(index_row(record))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(tmp)
        api.train_many(load_dataset(), workspace, replace(KAGGLE28, model="cnn1", epochs=3))
        clone_runs(workspace, args.runs)
        kcnn = [sys.executable, "-m", "kaggle_cnn", "-w", tmp]
        print(f"workspace of {len(workspace.run_ids())} kept runs (demo, cnn1, 3 epochs each)")
        for command in (["vote"], ["vote", "--method", "greedy"], ["plot", "curves"], ["plot", "confusion"],
                        ["metrics"], ["report"]):
            start = time.perf_counter()
            subprocess.run(kcnn + command, check=True, stdout=subprocess.DEVNULL)
            print(f"kcnn {' '.join(command):24s} {time.perf_counter() - start:6.2f} s")
        page = Path(tmp) / "reports" / "report.html"
        print(f"report.html: {page.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
