"""AutoKeras 3 on one image set within a wall-clock budget, for benchmarks/peers.py.

Run by the AutoKeras venv's Python (benchmarks/peers_setup.sh), not kcnn's:

    /work/peers/autokeras/bin/python benchmarks/peers/autokeras_run.py \\
        --data SET.npz --minutes 2 --out RESULT.json [--seed 0] [--max-trials 100]

SET.npz holds x_train (N,H,W) or (N,H,W,3) uint8, y_train (N,) int and x_test.
RESULT.json gets {"tool", "predictions", "wall_seconds", "how"}, written
atomically; the budget counts from this script's start, imports included.

What is searched: AutoKeras's image classifier graph (ImageInput -> ImageBlock
-> ClassificationHead) with its greedy tuner, started at ImageClassifier's
first default trial (the small "vanilla" ConvBlock), and with the block type
fixed to "vanilla". ImageClassifier's own default list goes on to ResNet50 at
ImageNet size (hopeless in minutes on a CPU) and then EfficientNet-B7 with
ImageNet weights, which it would download: no network here, and no peer is
given pretrained weights in this comparison. Each trial trains with AutoKeras's
own early stopping (patience 10 on val_loss); a callback stops the running
trial, and the search, when the deadline less the time to predict comes.

Validation: a seeded 10% hold-out passed as validation_data (kcnn and fastai
hold out 10% too). Because the early stopping and the validation data are
given, AutoKeras does not refit the best configuration on all the data after
the search: the test set is predicted with the best trial's checkpoint (its
best epoch by val_loss). A refit would take about as long as the search's best
trial again, which a fixed budget has no room for.
"""

import time

START = time.time()  # the budget counts from here, imports included

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from common import (  # this folder is on sys.path: the script runs from it
    runner_parser,
    write_json,
)

VALIDATION = 0.1
BATCH = 32  # AutoKeras's default batch size, for fit and predict


def parse() -> argparse.Namespace:
    parser = runner_parser(__doc__.split("\n")[0])
    parser.add_argument("--max-trials", type=int, default=100, help="A cap; the deadline usually ends the search.")
    return parser.parse_args()


def patch_dense_units(keras) -> None:
    """AutoKeras 3.0.0's classification head builds Dense(units=np.int64(n_classes))
    (the class count comes from its data analyser), which Keras >= 3.13 refuses
    ("units must be a positive integer"). Rather than edit site-packages, Dense is
    given plain ints here, at run time, for this process only."""
    dense_init = keras.layers.Dense.__init__
    if getattr(dense_init, "_int_units", False):
        return

    def init(self, units, *args, **kwargs):
        dense_init(self, int(units), *args, **kwargs)

    init._int_units = True
    keras.layers.Dense.__init__ = init


def deadline_callback(keras, deadline: float, n_test: int):
    """A callback that stops the running trial, and the search after it, once the
    deadline less the time to predict n_test images has come."""

    class Deadline(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.oracle = None  # set once the tuner exists
            self.batch_seconds: list[float] = []
            self.fired_in_trial = None
            self._batch_start = 0.0

        def __deepcopy__(self, memo):  # the tuner deep-copies callbacks per trial: keep this one shared
            return self

        def reserve(self) -> float:
            """Seconds to keep for loading the best model and predicting: a forward pass
            costs about a third of a training step; counted at half to be safe."""
            batch = float(np.median(self.batch_seconds)) if self.batch_seconds else 0.05
            return 8.0 + 0.5 * batch * np.ceil(n_test / BATCH)

        def on_train_batch_begin(self, batch, logs=None):
            self._batch_start = time.time()

        def on_train_batch_end(self, batch, logs=None):
            if batch > 0:  # the first batch of a fit traces the graph
                self.batch_seconds = (self.batch_seconds + [time.time() - self._batch_start])[-200:]
            if time.time() >= deadline - self.reserve():
                self.model.stop_training = True
                if self.oracle is not None and self.fired_in_trial is None:
                    self.fired_in_trial = len(self.oracle.trials)
                    self.oracle.max_trials = len(self.oracle.trials)  # the search loop stops before the next trial

        def on_train_begin(self, logs=None):  # a trial that starts with no time left stops after one batch
            self.on_train_batch_end(0)

    return Deadline()


def trials_summary(oracle) -> tuple[str, str]:
    trials = list(oracle.trials.values())
    best = oracle.get_best_trials(1)
    if not best:
        return f"{len(trials)} trials", "no completed trial"
    best = best[0]
    val = best.metrics.get_best_value("val_accuracy") if best.metrics.exists("val_accuracy") else float("nan")
    described = (f"best trial {int(best.trial_id) + 1}: val_loss {best.score:.4f} at epoch {best.best_step + 1} "
                 f"(its best val acc {val:.4f})")
    return f"{len(trials)} trial{'s' * (len(trials) != 1)}", described


def main() -> None:
    args = parse()
    deadline = START + args.minutes * 60

    import autokeras as ak
    import keras
    from autokeras.tuners import greedy, task_specific

    patch_dense_units(keras)
    keras.utils.set_random_seed(args.seed)

    with np.load(args.data) as data:
        x, y, x_test = data["x_train"], data["y_train"].ravel().astype(np.int64), data["x_test"]
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(y))
    n_val = max(1, round(len(y) * VALIDATION))
    val, train = order[:n_val], order[n_val:]

    # ImageClassifier's first default trial, less the block-type choice the fixed block no longer has.
    first = {k: v for k, v in task_specific.IMAGE_CLASSIFIER[0].items() if k != "image_block_1/block_type"}

    class VanillaImageTuner(greedy.Greedy):
        def __init__(self, **kwargs):
            super().__init__(initial_hps=[first], **kwargs)

    folder = Path(tempfile.mkdtemp(prefix="autokeras-"))
    try:
        inputs = ak.ImageInput()
        outputs = ak.ClassificationHead()(ak.ImageBlock(block_type="vanilla")(inputs))
        model = ak.AutoModel(inputs=inputs, outputs=outputs, tuner=VanillaImageTuner, max_trials=args.max_trials,
                             directory=folder, project_name="peers", overwrite=True, seed=args.seed)
        stop = deadline_callback(keras, deadline, len(x_test))
        stop.oracle = model.tuner.oracle
        early = keras.callbacks.EarlyStopping(patience=10, min_delta=1e-4)  # AutoKeras's own default, given
        search_start = time.time()
        model.fit(x[train], y[train], validation_data=(x[val], y[val]), epochs=None, batch_size=BATCH,
                  callbacks=[early, stop], verbose=2)
        search_seconds = time.time() - search_start
        trials, best = trials_summary(model.tuner.oracle)
        predictions = np.asarray(model.predict(x_test, batch_size=BATCH, verbose=0)).ravel()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    cut = (f"search stopped by the deadline during trial {stop.fired_in_trial}" if stop.fired_in_trial
           else "search ended by itself")
    how = (f"AutoKeras {ak.__version__} (keras {keras.__version__}), greedy search over ImageBlock(vanilla) from "
           f"ImageClassifier's first default trial: {trials} in {search_seconds / 60:.1f} min, {cut}; {best}; "
           f"EarlyStopping(patience=10), {len(train)} train / {len(val)} hold-out, batch {BATCH}; "
           f"predicted with the best trial's checkpoint (no refit on all data), no TTA")
    write_json(args.out, {"tool": "autokeras", "predictions": [int(p) for p in predictions],
                          "wall_seconds": round(time.time() - START, 1), "how": how})
    print(how, file=sys.stderr)


if __name__ == "__main__":
    main()
