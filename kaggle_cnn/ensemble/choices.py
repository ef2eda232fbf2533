"""What `kcnn vote` takes: its methods and limits. Constants only (no numpy), so the
command line offers them without loading the vote."""

from __future__ import annotations

METHODS = ("hard", "soft", "weighted", "greedy", "stack")
MAX_ROUNDS = 10_000  # greedy additions: each one scores every member on every validation row
NAME_LENGTH = 100  # a vote's --name, which becomes a file name
