"""The machine a figure was measured on: CPU model, cores kcnn may use, AVX-512.
Every benchmark names it with its figures (times differ between machines)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    """CPU model, cores and AVX-512: what decides CPU training speed, named with every figure."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            fields.setdefault(name.strip(), value.strip())  # the first processor's
    except OSError:  # not Linux: no flags to read
        return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    avx512 = "yes" if "avx512f" in fields.get("flags", "").split() else "no"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{fields.get('model name', platform.machine())}, {cores} cores, AVX-512 {avx512}"
