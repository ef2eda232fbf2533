"""kcnn beside its peers at equal wall clock: `kcnn train --time-budget M` (then
`kcnn vote`), fastai and AutoKeras, each given M minutes on the same images and
scored once on the same hidden test labels.

    python benchmarks/peers.py [--sets mnist,cifar] [--minutes 2,8] [--tools kcnn,fastai,autokeras]
                               [--seeds 0] [--rows 5000] [--test-rows N] [--peers-dir /work/peers]
                               [--out peers-results.json] [--redo]

Run it with kcnn's venv (/work/main/.venv/bin/python); fastai and AutoKeras
run in their own venvs under --peers-dir ($KCNN_PEERS, default /work/peers),
made by benchmarks/peers_setup.sh, through benchmarks/peers/{tool}_run.py. A
tool without its venv is skipped with a one-line message.

mnist: the first --rows training images of mnist.npz and its 10,000 test
images; cifar: the CIFAR-10 subset (4,000 training, 1,000 test), also capped at
--rows; both from the real datasets' folder ($KCNN_DATA_DIR). --test-rows cuts
the test images too (for quick checks only: the figures to quote use them all).

The tools run one after another, never two at once, each as a subprocess whose
wall clock, measured here, is the figure in the table (kcnn's includes its
vote). Each tool counts its budget from its own start and stops by itself; one
that runs past three times its budget plus ten minutes is killed. Every
finished row is added to --out at once (atomically), so a long run stopped
half-way resumes where it was: rows already there are not run again (--redo
runs them again), and files from several runs can be merged by hand, row by
row. Each subprocess's output is kept in --out's folder, under <out>-logs/.

--seeds 0,1,2 runs each row once a seed (kcnn's --seed, the peers' own seed for
their split, initialisation and search) and ends with each cell's mean, lowest
and highest over the seeds on record.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from machine import machine
from sets import (  # the real sets: $KCNN_DATA_DIR
    each_set,
    set_names,
    set_options,
    table_header,
)

from kaggle_cnn import api

TOOLS = ("kcnn", "fastai", "autokeras")
RUNNERS = Path(__file__).resolve().parent / "peers"
PEERS_DIR = Path(os.environ.get("KCNN_PEERS", "/work/peers"))


def timed(command: list[str], log: Path, limit: float) -> tuple[int, float]:
    """Run one tool alone, its output to log; (exit status, wall seconds). 124: killed at limit."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # each venv brings its own packages
    start = time.perf_counter()
    with open(log, "a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        try:
            status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=limit,
                                    check=False).returncode
        except subprocess.TimeoutExpired:
            status = 124
    return status, time.perf_counter() - start


def last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def run_kcnn(data: Path, answers: Path, minutes: float, seed: int, scratch: Path, log: Path, limit: float) -> dict:
    """`kcnn train --time-budget M` with every other setting at its default, then `kcnn vote`."""
    kcnn = Path(sys.executable).with_name("kcnn")
    kcnn = str(kcnn) if kcnn.exists() else shutil.which("kcnn") or "kcnn"
    workspace = scratch / "kcnn"
    shutil.rmtree(workspace, ignore_errors=True)
    status, seconds = timed([kcnn, "--workspace", str(workspace), "train", "--data", str(data),
                             "--time-budget", f"{minutes:g}"] + (["--seed", str(seed)] if seed else []), log, limit)
    if status != 0:
        return {"error": f"kcnn train failed ({status}): {last_line(log)}", "seconds": seconds}
    status, vote_seconds = timed([kcnn, "--workspace", str(workspace), "vote", "--name", "peers"], log, limit)
    seconds += vote_seconds
    index = api.Workspace(workspace).read_index()
    kept = index[index["kept"].astype(str).str.lower() == "true"]
    csv = workspace / "submissions" / "ensemble" / "peers.csv"
    if status != 0:
        if len(kept) != 1:
            return {"error": f"kcnn vote failed ({status}): {last_line(log)}", "seconds": seconds}
        csv, voted = workspace / "submissions" / f"{kept['run_id'].iloc[0]}.csv", "the one run's own CSV (vote failed)"
    else:
        voted = f"hard vote of {len(kept)}"
    epochs = ", ".join(str(e) for e in kept["epochs"])
    attempts = f"{len(index)} attempt{'s' * (len(index) != 1)}"
    how = (f"kcnn defaults, --time-budget {minutes:g}: {attempts}, {len(kept)} kept "
           f"({', '.join(sorted(set(kept['model'].astype(str))))}; epochs {epochs}; val acc "
           f"{pd.to_numeric(kept['val_accuracy']).mean():.4f} mean); {voted}")
    return {"accuracy": api.score(csv, answers)["accuracy"], "seconds": seconds, "how": how}


def run_peer(tool: str, python: Path, data: Path, answers: Path, minutes: float, seed: int, scratch: Path,
             log: Path, limit: float) -> dict:
    """One peer's runner in its own venv; its predictions written as a submission and scored like kcnn's."""
    result_path = scratch / f"{tool}.json"
    result_path.unlink(missing_ok=True)
    status, seconds = timed([str(python), str(RUNNERS / f"{tool}_run.py"), "--data", str(data),
                             "--minutes", f"{minutes:g}", "--seed", str(seed), "--out", str(result_path)], log, limit)
    if status != 0 or not result_path.exists():
        return {"error": f"{tool} failed ({status}): {last_line(log)}", "seconds": seconds}
    result = json.loads(result_path.read_text())
    truth = pd.read_csv(answers, dtype=str)
    if len(result["predictions"]) != len(truth):
        return {"error": f"{tool}: {len(result['predictions'])} predictions for {len(truth)} test images",
                "seconds": seconds}
    submission = scratch / f"{tool}.csv"
    pd.DataFrame({truth.columns[0]: truth.iloc[:, 0], truth.columns[1]: result["predictions"]}).to_csv(
        submission, index=False)
    return {"accuracy": api.score(submission, answers)["accuracy"], "seconds": seconds, "how": result["how"]}


