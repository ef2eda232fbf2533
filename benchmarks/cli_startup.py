"""How fast do the light commands start, next to importing TensorFlow?

`kcnn --help`, `vote` and `metrics` must never import TensorFlow. This script
trains nothing: it builds a throw-away workspace from two synthetic members
backed by no runs (vote) and reuses an existing workspace if given (metrics),
then times each command as a whole process, alternating with
`python -c "import tensorflow"`, and prints medians and ratios.

    python benchmarks/cli_startup.py [--runs 5] [--workspace W]   (W: a trained workspace, for metrics)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workspace", type=Path, default=None, help="a trained workspace, to time `metrics` too")
    args = parser.parse_args()

    kcnn = [sys.executable, "-m", "kaggle_cnn"]
    with tempfile.TemporaryDirectory() as tmp:
        members = Path(tmp) / "members"
        members.mkdir()
        for name in ("a", "b", "c"):
            pd.DataFrame({"ImageId": range(1, 28001), "Label": [i % 10 for i in range(28000)]}).to_csv(
                members / f"{name}.csv", index=False)
        commands = {
            "kcnn --help": kcnn + ["--help"],
            "kcnn vote (3 x 28,000 rows)": kcnn + ["-w", tmp, "vote", str(members)],
        }
        if args.workspace:
            commands["kcnn metrics"] = kcnn + ["-w", str(args.workspace), "metrics"]
        baseline = [sys.executable, "-c", "import tensorflow"]
        times: dict[str, list[float]] = {name: [] for name in commands}
        tf_times = []
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(wall(command))
            tf_times.append(wall(baseline))
    tf = statistics.median(tf_times)
    print(f"python -c 'import tensorflow': median {tf:.3f} s over {args.runs} runs")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:32s}: median {median:.3f} s  ({median / tf:.2f} x importing TensorFlow)")


if __name__ == "__main__":
    main()
