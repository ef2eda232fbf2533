"""Does the default recipe beat the 28x28 Kaggle write-up's at equal wall clock?

On each set, `--preset kaggle28` trains 5 members first; the default recipe then
gets exactly the wall-clock time they took (`--epochs auto --time-budget`), and
trains its 5 members in it. Both are scored once on the held-out test set: each
member, and the 5-member hard vote (kcnn vote), side by side in one run.

    python benchmarks/recipe.py [--sets mnist,cifar] [--rows 5000] [--members 5]
                                [--kaggle28-epochs 40] [--seed 0]

mnist: the first --rows training images of mnist.npz and its 10,000 test images;
cifar: the CIFAR-10 subset (4,000 training, 1,000 test); both from the real
datasets' folder ($KCNN_DATA_DIR).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from machine import machine
from sets import each_set, set_options, table_header  # the real sets: $KCNN_DATA_DIR

from kaggle_cnn import api


def trained(dataset, workspace: api.Workspace, config, members: int, seed: int, minutes: float | None, answers):
    start = time.perf_counter()
    api.train(dataset, workspace, config, repeat=members, seed=seed, time_budget=minutes)
    seconds = time.perf_counter() - start
    runs = workspace.read_index()
    scores = [api.score(workspace.root / "submissions" / f"{run_id}.csv", answers)["accuracy"]
              for run_id in runs["run_id"]]
    epochs = [int(e) for e in runs["epochs"]]
    vote = api.vote(workspace)
    return {"seconds": seconds, "members": len(scores), "epochs": epochs, "member_test": scores,
            "val": runs["val_accuracy"].astype(float).tolist(),
            "vote_test": api.score(vote.csv_path, answers)["accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    set_options(parser, rows=5000, seed=0)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--kaggle28-epochs", type=int, default=40)
    args = parser.parse_args()

    kaggle28 = replace(api.train_config({}, preset="kaggle28"), epochs=args.kaggle28_epochs)
    default = api.train_config({"epochs": "auto"}, explicit={"epochs"})
    print(f"machine: {machine()}; {args.members} members each; "
          f"kaggle28 at {args.kaggle28_epochs} epochs")
    table_header("set", "recipe", "minutes", "epochs a member", "member test acc (mean, best)",
                 "members' val acc (mean)", "5-member hard vote, test acc")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for name, path, answers in each_set(args, scratch):
            dataset = api.load_data(path)
            first = trained(dataset, api.Workspace(scratch / f"{name}-kaggle28"), kaggle28, args.members, args.seed,
                            None, answers)
            second = trained(dataset, api.Workspace(scratch / f"{name}-default"), default, args.members, args.seed,
                             first["seconds"] / 60, answers)
            for recipe, result in (("`--preset kaggle28`", first), ("default, `--epochs auto`", second)):
                print(f"| {name} | {recipe} | {result['seconds'] / 60:.1f} | {np.mean(result['epochs']):.1f} | "
                      f"{np.mean(result['member_test']):.4f}, {np.max(result['member_test']):.4f} "
                      f"({result['members']} members) | {np.mean(result['val']):.4f} | {result['vote_test']:.4f} |",
                      flush=True)


if __name__ == "__main__":
    main()
