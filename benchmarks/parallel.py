"""How much faster are attempts spread over worker processes or a Dask cluster?

Trains the same short attempts (same seeds) with `--jobs 1`, `--jobs 2` and
`--cluster local:2`, side by side in one run, each into its own workspace, and
prints the wall time of each, its ratio to `--jobs 1`, and whether each kept the
same runs with the same scores.

    python benchmarks/parallel.py [--data PATH] [--rows 2000] [--attempts 6] [--epochs 1]
                                  [--model kaggle_ensemble] [--keep-above 0.5]

Without --data it uses the first --rows rows of the built-in demo competition.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from kaggle_cnn import api
from kaggle_cnn.api import train_config
from kaggle_cnn.data.demo import demo_path

# The recipe these figures were measured with (the defaults before the default recipe): --preset kaggle28
KAGGLE28 = train_config({}, preset="kaggle28")

ENGINES = {"--jobs 1": api.Execution(jobs=1), "--jobs 2": api.Execution(jobs=2),
           "--cluster local:2": api.Execution(jobs=None, cluster="local:2")}


def demo_slice(folder: Path, rows: int) -> Path:
    pd.read_csv(demo_path() / "train.csv.gz", nrows=rows).to_csv(folder / "train.csv", index=False)
    pd.read_csv(demo_path() / "test.csv.gz", nrows=rows // 5).to_csv(folder / "test.csv", index=False)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--attempts", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--model", default="kaggle_ensemble")
    parser.add_argument("--keep-above", type=float, default=0.5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        data = args.data or demo_slice(scratch, args.rows)
        dataset = api.load_data(data)
        config = replace(KAGGLE28, model=args.model, epochs=args.epochs)
        results = {}
        for name, execution in ENGINES.items():
            workspace = api.Workspace(scratch / name.replace(" ", "_").replace(":", ""))
            start = time.perf_counter()
            api.train(dataset, workspace, config, repeat=args.attempts, keep_above=args.keep_above,
                      execution=execution)
            seconds = time.perf_counter() - start
            index = workspace.read_index()
            results[name] = (seconds, index["run_id"][index["kept"].astype(str) == "True"].tolist(),
                             index["val_accuracy"].to_numpy())
    base_seconds, base_kept, base_scores = results["--jobs 1"]
    print(f"{args.attempts} attempts of {args.model}, {args.epochs} epoch(s) on {len(dataset.y_train)} images "
          f"({len(dataset.y_train) - round(0.1 * len(dataset.y_train))} trained on), keep above {args.keep_above}")
    print(f"{'engine':<22} {'wall s':>8} {'ratio to --jobs 1':>18}  kept  same kept set  max score difference")
    for name, (seconds, kept, scores) in results.items():
        print(f"{name:<22} {seconds:>8.1f} {seconds / base_seconds:>18.2f}  {len(kept):>4}  "
              f"{kept == base_kept!s:>13}  {np.abs(scores - base_scores).max():.4f}")


if __name__ == "__main__":
    main()
