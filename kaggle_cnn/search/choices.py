"""What `kcnn search --algo` takes. A constant only (no hyperopt), so the command
line offers it without loading the search."""

from __future__ import annotations

ALGOS = ("tpe", "rand", "grid")
