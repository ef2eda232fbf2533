"""Registered CNN architectures (`kcnn models` lists them).

Named `architectures` so it cannot be confused with the workspace's `models/`
folder, which holds trained runs.
"""

from kaggle_cnn.architectures.registry import (
    Architecture,
    build,
    check,
    check_options,
    get,
    load_model,
    names,
    option_checks,
    options,
    register,
    shapes_only_build,
)

__all__ = ["Architecture", "build", "check", "check_options", "get", "load_model", "names", "option_checks", "options",
           "register", "shapes_only_build"]
