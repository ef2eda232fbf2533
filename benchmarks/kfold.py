"""Hold-out or k-fold? How well each validation figure predicts the test score,
and what each kind of submission scores on the test set, side by side in one run.

On each set, with the default recipe at --epochs E and --batch-size B (32: on a
couple of thousand rows the default's 128 leaves it too few steps):
  - `--repeat 5` hold-out runs: each run's hold-out accuracy (its 10% split)
    against its own test accuracy, and their soft vote's test accuracy;
  - one `--folds 5 --refit` run: its out-of-fold accuracy (every training row)
    against the test accuracy of its fold models' average, and of its refit.
Five hold-out models and five fold models take about the same time (each trains
on 90% or 80% of the rows); the refit is a sixth model on every row. Every test
score comes from `kcnn score` against answers the runs never saw.

    python benchmarks/kfold.py [--sets mnist,cifar] [--rows 2000] [--test-rows 2000] [--epochs 4]
                               [--batch-size 32]

mnist: the first --rows training images of mnist.npz; cifar: of the CIFAR-10
subset; both from the real datasets' folder ($KCNN_DATA_DIR).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from machine import machine
from sets import set_options, write_set  # the real sets: $KCNN_DATA_DIR

from kaggle_cnn import api


def test_accuracy(proba_or_csv, answers: Path, dataset=None) -> float:
    if isinstance(proba_or_csv, Path):
        return api.score(proba_or_csv, answers)["accuracy"]
    truth = pd.read_csv(answers, dtype=str).iloc[:, 1].to_numpy()
    predicted = np.array([str(dataset.classes[i]) for i in proba_or_csv.argmax(axis=1)])
    return float(np.mean(predicted == truth))


def hold_out(dataset, root: Path, config, answers: Path) -> dict:
    workspace = api.Workspace(root / "hold-out")
    start = time.perf_counter()
    api.train(dataset, workspace, config, repeat=5)
    seconds = time.perf_counter() - start
    runs = workspace.runs()
    val = [run.val_accuracy for run in runs]
    test = [test_accuracy(workspace.member_submission(run.run_id), answers) for run in runs]
    vote = api.vote(workspace, spec=api.VoteSpec(method="soft"))
    return {"seconds": seconds, "val": val, "test": test, "vote_test": test_accuracy(vote.csv_path, answers),
            "vote_estimate": vote.sidecar["val_estimate"]["value"]}


def k_fold(dataset, root: Path, config, answers: Path) -> dict:
    workspace = api.Workspace(root / "k-fold")
    start = time.perf_counter()
    api.train(dataset, workspace, config, folds=5, refit=True)
    seconds = time.perf_counter() - start
    run = workspace.runs()[0]
    history = pd.read_csv(run.path / "history.csv")
    refit_seconds = float(history.loc[history["part"] == "refit", "train_seconds"].sum())
    return {"seconds": seconds, "refit_seconds": refit_seconds, "oof": run.val_accuracy,
            "fold_scores": run.record["scores"]["fold_scores"],
            "folds_test": test_accuracy(np.load(run.path / "test_proba_folds.npy"), answers, dataset),
            "refit_test": test_accuracy(np.load(run.path / "test_proba.npy"), answers, dataset)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    set_options(parser, rows=2000, test_rows=2000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    print(f"machine: {machine()}; "
          f"{args.rows} training rows, {args.test_rows} test rows, default recipe at {args.epochs} epochs, "
          f"batch {args.batch_size}")
    for name in args.sets.split(","):
        with tempfile.TemporaryDirectory(prefix=f"kcnn-kfold-{name}-") as folder:
            path, answers = write_set(name, args.rows, Path(folder), test_rows=args.test_rows)
            dataset = api.load_data(path)
            config = api.TrainConfig(epochs=args.epochs, batch_size=args.batch_size)
            held = hold_out(dataset, Path(folder), config, answers)
            kfold = k_fold(dataset, Path(folder), config, answers)
        gaps = [abs(v - t) for v, t in zip(held["val"], held["test"])]
        print(f"\n{name}: how well each validation figure predicts the test accuracy")
        print(f"  hold-out runs  val {np.mean(held['val']):.4f} ± {np.std(held['val']):.4f} (each on "
              f"{int(args.rows * 0.1)} rows)   test {np.mean(held['test']):.4f} ± {np.std(held['test']):.4f}   "
              f"mean |val - test| {np.mean(gaps):.4f}, largest {max(gaps):.4f}")
        print(f"  5-fold run     OOF {kfold['oof']:.4f} (on all {args.rows} rows; folds "
              f"{', '.join(f'{s:.3f}' for s in kfold['fold_scores'])})   fold-average test "
              f"{kfold['folds_test']:.4f}   |OOF - test| {abs(kfold['oof'] - kfold['folds_test']):.4f}")
        print(f"{name}: test accuracy of each submission")
        print(f"  5 hold-out runs, soft vote   {held['vote_test']:.4f}   (its 5-fold estimate "
              f"{held['vote_estimate']:.4f})   {held['seconds'] / 60:.1f} min")
        print(f"  --folds 5 (fold average)     {kfold['folds_test']:.4f}   "
              f"{(kfold['seconds'] - kfold['refit_seconds']) / 60:.1f} min")
        print(f"  --folds 5 --refit            {kfold['refit_test']:.4f}   {kfold['seconds'] / 60:.1f} min "
              f"(the refit's epochs {kfold['refit_seconds'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
