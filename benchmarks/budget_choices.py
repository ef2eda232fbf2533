"""What should a time budget make: one long attempt, or several shorter ones for the vote?

For each set and each number of attempts, `kcnn train --time-budget M --repeat N`
(epochs fitted to each attempt's share) is trained from several seeds, and its
members' soft vote is scored on the workspace's validation split only (the test
images are not looked at: this chooses a default). Printed: the vote's validation
accuracy per seed, its mean, and the epochs each attempt got.

    python benchmarks/budget_choices.py [--sets mnist,cifar] [--rows 1500] [--minutes 1.5]
                                        [--attempts 1,2,3] [--seeds 0,1,2] [--widths 32]
                                        [--holdout N] [--augments 'budget;shift=0.1,rotation=10']
                                        [--tta 'shift_px=1;shift_px=2'] [--batch 64] [--label-smoothing 0.1]

A validation split of 10% is few images to tell votes near 99% apart (500 images
for 5,000 rows: a standard error near 0.45 points). --holdout N (mnist only) also
scores the vote on N more training images after the first --rows, which no run
trains on: they stand in for the set's test images, so the test images are still
never looked at. --augments compares augmentations (separated by ";"; `budget`:
the one the budget chooses for the attempts' length); --tta scores each vote again
on test-time-augmented predictions (`kcnn tta`), on the same trained runs.

mnist: the first --rows training images of mnist.npz; cifar: the first --rows of the
CIFAR-10 subset; both from the real datasets' folder ($KCNN_DATA_DIR).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import machine
from real_data import DATA_DIR, need
from sets import (  # the real sets: $KCNN_DATA_DIR
    FILES,
    each_set,
    set_options,
    table_header,
)

from kaggle_cnn import api


def soft_vote(workspace: api.Workspace, predictions: str) -> np.ndarray:
    """The mean of every run's probabilities in file `predictions` (val_proba.npy, test_proba.npy)."""
    return np.mean([np.load(run.path / predictions) for run in workspace.runs()], axis=0)


def vote_on_validation(workspace: api.Workspace, dataset, made_by: str = "") -> tuple[float, list[int]]:
    """The soft vote of every run's validation probabilities, scored on the split's labels
    (made_by "_tta": the runs' test-time-augmented probabilities)."""
    split = workspace.find_split(dataset.fingerprint())
    epochs = [int(run.record["phases"].get("train", 0)) for run in workspace.runs()]
    votes = soft_vote(workspace, f"val_proba{made_by}.npy")
    return float(np.mean(votes.argmax(axis=1) == split.val_labels)), epochs


def vote_on_holdout(workspace: api.Workspace, labels: np.ndarray, made_by: str = "") -> float:
    """The soft vote of every run's test probabilities (the held-out training images), scored on their labels."""
    return float(np.mean(soft_vote(workspace, f"test_proba{made_by}.npy").argmax(axis=1) == labels))


def score_with_tta(workspace: api.Workspace, dataset, path: Path, spec: str, held: np.ndarray | None,
                   val_scores: list[float], held_scores: list[float]) -> None:
    """`kcnn tta` with transforms `spec` on the workspace's runs; their votes' scores appended and printed."""
    api.tta(workspace, transforms=spec, data_path=path)
    val_scores.append(vote_on_validation(workspace, dataset, "_tta")[0])
    if held is not None:
        held_scores.append(vote_on_holdout(workspace, held, "_tta"))
    print(f"    with TTA {spec}: val {val_scores[-1]:.4f}"
          + (f", holdout {held_scores[-1]:.4f}" if held is not None else ""), flush=True)


