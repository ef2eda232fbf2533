"""What both peer runners share (each runs in its own venv, with this folder on sys.path)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_json(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, path)  # atomic: a reader sees the old file or the whole new one
