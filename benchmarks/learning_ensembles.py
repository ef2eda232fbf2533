"""Where does each ensemble step pay? Measured through the `kcnn` commands, on hidden test answers.

On each set (the first --rows training images, the first --test-rows test images):
  1. mixed plan:     `kcnn train --model A,B --folds K --repeat R --epochs E`, its soft vote and
                     its stacked vote (`vote --method stack`);
  2. seed-only plan: `kcnn train --model C --folds K --time-budget M`, M the mixed plan's
                     minutes, then its soft vote;
  3. pseudo-labels:  the mixed plan again with `--pseudo-labels` of its soft vote;
  4. a student:      `kcnn distill` of the mixed soft vote into one model (--student, E epochs),
                     and its inference time per image beside the ensemble's.
Each row: the vote's own estimate (cross-validated on out-of-fold rows), the hidden-test
accuracy from `kcnn score`, and the minutes its commands took (wall clock, this machine).

    python benchmarks/learning_ensembles.py [--sets mnist,cifar] [--rows 2000] [--test-rows 1000]
        [--models cnn1,small_resnet] [--alone small_resnet] [--student small_resnet]
        [--folds 3] [--repeat 4] [--epochs 4] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine
from sets import each_set, set_options, table_header

from kaggle_cnn import api

KCNN = [sys.executable, "-m", "kaggle_cnn"]


def kcnn(workspace: Path, *args: str) -> float:
    """Run one kcnn command in `workspace`; its wall-clock seconds. A failure stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run([*KCNN, "--workspace", str(workspace), *args], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode != 0:
        sys.exit(f"kcnn {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return time.perf_counter() - start


def voted(workspace: Path, method: str, name: str) -> tuple[Path, dict, float]:
    seconds = kcnn(workspace, "vote", "--method", method, "--name", name)
    csv = workspace / "submissions" / "ensemble" / f"{name}.csv"
    return csv, json.loads(csv.with_suffix(".json").read_text()), seconds


def estimate(sidecar: dict) -> float | None:
    value = sidecar.get("val_estimate")
    return value.get("value") if isinstance(value, dict) else value


def row(name: str, what: str, csv: Path, answers: Path, sidecar: dict | None, seconds: float, extra: str = ""):
    test = api.score(csv, answers)["accuracy"]
    guess = estimate(sidecar) if sidecar else None
    print(f"| {name} | {what} | {'-' if guess is None else f'{guess:.4f}'} | {test:.4f} | {seconds / 60:.1f} | "
          f"{extra} |", flush=True)
    return test


def plan(workspace: Path, data: Path, models: str, args, *extra: str) -> float:
    """A k-fold plan over `models`: --repeat R at --epochs E, or (extra) a --time-budget."""
    fixed = () if "--time-budget" in extra else ("--repeat", str(args.repeat), "--epochs", str(args.epochs))
    return kcnn(workspace, "train", "--data", str(data), "--model", models, "--folds", str(args.folds),
                "--seed", str(args.seed), "--keep-above", "0", "--batch-size", str(args.batch_size), *fixed, *extra)


def student_of(workspace: Path) -> tuple[Path, dict]:
    """The distilled student's run folder and its record of what it learnt from."""
    for path in sorted((workspace / "models").glob("*/run.json")):
        record = json.loads(path.read_text())
        if "distilled_from" in record:
            return path.parent, record["distilled_from"]
    sys.exit(f"no distilled student in {workspace}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    set_options(parser, rows=2000, test_rows=1000, seed=0, data_dir=True)
    parser.add_argument("--models", default="cnn1,small_resnet", help="The mixed plan's models.")
    parser.add_argument("--alone", default="small_resnet", help="The seed-only plan's one model.")
    parser.add_argument("--student", default="small_resnet", help="The distilled student's model.")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=4, help="Attempts of the mixed and pseudo-labelled plans.")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    print(f"machine: {machine()}; {args.rows} training rows, {args.test_rows} test rows, --folds {args.folds}, "
          f"--repeat {args.repeat} --epochs {args.epochs} --batch-size {args.batch_size}, seed {args.seed}\n")
    table_header("set", "submission", "estimate", "hidden test", "minutes", "notes")
    for name, data, answers in each_set(args, Path(tempfile.mkdtemp(prefix="kcnn-learning-"))):
        root = data.parent / name
        mixed, alone, taught = root / "mixed", root / "seed-only", root / "pseudo"
        seconds = plan(mixed, data, args.models, args)
        soft_csv, sidecar, vote_s = voted(mixed, "soft", "soft")
        soft = row(name, f"soft vote, {args.models}", soft_csv, answers, sidecar, seconds + vote_s)
        csv, sidecar, stack_s = voted(mixed, "stack", "stack")
        row(name, f"stacked vote, {args.models}", csv, answers, sidecar, seconds + stack_s)

        # The seed-only plan gets the mixed plan's minutes, and spends them on its one model.
        alone_s = plan(alone, data, args.alone, args, "--time-budget", f"{seconds / 60:.2f}")
        csv, sidecar, vote_s = voted(alone, "soft", "soft")
        row(name, f"soft vote, {args.alone} only", csv, answers, sidecar, alone_s + vote_s,
            f"{len(sidecar['members'])} runs in the same minutes")

        taught_s = plan(taught, data, args.models, args, "--pseudo-labels", str(soft_csv))
        csv, sidecar, vote_s = voted(taught, "soft", "soft")
        added = json.loads(next((taught / "models").glob("*/run.json")).read_text())["pseudo_labels"]
        row(name, "soft vote, pseudo-labelled plan", csv, answers, sidecar, taught_s + vote_s,
            f"{api.score(csv, answers)['accuracy'] - soft:+.4f} vs the soft vote it learnt from; "
            f"{added['rows_added']} test images at confidence {added['confidence']} added")

        distill_s = kcnn(mixed, "distill", str(soft_csv), "--model", args.student, "--keep-above", "0",
                         "--seed", str(args.seed), "--epochs", str(args.epochs), "--batch-size", str(args.batch_size))
        folder, record = student_of(mixed)
        per_image = record["predict_seconds_per_image"]
        row(name, f"distilled student ({args.student})", mixed / "submissions" / f"{folder.name}.csv", answers,
            None, distill_s, f"{api.score(mixed / 'submissions' / f'{folder.name}.csv', answers)['accuracy'] - soft:+.4f}"
            f" vs the vote; {per_image['student'] * 1000:.3f} ms/image vs the ensemble's "
            f"{per_image['ensemble'] * 1000:.3f}")


if __name__ == "__main__":
    main()