def with_holdout(path: Path, rows: int, holdout: int) -> np.ndarray:
    """Rewrite the set at path so its test images are training images rows..rows+holdout; their labels."""
    with np.load(need(DATA_DIR / FILES["mnist"])) as source:
        x_hold, y_hold = source["x_train"][rows:rows + holdout], source["y_train"].ravel()[rows:rows + holdout]
    with np.load(path) as cut:
        np.savez(path, x_train=cut["x_train"], y_train=cut["y_train"], x_test=x_hold)
    return y_hold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    set_options(parser, rows=1500)
    parser.add_argument("--minutes", type=float, default=1.5)
    parser.add_argument("--attempts", default="1,2,3", help="attempts to compare; auto: as many as the budget makes")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--widths", default="32", help="small_resnet widths to compare (each with every --attempts)")
    parser.add_argument("--holdout", type=int, default=0,
                        help="mnist: also score the vote on this many training images after --rows")
    parser.add_argument("--augments", default="budget",
                        help="augmentations to compare, separated by ';' (budget: the budget's own choice)")
    parser.add_argument("--batch", type=int, default=None, help="the batch size (default: left to kcnn)")
    parser.add_argument("--label-smoothing", type=float, default=None,
                        help="as kcnn train's (default: left to the budget, as kcnn train leaves it)")
    parser.add_argument("--tta", default="",
                        help="also score each vote with `kcnn tta` transforms, separated by ';' "
                             "(e.g. shift_px=1;shift_px=2)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"machine: {machine()}; "
          f"--time-budget {args.minutes}, {args.rows} images a set (10% validation), seeds {args.seeds}"
          + (f", batch {args.batch}" if args.batch else "")
          + (f", label smoothing {args.label_smoothing:g}" if args.label_smoothing is not None else ""))
    columns = ["set", "width", "augment", "attempts", "vote val acc by seed", "mean", "epochs an attempt",
               "wall min (mean)"]
    table_header(*columns, *(["vote holdout acc by seed", "mean"] if args.holdout else []))
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for name, path, _ in each_set(args, scratch, test_rows=200):  # the test images are not looked at
            held = with_holdout(path, args.rows, args.holdout) if args.holdout and name == "mnist" else None
            dataset = api.load_data(path)
            for width, augment, attempts in ((int(w), g, None if a == "auto" else int(a))
                                             for w in args.widths.split(",") for g in args.augments.split(";")
                                             for a in args.attempts.split(",")):
                scores, epochs, walls, held_scores = [], [], [], []
                augmented = {spec: ([], []) for spec in filter(None, args.tta.split(";"))}  # spec -> val, holdout
                for seed in seeds:
                    workspace = api.Workspace(scratch / f"{name}-{width}-{augment}-{attempts}-{seed}")
                    start = time.perf_counter()
                    config = api.TrainConfig(epochs="auto", model_options={"width": width},
                                             augment=None if augment == "budget" else augment,
                                             batch_size=args.batch, label_smoothing=args.label_smoothing or 0.0)
                    api.train(dataset, workspace, config, repeat=attempts, seed=seed, time_budget=args.minutes,
                              budget_leaves=[] if args.label_smoothing is None else ["label_smoothing"])
                    walls.append((time.perf_counter() - start) / 60)
                    score, trained = vote_on_validation(workspace, dataset)
                    scores.append(score)
                    epochs += trained
                    if held is not None:
                        held_scores.append(vote_on_holdout(workspace, held))
                    print(f"  seed {seed}: val {score:.4f}, epochs {trained}, {walls[-1]:.2f} min"
                          + (f", holdout {held_scores[-1]:.4f}" if held is not None else ""), flush=True)
                    for spec, (tta_scores, tta_held) in augmented.items():
                        score_with_tta(workspace, dataset, path, spec, held, tta_scores, tta_held)
                for label, (val, hold) in {"": (scores, held_scores), **{f", TTA {spec}": pair
                                                                         for spec, pair in augmented.items()}}.items():
                    holdout_cells = (f" {', '.join(f'{s:.4f}' for s in hold)} | {np.mean(hold):.4f} |"
                                     if held is not None else "")
                    print(f"| {name} | {width} | {augment}{label} | {attempts or 'auto'} | "
                          f"{', '.join(f'{s:.4f}' for s in val)} | {np.mean(val):.4f} | "
                          f"{np.mean(epochs):.1f} | {np.mean(walls):.2f} |{holdout_cells}", flush=True)


if __name__ == "__main__":
    main()
