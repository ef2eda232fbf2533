"""Registered CNN architectures (`kcnn models` lists them).

Named `architectures` so it cannot be confused with the workspace's `models/`
folder, which holds trained runs.
"""

from kaggle_cnn.architectures.registry import (
    Architecture,
    build,
    check,
    get,
    load_model,
    names,
    options,
    register,
)

__all__ = ["Architecture", "build", "check", "get", "load_model", "names", "options", "register"]
