"""Import TensorFlow/Keras once, quietly.

TensorFlow's C++ runtime prints a screenful of start-up lines (CUDA probing,
oneDNN notices) that TF_CPP_MIN_LOG_LEVEL no longer silences (tensorflow issue
#100442). They carry nothing for a user training on the machine they have, so
file descriptor 2 is pointed at /dev/null while TensorFlow loads. Python errors
still surface: the import's exception is raised after stderr is restored. Set
KCNN_TF_LOGS=1 to see the lines (e.g. to find why a GPU is not used).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    if os.environ.get("KCNN_TF_LOGS") == "1":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def load_keras():
    """Return the keras module, importing TensorFlow without its start-up noise."""
    if "keras" not in sys.modules:
        with _stderr_silenced():
            import keras  # noqa: F401
            import tensorflow

            # Device discovery (CUDA probing) prints at first use, not at import.
            tensorflow.config.list_physical_devices()
    import keras

    return keras
