"""What both peer runners share (each runs in its own venv, with this folder on sys.path)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def write_json(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, path)  # atomic: a reader sees the old file or the whole new one


def runner_parser(description: str) -> argparse.ArgumentParser:
    """The options every peer runner takes from peers.py: the data, the minutes, where
    to write the result, the seed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    return parser
