"""Metric-aware finishing of a vote, against the plain vote, on test answers the runs
never saw.

(a) single-label log-loss: per set (--sets, cut to --rows training and --test-rows
test images) and seed, `--repeat R` short runs of --model judged by logloss, then
two soft votes of the same runs: `--no-finish` and `--finish` (a temperature fitted
on the hold-out rows). Both votes' test probabilities are scored by log-loss.

(b) multi-label F2: a Planet-like miniature cut from MNIST (train_v2.csv of
`image_name,tags`, train-jpg/, test-jpg/, sample_submission_v2.csv), each image
tagged with its digit, `even` or `odd`, and `big` for digits 5 and above. Per seed,
R runs of basic_cnn judged by f2_samples, then two votes: `--finish` (per-label
thresholds) and `--no-finish` (every label at 0.5), scored by `kcnn score
--multi-label` (F2 over images).

    python benchmarks/finishing.py [--sets mnist] [--rows 1000] [--test-rows 2000] [--epochs 1]
                                   [--repeat 3] [--seeds 0,1,2] [--planet-rows 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from command_line import kcnn, scored  # one kcnn command in-process, a printed score
from machine import machine
from PIL import Image
from real_data import DATA_DIR, need
from sets import each_set, set_options

from kaggle_cnn.ensemble.finishing import scale_temperature
from kaggle_cnn.evaluation.metric_registry import log_loss

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def test_log_loss(ensemble: Path, name: str, answers: Path, temperature: float = 1.0) -> float:
    """The vote's test probabilities (rows as its CSV, columns as its sidecar's classes), scaled by
    `temperature`, by log-loss."""
    sidecar = json.loads((ensemble / f"{name}.json").read_text())
    ids = pd.read_csv(ensemble / f"{name}.csv", dtype=str).iloc[:, 0]
    truth = pd.read_csv(answers, dtype=str).set_index(ids.name).iloc[:, 0].loc[ids]
    position = {label: i for i, label in enumerate(sidecar["classes"])}
    proba = scale_temperature(np.load(ensemble / f"{name}.test_proba.npy"), temperature)
    return log_loss(np.array([position[t] for t in truth]), proba)


def digit_tags(digit: int) -> str:
    return " ".join([NAMES[digit], "even" if digit % 2 == 0 else "odd", *(["big"] if digit >= 5 else [])])


def write_planet(root: Path, rows: int, test_rows: int) -> Path:
    """The MNIST miniature in Planet's layout at `root`; returns the hidden answers' path."""
    with np.load(need(DATA_DIR / "mnist.npz")) as data:
        x_train, y_train = data["x_train"][:rows], data["y_train"][:rows]
        x_test, y_test = data["x_test"][:test_rows], data["y_test"][:test_rows]
    for folder, prefix, images in (("train-jpg", "train", x_train), ("test-jpg", "test", x_test)):
        (root / folder).mkdir(parents=True)
        for i, image in enumerate(images):
            Image.fromarray(image).save(root / folder / f"{prefix}_{i}.png")
    train_ids, test_ids = [f"train_{i}" for i in range(rows)], [f"test_{i}" for i in range(test_rows)]
    pd.DataFrame({"image_name": train_ids, "tags": [digit_tags(y) for y in y_train]}).to_csv(
        root / "train_v2.csv", index=False)
    pd.DataFrame({"image_name": test_ids, "tags": "one odd"}).to_csv(root / "sample_submission_v2.csv", index=False)
    answers = root.parent / "planet-answers.csv"
    pd.DataFrame({"image_name": test_ids, "tags": [digit_tags(y) for y in y_test]}).to_csv(answers, index=False)
    return answers


def test_f2(submission: Path, answers: Path) -> float:
    return scored(submission, answers, "f2_samples", "--multi-label")


def row(set_name: str, metric: str, seed: str, figures: dict, plain: float, finished: float, better,
        always: float | None = None) -> dict:
    """`always`: the test score had the step been applied even where its cross-fitted figure said no."""
    won = better(finished, plain)
    always = finished if always is None else always
    print(f"| {set_name} | {metric} | {seed} | {figures['parameters']} | {figures['val_before']:.4f} | "
          f"{figures['val_cross']:.4f} | {'yes' if figures['applied'] else 'no'} | {plain:.4f} | {finished:.4f} | "
          f"{always:.4f} | {'yes' if won else 'no'} |", flush=True)
    return {"set": set_name, "metric": metric, "plain": plain, "finished": finished, "won": won}


def figures_of(ensemble: Path, name: str) -> dict:
    record = json.loads((ensemble / f"{name}.json").read_text())["finishing"]
    return {"parameters": record["parameters_shown"], "val_before": record["val_score_before"],
            "val_cross": record["val_score_after_cross_fitted"], "applied": record["applied"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    set_options(parser, rows=1000, sets="mnist", test_rows=2000)
    parser.add_argument("--model", default="cnn1")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--planet-rows", type=int, default=1000, help="Training images of the miniature (0: skip).")
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"machine: {machine()}; {args.repeat} runs of {args.epochs} epoch(s) a seed, seeds {args.seeds}")
    print("| set | metric | seed | fitted | val plain | val finished (cross-fitted) | applied | test plain | "
          "test finished | test, step always applied | finished won |\n|" + " --- |" * 11, flush=True)
    results = []
    lower, higher = (lambda a, b: a < b), (lambda a, b: a > b)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for name, path, answers in each_set(args, scratch):
            for seed in args.seeds.split(","):
                workspace = scratch / f"{name}-{seed}"
                kcnn("-w", workspace, "train", "--data", path, "--model", args.model, "--epochs", args.epochs,
                     "--repeat", args.repeat, "--seed", seed, "--metric", "logloss", "--batch-size", 32)
                kcnn("-w", workspace, "vote", "--method", "soft", "--no-finish", "--name", "plain")
                kcnn("-w", workspace, "vote", "--method", "soft", "--finish", "--name", "finished")
                ensemble = workspace / "submissions" / "ensemble"
                temperature = json.loads((ensemble / "finished.json").read_text())["finishing"]["parameters"]
                results.append(row(f"{name} {args.rows}", "logloss", seed, figures_of(ensemble, "finished"),
                                   test_log_loss(ensemble, "plain", answers),
                                   test_log_loss(ensemble, "finished", answers), lower,
                                   test_log_loss(ensemble, "plain", answers, temperature["temperature"])))
        if args.planet_rows:
            root = scratch / "planet"
            answers = write_planet(root, args.planet_rows, args.test_rows)
            for seed in args.seeds.split(","):
                workspace = scratch / f"planet-{seed}"
                kcnn("-w", workspace, "train", "--data", root, "--multi-label", "--model", "basic_cnn", "--epochs",
                     args.epochs, "--repeat", args.repeat, "--seed", seed, "--metric", "f2_samples",
                     "--batch-size", 32)
                kcnn("-w", workspace, "vote", "--no-finish", "--name", "plain")
                kcnn("-w", workspace, "vote", "--finish", "--name", "finished")
                ensemble = workspace / "submissions" / "ensemble"
                results.append(row(f"MNIST tags {args.planet_rows}", "f2_samples", seed,
                                   figures_of(ensemble, "finished"), test_f2(ensemble / "plain.csv", answers),
                                   test_f2(ensemble / "finished.csv", answers), higher))
    table = pd.DataFrame(results)
    print("\n| set | metric | plain vote (mean) | finished (mean) | seeds won |\n| --- | --- | --- | --- | --- |")
    for (set_name, metric), group in table.groupby(["set", "metric"], sort=False):
        print(f"| {set_name} | {metric} | {group['plain'].mean():.4f} | {group['finished'].mean():.4f} | "
              f"{int(group['won'].sum())} of {len(group)} |")
    print(f"\ntook {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
