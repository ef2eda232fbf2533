"""Cut-points fitted for QWK against plain rounding, on an APTOS-like miniature
scored on answers the runs never saw.

The miniature: real MNIST digits in APTOS 2019's layout (train.csv of
`id_code,diagnosis`, train_images/<id_code>.png, test_images/, sample_submission.csv),
each digit graded digit // 2 (grades 0-4). Per seed, `--repeat R` runs of cnn1 at
--epochs E trained `--ordinal --metric qwk`, then `kcnn vote`: the members'
predictions averaged, cut-points fitted on the hold-out rows. The same averaged
test predictions are graded twice, cut at the fitted cut-points and rounded to the
nearest grade, and both submissions scored by `kcnn score --metric qwk`.

    python benchmarks/ordinal_cut_points.py [--rows 3000] [--test-rows 1000] [--epochs 2]
                                            [--repeat 2] [--seeds 0,1,2]
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

from kaggle_cnn.store.submissions import grades


def write_aptos(root: Path, rows: int, test_rows: int) -> Path:
    """The miniature at `root`; returns the hidden answers' path."""
    data = np.load(need(DATA_DIR / "mnist.npz"))
    parts = (("train_images", "tr", data["x_train"][:rows]), ("test_images", "te", data["x_test"][:test_rows]))
    for folder, prefix, images in parts:
        (root / folder).mkdir(parents=True)
        for i, image in enumerate(images):
            Image.fromarray(image).save(root / folder / f"{prefix}{i:06d}.png")
    train_ids, test_ids = [f"tr{i:06d}" for i in range(rows)], [f"te{i:06d}" for i in range(test_rows)]
    pd.DataFrame({"id_code": train_ids, "diagnosis": data["y_train"][:rows] // 2}).to_csv(root / "train.csv",
                                                                                          index=False)
    pd.DataFrame({"id_code": test_ids, "diagnosis": 0}).to_csv(root / "sample_submission.csv", index=False)
    answers = root.parent / "answers.csv"
    pd.DataFrame({"id_code": test_ids, "diagnosis": data["y_test"][:test_rows] // 2}).to_csv(answers, index=False)
    return answers


def test_qwk(submission: Path, answers: Path) -> float:
    return scored(submission, answers, "qwk")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--test-rows", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seeds", default="0,1,2")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "aptos"
        answers = write_aptos(root, options.rows, options.test_rows)
        rows = []
        for seed in options.seeds.split(","):
            workspace = Path(scratch) / f"ws{seed}"
            kcnn("-w", workspace, "train", "--data", root, "--ordinal", "--metric", "qwk", "--model", "cnn1",
                 "--epochs", options.epochs, "--repeat", options.repeat, "--seed", seed)
            kcnn("-w", workspace, "vote")
            ensemble = workspace / "submissions" / "ensemble"
            grading = json.loads((ensemble / "mean.json").read_text())["grading"]
            mean = np.mean([np.load(run / "test_proba.npy")[:, 0]
                            for run in (workspace / "models").iterdir() if (run / "run.json").exists()], axis=0)
            sample = pd.read_csv(root / "sample_submission.csv")
            scores = {}
            for name, cuts in (("rounding", None), ("cut_points", grading["cut_points"])):
                path = ensemble / f"{name}.csv"
                sample.assign(diagnosis=grades(mean, grading["low"], grading["high"], cuts)).to_csv(path, index=False)
                scores[name] = test_qwk(path, answers)
            rows.append({"seed": seed, "val_rounding": grading["val_score_rounding"],
                         "val_cut_points": grading["val_score_cut_points"], "vote_used": grading["used"],
                         "test_rounding": scores["rounding"], "test_cut_points": scores["cut_points"]})
            print(rows[-1], flush=True)
        table = pd.DataFrame(rows)
        print(table.to_string(index=False, float_format="%.4f"))
        print(f"mean gain of cut-points on the test rows: {(table['test_cut_points'] - table['test_rounding']).mean():+.4f}")


if __name__ == "__main__":
    main()
