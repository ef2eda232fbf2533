"""Should a short run end with averaged weights, and should its predictions be test-time augmented?

Each seed trains the default recipe for a fixed number of epochs twice on the same
split: once plain, once with weight averaging (`--ema`). The plain model's validation
images are then predicted again through each test-time augmentation (`kcnn tta`'s
transforms). Everything is judged on validation accuracy (the test images are not
looked at: this chooses a default); epochs are fixed, not timed, so the pairs compare
like with like however busy the machine is, and the cost of each choice is printed
as a ratio to the plain run measured beside it.

    python benchmarks/end_of_run.py [--sets mnist,cifar] [--rows 5000] [--runs 16x8,16x6]
                                    [--seeds 0,1,2] [--tta 'shift_px=1;shift_px=2;hflip']

--runs: WIDTHxEPOCHS of small_resnet per set, in --sets order (a 2-minute budget on two
cores gives about 8 epochs at width 16 on MNIST and 6 on CIFAR). hflip is tried only
where mirror images keep the label (as the budget decides it from the data).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import machine
from sets import each_set, set_options, table_header

from kaggle_cnn import api
from kaggle_cnn.config import TrainConfig
from kaggle_cnn.data.split import make_split, split_arrays
from kaggle_cnn.evaluation.metric_registry import accuracy
from kaggle_cnn.training.budget import mirror_keeps_labels
from kaggle_cnn.training.tta import parse_tta, predict_tta


def summary(values: list[float]) -> str:
    return f"{np.mean(values):.4f} ({min(values):.4f}–{max(values):.4f})"


def main() -> None:
    from kaggle_cnn.training.fit import fit_one

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    set_options(parser, rows=5000)
    parser.add_argument("--runs", default="16x8,16x6", help="WIDTHxEPOCHS per set, in --sets order")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tta", default="shift_px=1;shift_px=2;hflip", help="transform specs, ';' between")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = [tuple(int(v) for v in spec.split("x")) for spec in args.runs.split(",")]
    print(f"machine: {machine()}; {args.rows} images a set (10% validation), seeds {args.seeds}", flush=True)
    table_header("set", "width x epochs", "choice", "val acc mean (low–high)", "gain over plain by seed",
                 "cost vs plain")
    with tempfile.TemporaryDirectory() as scratch:
        for (name, path, _), (width, epochs) in zip(each_set(args, Path(scratch), test_rows=200), runs):
            dataset = api.load_data(path)
            val_rows = make_split(dataset.y_train, 0.1, 0, classes=dataset.classes, where="y_train")
            arrays = split_arrays(dataset, val_rows)
            specs = [s for s in args.tta.split(";")
                     if "flip" not in s or mirror_keeps_labels(arrays["x_train"], arrays["y_train"],
                                                               dataset.n_classes)]
            scores: dict[str, list[float]] = {"plain": [], "ema": [], **{f"tta {s}": [] for s in specs}}
            costs: dict[str, list[float]] = {key: [] for key in scores}
            for seed in seeds:
                for choice, ema in (("plain", False), ("ema", True)):
                    config = TrainConfig.from_settings({"epochs": epochs, "width": width, "ema": ema})
                    start = time.perf_counter()
                    result = fit_one(config, seed, n_classes=dataset.n_classes, x_test=dataset.x_test[:0], **arrays)
                    costs[choice].append(time.perf_counter() - start)
                    scores[choice].append(accuracy(arrays["y_val"], result.val_proba))
                    if choice == "plain":
                        plain_model = result.model
                start = time.perf_counter()
                plain_model.predict(arrays["x_val"], batch_size=256, verbose=0)
                one_pass = time.perf_counter() - start
                for spec in specs:
                    start = time.perf_counter()
                    proba = predict_tta(plain_model, arrays["x_val"], parse_tta(spec))
                    costs[f"tta {spec}"].append((time.perf_counter() - start) / one_pass)
                    scores[f"tta {spec}"].append(accuracy(arrays["y_val"], proba))
            for choice, values in scores.items():
                gains = " ".join(f"{v - p:+.4f}" for v, p in zip(values, scores["plain"]))
                cost = (f"{np.mean(costs[choice]) / np.mean(costs['plain']):.2f}x training" if choice == "ema"
                        else f"{np.mean(costs[choice]):.1f}x one prediction" if choice != "plain"
                        else f"{np.mean(costs['plain']):.0f} s a run")
                print(f"| {name} | {width}x{epochs} | {choice} | {summary(values)} | {gains} | {cost} |", flush=True)


if __name__ == "__main__":
    main()
