"""What batch size should a small training set get?

With a few hundred images, a batch of 128 makes an epoch two or three optimizer
steps, and a short run (3 epochs, or the default's 12) ends before the network has
learnt much. Each training-set size is trained with each batch size from several
seeds, for a fixed number of epochs, and judged on 2,000 validation images held out
of the same training set (the test images are not looked at: this chooses a default).

    python benchmarks/small_sets.py [--sets mnist,cifar] [--sizes 400,1500] [--epochs 3,12]
                                    [--batches 32,64,128] [--models small_resnet] [--seeds 0,1,2]
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
from kaggle_cnn.evaluation.metric_registry import accuracy

VALIDATION_ROWS = 2000


def main() -> None:
    from kaggle_cnn.training.fit import fit_one

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    set_options(parser, rows=0)
    parser.add_argument("--sizes", default="400,1500", help="training images, comma-separated")
    parser.add_argument("--epochs", default="3,12")
    parser.add_argument("--batches", default="32,64,128")
    parser.add_argument("--models", default="small_resnet")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    sizes = [int(v) for v in args.sizes.split(",")]
    args.rows = max(sizes) + VALIDATION_ROWS  # validation: the images after the largest training set
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"machine: {machine()}; validation: {VALIDATION_ROWS} training-set images; seeds {args.seeds}", flush=True)
    table_header("set", "model", "training images", "epochs", "batch", "steps an epoch",
                 "val acc mean (low–high)", "seconds a run")
    with tempfile.TemporaryDirectory() as scratch:
        for name, path, _ in each_set(args, Path(scratch), test_rows=10):
            dataset = api.load_data(path)
            x_val, y_val = dataset.x_train[-VALIDATION_ROWS:], dataset.y_train[-VALIDATION_ROWS:]
            for model in args.models.split(","):
                for size in sizes:
                    for epochs in (int(e) for e in args.epochs.split(",")):
                        for batch in (int(b) for b in args.batches.split(",")):
                            config = TrainConfig.from_settings({"model": model, "epochs": epochs, "batch_size": batch})
                            scores, took = [], []
                            for seed in seeds:
                                start = time.perf_counter()
                                result = fit_one(config, seed, dataset.x_train[:size], dataset.y_train[:size], x_val,
                                                 y_val, dataset.x_test[:0], dataset.n_classes)
                                took.append(time.perf_counter() - start)
                                scores.append(accuracy(y_val, result.val_proba))
                            print(f"| {name} | {model} | {size} | {epochs} | {batch} | {-(-size // batch)} | "
                                  f"{np.mean(scores):.4f} ({min(scores):.4f}–{max(scores):.4f}) | "
                                  f"{np.mean(took):.0f} |", flush=True)


if __name__ == "__main__":
    main()
