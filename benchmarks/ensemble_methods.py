"""Which vote wins on held-back answers, and how fast is `kcnn vote`?

1. Trains MEMBERS runs of one model on a real dataset (the demo, or the CIFAR-10
   subset from the real datasets folder, --data-dir), computes their test-time-augmented predictions,
   then scores on the hidden test answers: the best single member (by validation
   accuracy), and the hard, soft, weighted and greedy votes, each without and with
   TTA. Validation figures (in-sample and the 5-fold estimate) are printed beside.
2. Times `kcnn vote` on 30 members x 10,000 rows (synthetic probabilities in a
   throw-away workspace), as a whole process and inside it.

    python benchmarks/ensemble_methods.py --dataset demo --members 10 --epochs 2
    python benchmarks/ensemble_methods.py --dataset cifar --members 10 --epochs 6
    python benchmarks/ensemble_methods.py --timing-only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from kaggle_cnn import api
from kaggle_cnn.api import train_config
from kaggle_cnn.ensemble.rules import VoteSpec
from kaggle_cnn.store.workspace import Workspace

# The recipe these figures were measured with (the defaults before the default recipe): --preset kaggle28
KAGGLE28 = train_config({}, preset="kaggle28")

# The real datasets (mnist.npz, cifar10_subset.npz, catsdogs/): --data-dir, $KCNN_DATA_DIR, or the
# data folder that sits beside a checkout of this repository.
DATA_DIR = Path(os.environ.get("KCNN_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
METHODS = ("hard", "soft", "weighted", "greedy")


def competition(name: str, folder: Path) -> tuple[Path | None, Path, str]:
    """(data path or None for the demo, answers CSV, TTA transforms) for a dataset."""
    from kaggle_cnn.data import demo_answers_path

    if name == "demo":
        return None, demo_answers_path(), "shift=1,rotate=8"
    source = DATA_DIR / "cifar10_subset.npz"
    if not source.exists():
        sys.exit(f"{source} is missing: the CIFAR benchmark needs the real datasets: pass --data-dir DIR")
    with np.load(source) as cifar:
        data = folder / "cifar10.npz"
        np.savez(data, x_train=cifar["x_train"], y_train=cifar["y_train"].ravel(), x_test=cifar["x_test"])
        answers = folder / "cifar10_answers.csv"
        pd.DataFrame({"id": np.arange(1, len(cifar["y_test"]) + 1), "label": cifar["y_test"].ravel()}).to_csv(
            answers, index=False)
    return data, answers, "hflip,shift=2"


def accuracy_table(args) -> None:
    from kaggle_cnn.data import load_dataset

    with tempfile.TemporaryDirectory() as tmp:
        data, answers, transforms = competition(args.dataset, Path(tmp))
        dataset = load_dataset(data)
        workspace = Workspace(Path(tmp) / "workspace")
        start = time.perf_counter()
        api.train_many(dataset, workspace, replace(KAGGLE28, model=args.model, epochs=args.epochs), repeat=args.members)
        trained = time.perf_counter() - start
        api.predict(workspace, tta=transforms)
        runs = workspace.runs()
        best = max(runs, key=lambda r: (r.val_accuracy, r.run_id))
        rows = [("best single member", None,
                 api.score(workspace.member_submission(best.run_id), answers)["accuracy"], best.val_accuracy, None)]
        for tta in (False, True):
            if tta:
                best_tta = max(runs, key=lambda r: (r.record["tta"]["val_accuracy"], r.run_id))
                single = _single_tta_accuracy(workspace, best_tta, answers)
                rows.append(("best single member", "tta", single, best_tta.record["tta"]["val_accuracy"], None))
            for method in METHODS:
                outcome = api.vote(workspace, spec=VoteSpec(method=method), tta=tta)
                sidecar = outcome.sidecar
                rows.append((method, "tta" if tta else None, api.score(outcome.csv_path, answers)["accuracy"],
                             sidecar["val_accuracy"], sidecar["val_estimate"]["value"]))
        print(f"\n{args.dataset}: {args.members} x {args.model}, {args.epochs} epochs "
              f"({trained:.0f} s of training), TTA {transforms}; test = held-back answers")
        print(f"{'ensemble':20s} {'TTA':4s} {'test acc':>9s} {'val acc':>8s} {'5-fold':>8s}")
        for name, tta, test_acc, val_acc, estimate in rows:
            estimate = f"{estimate:8.4f}" if estimate is not None else f"{'':8s}"
            print(f"{name:20s} {tta or '':4s} {test_acc:9.4f} {val_acc:8.4f} {estimate}")


def _single_tta_accuracy(workspace: Workspace, run, answers: Path) -> float:
    proba = np.load(run.path / "test_proba_tta.npy")
    labels = np.array([str(run.classes[i]) for i in proba.argmax(axis=1)])
    ids = pd.read_csv(workspace.member_submission(run.run_id), dtype=str).iloc[:, 0].to_numpy()
    truth = pd.read_csv(answers, dtype=str)
    by_id = dict(zip(truth.iloc[:, 0], truth.iloc[:, 1]))
    return float(np.mean([by_id[i] == label for i, label in zip(ids, labels)]))


def vote_timing(members: int = 30, rows: int = 10_000, classes: int = 10, repeats: int = 3) -> None:
    """A synthetic workspace: `members` fake kept runs with stored probabilities."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(tmp)
        val_rows = 1_000
        truth = rng.integers(0, classes, val_rows)
        fingerprint = "bench000bench000"
        from kaggle_cnn.store.workspace import Split

        workspace.save_split(Split(fingerprint, 0.1, 0, np.arange(val_rows), truth, list(range(classes))))
        ids = [str(i) for i in range(1, rows + 1)]
        for m in range(members):
            run_id = f"bench-s0-a{m:03d}"
            folder = workspace.run_dir(run_id)
            folder.mkdir(parents=True)
            test = rng.dirichlet(np.ones(classes) * 0.3, rows).astype(np.float32)
            val = rng.dirichlet(np.ones(classes) * 0.3, val_rows).astype(np.float32)
            val[np.arange(val_rows), truth] += 0.5
            np.save(folder / "test_proba.npy", test)
            np.save(folder / "val_proba.npy", val / val.sum(1, keepdims=True))
            record = {"run_id": run_id, "model": "bench", "scores": {"val_accuracy": 0.9},
                      "data": {"classes": list(range(classes)), "fingerprint": fingerprint}}
            (folder / "run.json").write_text(json.dumps(record))
            workspace.submissions_dir.mkdir(parents=True, exist_ok=True)
            pd.DataFrame({"ImageId": ids, "Label": test.argmax(1)}).to_csv(
                workspace.member_submission(run_id), index=False)
        print(f"\nkcnn vote on {members} members x {rows:,} rows ({repeats} runs each, median)")
        print(f"{'method':10s} {'process s':>10s} {'in-process s':>13s}")
        for method in METHODS:
            command = [sys.executable, "-m", "kaggle_cnn", "-w", tmp, "vote", "--method", method]
            process = statistics.median(_wall(command) for _ in range(repeats))
            inside = []
            for _ in range(repeats):
                start = time.perf_counter()
                api.vote(workspace, spec=VoteSpec(method=method))
                inside.append(time.perf_counter() - start)
            print(f"{method:10s} {process:10.3f} {statistics.median(inside):13.3f}")
        python = statistics.median(_wall([sys.executable, "-c", "pass"]) for _ in range(repeats))
        print(f"(python -c pass: {python:.3f} s)")


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    global DATA_DIR  # --data-dir replaces the default for every case
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="Folder with the real datasets.")
    parser.add_argument("--dataset", choices=["demo", "cifar"], default="demo")
    parser.add_argument("--model", default="cnn1")
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--timing-only", action="store_true")
    args = parser.parse_args()
    DATA_DIR = args.data_dir
    if not args.timing_only:
        accuracy_table(args)
    vote_timing()


if __name__ == "__main__":
    main()
