"""The command line as the benchmarks drive it: one kcnn command run in-process
(its output returned, a failure ending the script with kcnn's own message), and
a submission's score as `kcnn score` prints it."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from kaggle_cnn.cli import cli


def kcnn(*args) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if result.exit_code:
        raise SystemExit(result.output)
    return result.output


def scored(submission: Path, answers: Path, metric: str, *options) -> float:
    """`kcnn score SUBMISSION --answers ANSWERS --metric METRIC [options]`'s figure for the metric."""
    shown = kcnn("score", submission, "--answers", answers, "--metric", metric, *options)
    return float(re.search(rf"{re.escape(metric)} (-?\d+\.\d+)", shown).group(1))