def key(row: dict) -> tuple:
    return row["set"], row["rows"], row["test_rows"], float(row["minutes"]), row["tool"], row.get("seed", 0)


def read_rows(path: Path) -> list[dict]:
    return json.loads(path.read_text()) if path.exists() else []


def add_row(path: Path, row: dict) -> None:
    """Add (or replace) one row in the results file, atomically: a stop leaves the old file or the new one."""
    rows = [old for old in read_rows(path) if key(old) != key(row)] + [row]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(rows, indent=1) + "\n")
    os.replace(tmp, path)


def print_row(row: dict) -> None:
    accuracy = "failed" if row.get("accuracy") is None else f"{row['accuracy']:.4f}"
    how = str(row["how"]).replace("|", "/")  # a "|" would split the markdown cell
    print(f"| {row['set']} | {row['minutes']:g} | {row['tool']} | {row.get('seed', 0)} | {accuracy} | "
          f"{row['wall_minutes']:.2f} | {how} |", flush=True)


def print_summary(rows: list[dict]) -> None:
    """Each cell over its seeds: mean, lowest and highest accuracy, longest wall clock."""
    cells: dict[tuple, list[dict]] = {}
    for row in rows:
        cells.setdefault((row["set"], row["rows"], float(row["minutes"]), row["tool"]), []).append(row)
    table_header("set", "budget (min)", "tool", "seeds", "hidden-test acc mean (lowest-highest)", "longest wall min")
    for (name, _, minutes, tool), runs in sorted(cells.items()):
        scores = [run["accuracy"] for run in runs]
        print(f"| {name} | {minutes:g} | {tool} | {len(runs)} | {sum(scores) / len(scores):.4f} "
              f"({min(scores):.4f}-{max(scores):.4f}) | {max(run['wall_minutes'] for run in runs):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    set_options(parser, rows=5000, test_rows=None, data_dir=True)
    parser.add_argument("--minutes", default="2,8", help="Budgets in minutes, comma-separated.")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--seeds", default="0", help="Seeds, comma-separated: each row runs once a seed.")
    parser.add_argument("--peers-dir", type=Path, default=PEERS_DIR, help="Where peers_setup.sh made the venvs.")
    parser.add_argument("--out", type=Path, default=Path("peers-results.json"), help="Results, one row per run.")
    parser.add_argument("--redo", action="store_true", help="Run again the rows --out already has.")
    args = parser.parse_args()
    set_names(parser, args.sets)
    tools = args.tools.split(",")
    budgets = [float(m) for m in args.minutes.split(",")]
    if not all(seed.isdigit() for seed in args.seeds.split(",")):
        parser.error(f"--seeds: {args.seeds!r} is not a comma-separated list of whole numbers")
    seeds = [int(seed) for seed in args.seeds.split(",")]
    for tool in tools:
        if tool not in TOOLS:
            parser.error(f"--tools: {tool} is not one of {', '.join(TOOLS)}")

    host = machine()
    logs = args.out.resolve().parent / f"{args.out.stem}-logs"
    logs.mkdir(parents=True, exist_ok=True)
    pythons = {tool: args.peers_dir / tool / "bin" / "python" for tool in tools if tool != "kcnn"}
    for tool, python in list(pythons.items()):
        if not python.exists():
            print(f"{tool}: no venv at {python.parent.parent} (bash benchmarks/peers_setup.sh makes it): skipped")
            del pythons[tool]
    print(f"machine: {host}; training images at most {args.rows}, test images "
          f"{'all' if args.test_rows is None else f'at most {args.test_rows}'}; logs in {logs}")
    table_header("set", "budget (min)", "tool", "seed", "hidden-test acc", "wall min", "how")
    done = {key(row): row for row in read_rows(args.out)}
    with tempfile.TemporaryDirectory(prefix="peers-") as folder:
        scratch = Path(folder)
        for name, data, answers in each_set(args, scratch):
            for minutes, seed, tool in ((m, s, t) for m in budgets for s in seeds for t in tools):
                if tool != "kcnn" and tool not in pythons:
                    continue
                row = {"set": name, "rows": args.rows, "test_rows": args.test_rows, "minutes": minutes,
                       "tool": tool, "seed": seed}
                if key(row) in done and not args.redo:
                    print_row(done[key(row)])
                    continue
                log = logs / f"{name}-{minutes:g}min-{tool}-seed{seed}.log"
                log.unlink(missing_ok=True)
                limit = minutes * 60 * 3 + 600  # a tool this far past its budget has hung
                if tool == "kcnn":
                    outcome = run_kcnn(data, answers, minutes, seed, scratch, log, limit)
                else:
                    outcome = run_peer(tool, pythons[tool], data, answers, minutes, seed, scratch, log, limit)
                row.update(accuracy=outcome.get("accuracy"), wall_minutes=outcome["seconds"] / 60,
                           how=outcome.get("how") or outcome["error"], machine=host,
                           finished=datetime.now(UTC).isoformat(timespec="seconds"))
                if "error" in outcome:  # shown, not stored: a resumed run tries it again
                    print_row(row)
                    continue
                add_row(args.out, row)
                print_row(row)
    print_summary([row for row in read_rows(args.out) if row["set"] in args.sets.split(",")
                   and float(row["minutes"]) in budgets and row["tool"] in tools and row["rows"] == args.rows])


if __name__ == "__main__":
    main()
