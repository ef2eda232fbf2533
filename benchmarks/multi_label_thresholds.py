"""Per-label decision thresholds against a plain 0.5, on a Planet-like miniature
scored on answers the runs never saw.

The miniature: CIFAR-10 subset images in Planet's layout (train_v2.csv of
`image_name,tags`, train-jpg/, test-jpg/, sample_submission_v2.csv), each image
tagged with two tags: `animal` or `vehicle`, and its class. Per seed, `--repeat R`
runs of basic_cnn at --epochs E judged by f2_samples, then two votes of the same
runs: `kcnn vote` (thresholds fitted on the hold-out rows, as for any F metric) and
`kcnn vote --metric mean_auc` (a metric with no decisions to fit: every label at
0.5). Both submissions are scored by `kcnn score --multi-label` (F2 over images).

    python benchmarks/multi_label_thresholds.py [--rows 1000] [--test-rows 1000] [--epochs 4]
                                                [--repeat 3] [--seeds 0,1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from command_line import kcnn, scored  # one kcnn command in-process, a printed score
from PIL import Image
from real_data import DATA_DIR, need  # the real datasets: $KCNN_DATA_DIR

CIFAR = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
VEHICLES = {"airplane", "automobile", "ship", "truck"}


def tags(label: int) -> str:
    name = CIFAR[int(label)]
    return f"{'vehicle' if name in VEHICLES else 'animal'} {name}"


def write_planet(root: Path, rows: int, test_rows: int) -> Path:
    """The miniature at `root`; returns the hidden answers' path."""
    data = np.load(need(DATA_DIR / "cifar10_subset.npz"))
    for folder, prefix, images in (("train-jpg", "train", data["x_train"][:rows]),
                                   ("test-jpg", "test", data["x_test"][:test_rows])):
        (root / folder).mkdir(parents=True)
        for i, image in enumerate(images):
            Image.fromarray(image).save(root / folder / f"{prefix}_{i}.jpg")
    train_ids, test_ids = [f"train_{i}" for i in range(rows)], [f"test_{i}" for i in range(test_rows)]
    pd.DataFrame({"image_name": train_ids, "tags": [tags(y) for y in data["y_train"][:rows]]}).to_csv(
        root / "train_v2.csv", index=False)
    pd.DataFrame({"image_name": test_ids, "tags": "animal cat"}).to_csv(root / "sample_submission_v2.csv", index=False)
    answers = root.parent / "answers.csv"
    pd.DataFrame({"image_name": test_ids, "tags": [tags(y) for y in data["y_test"][:test_rows]]}).to_csv(
        answers, index=False)
    return answers


def test_f2(submission: Path, answers: Path) -> float:
    return scored(submission, answers, "f2_samples", "--multi-label")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--test-rows", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seeds", default="0,1")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "planet"
        answers = write_planet(root, options.rows, options.test_rows)
        rows = []
        for seed in options.seeds.split(","):
            workspace = Path(scratch) / f"ws{seed}"
            kcnn("-w", workspace, "train", "--data", root, "--multi-label", "--model", "basic_cnn", "--epochs",
                 options.epochs, "--repeat", options.repeat, "--seed", seed, "--metric", "f2_samples")
            kcnn("-w", workspace, "vote", "--name", "thresholds")
            kcnn("-w", workspace, "vote", "--name", "plain", "--metric", "mean_auc")
            ensemble = workspace / "submissions" / "ensemble"
            sidecar = json.loads((ensemble / "thresholds.json").read_text())
            rows.append({"seed": seed, "val_at_0.5": sidecar["val_score_at_0.5"],
                         "val_thresholds": sidecar["val_score"],
                         "test_at_0.5": test_f2(ensemble / "plain.csv", answers),
                         "test_thresholds": test_f2(ensemble / "thresholds.csv", answers)})
            print(rows[-1], flush=True)
        table = pd.DataFrame(rows)
        print(table.to_string(index=False, float_format="%.4f"))
        print(f"mean gain on the test rows: {(table['test_thresholds'] - table['test_at_0.5']).mean():+.4f}")


if __name__ == "__main__":
    main()
