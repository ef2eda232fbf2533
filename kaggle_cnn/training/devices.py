"""Where attempts run at once: worker slots over the CPU cores or the GPUs of this
machine, each with the environment its worker process starts with.

A slot is one attempt at a time. On a GPU machine the slots go round-robin over
the chosen GPUs (slot 0 on the first GPU, slot 1 on the second, ...), and each
worker sees only its own GPU (CUDA_VISIBLE_DEVICES) and grows its memory as it
needs it, so several attempts can share one GPU. On a CPU the cores are shared
out, so J workers do not fight over the same cores.

Nothing here imports TensorFlow: the GPUs are passed in (visible_gpus() asks
TensorFlow when a command needs to know), so placement is tested with any list.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from kaggle_cnn.errors import InputError, warn

CORES_PER_CPU_ATTEMPT = 4  # a small CNN's convolutions stop gaining from more threads than this


@dataclass(frozen=True)
class Slot:
    """One worker: its name as progress lines show it, its GPU (None: CPU), the
    threads it may use, and the environment its process starts with."""

    name: str
    gpu: str | None
    threads: int
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Placement:
    slots: list[Slot]
    reason: str  # what --jobs auto chose and why, or what was asked for


def parse_jobs(value: str | int | None) -> int | None:
    """--jobs: a positive integer, or "auto" (None)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    try:
        jobs = int(str(value).strip())
    except ValueError:
        raise InputError(f"--jobs {value}: must be a positive integer or auto") from None
    if jobs < 1:
        raise InputError(f"--jobs {value}: must be a positive integer or auto")
    return jobs


def parse_gpus(value: str | None, visible: list[str]) -> list[str] | None:
    """--gpus 0,1: positions in the list of GPUs this process sees (as TensorFlow
    numbers them); returns their physical ids. None: all of them."""
    if value is None:
        return None
    chosen = []
    for part in str(value).split(","):
        part = part.strip()
        if not part.isdigit():
            raise InputError(f"--gpus {value}: expected GPU numbers such as 0,1")
        if int(part) >= len(visible):
            seen = f"GPUs 0-{len(visible) - 1}" if visible else "no GPU"
            raise InputError(f"--gpus {value}: this machine has no GPU {part} (TensorFlow sees {seen})")
        if visible[int(part)] not in chosen:
            chosen.append(visible[int(part)])
    return chosen


def place(jobs: int | None, *, gpus: list[str] | None, per_gpu: int | None, visible: list[str],
          cores: int) -> Placement:
    """The worker slots for `jobs` attempts at once (None: --jobs auto) on the
    `visible` GPUs (physical ids; empty: a CPU machine) or `cores` CPU cores."""
    if per_gpu is not None and per_gpu < 1:
        raise InputError(f"--per-gpu {per_gpu}: must be at least 1")
    devices = visible if gpus is None else gpus
    if not devices:
        if per_gpu is not None:
            warn(f"--per-gpu {per_gpu}: no GPU here, so it is ignored; attempts share the {cores} CPU cores")
        return _cpu_slots(jobs, cores)
    per_device = per_gpu or (math.ceil(jobs / len(devices)) if jobs else 1)
    if jobs is None:
        jobs = len(devices) * per_device
        reason = f"--jobs auto: {jobs} at once ({len(devices)} GPU(s) x {per_device} attempt(s) each)"
    elif jobs > len(devices) * per_device:
        raise InputError(f"--jobs {jobs}: more than {len(devices)} GPU(s) x --per-gpu {per_device}; "
                         f"raise --per-gpu or lower --jobs")
    else:
        reason = f"{jobs} at once on {len(devices)} GPU(s), up to {per_device} per GPU"
    threads = max(1, cores // jobs)
    slots = []
    for number in range(jobs):
        gpu = devices[number % len(devices)]  # round-robin: the first slots spread over the GPUs
        slots.append(Slot(f"GPU {gpu}", gpu, threads, {
            "CUDA_VISIBLE_DEVICES": gpu, "TF_FORCE_GPU_ALLOW_GROWTH": "true", **thread_env(threads)}))
    return Placement(slots, reason)


def _cpu_slots(jobs: int | None, cores: int) -> Placement:
    if jobs is None:
        jobs = max(1, cores // CORES_PER_CPU_ATTEMPT)
        reason = (f"--jobs auto: {jobs} at once ({cores} CPU cores, about {CORES_PER_CPU_ATTEMPT} per attempt; "
                  f"no GPU)")
    else:
        reason = f"{jobs} at once on {cores} CPU cores"
    threads = max(1, cores // jobs)
    # CUDA_VISIBLE_DEVICES="" keeps a worker off a GPU that --gpus left out or that is absent.
    slots = [Slot("CPU" if jobs == 1 else f"CPU {number}", None, threads,
                  {"CUDA_VISIBLE_DEVICES": "", **thread_env(threads)}) for number in range(jobs)]
    return Placement(slots, reason)


def thread_env(threads: int) -> dict[str, str]:
    """Threads for the maths libraries under TensorFlow (oneDNN reads OMP_NUM_THREADS);
    TensorFlow's own pools are set in the worker (kaggle_cnn.training.workers)."""
    return {"OMP_NUM_THREADS": str(threads), "TF_NUM_INTRAOP_THREADS": str(threads),
            "TF_NUM_INTEROP_THREADS": "1"}


def visible_gpus() -> list[str]:
    """The physical ids of the GPUs TensorFlow sees here (CUDA_VISIBLE_DEVICES
    renumbers them: with "2,3" TensorFlow's GPU 0 is physical GPU 2)."""
    from kaggle_cnn.backend import load_keras

    load_keras()
    import tensorflow as tf

    count = len(tf.config.list_physical_devices("GPU"))
    declared = [part.strip() for part in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if part.strip()]
    if "CUDA_VISIBLE_DEVICES" in os.environ and len(declared) >= count:
        return declared[:count]
    return [str(number) for number in range(count)]


def cpu_cores() -> int:
    """The cores this process may use (a container's or taskset's limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
