"""Does `kcnn train` cost anything over a bare Keras loop?

Trains the same architecture on the same rows, alternating (a) kaggle_cnn's
fit_one (timing and progress callbacks, validation and test predictions) and
(b) a bare compile/fit/predict written as a notebook would, and prints the
median wall time of each and their ratio, measured side by side in one process.

With --jobs J it compares J attempts of `kcnn train --jobs J` (worker processes,
results stored in a workspace) with J bare loops in J worker processes started the
same way, each with its share of the cores.

    python benchmarks/train_overhead.py [--model kaggle_ensemble] [--epochs 2] [--pairs 3] [--jobs 2]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from dataclasses import replace

import numpy as np

from kaggle_cnn.api import train_config
from kaggle_cnn.architectures import build
from kaggle_cnn.data import load_dataset, make_split
from kaggle_cnn.training.fit import TrainConfig, fit_one, keras

# The recipe these figures were measured with (the defaults before the default recipe): --preset kaggle28
KAGGLE28 = train_config({}, preset="kaggle28")


def bare_keras(config: TrainConfig, seed: int, x_train, y_train, x_val, y_val, x_test, n_classes: int) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build(config.model, x_train.shape[1:], n_classes)
    model.compile(optimizer=keras.optimizers.Adam(config.lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=1e-5)
    model.fit(x_train, y_train, batch_size=config.batch_size, epochs=config.epochs,
              validation_data=(x_val, y_val), callbacks=[reduce_lr], verbose=0)
    model.predict(x_val, batch_size=config.batch_size, verbose=0)
    model.predict(x_test, batch_size=config.batch_size, verbose=0)


def kcnn(config: TrainConfig, seed: int, x_train, y_train, x_val, y_val, x_test, n_classes: int) -> None:
    fit_one(config, seed, x_train, y_train, x_val, y_val, x_test, n_classes, on_epoch=lambda epoch, logs: None)


def bare_worker(job) -> None:
    import tensorflow as tf

    config, seed, arrays, n_classes, threads = job
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    bare_keras(config, seed, *arrays, n_classes)


def bare_in_workers(config: TrainConfig, jobs: int, arrays, n_classes: int) -> None:
    from joblib.externals import loky

    from kaggle_cnn.training.devices import cpu_cores, thread_env

    threads = max(1, cpu_cores() // jobs)
    pool = loky.ProcessPoolExecutor(jobs, env=thread_env(threads))
    list(pool.map(bare_worker, [(config, seed, arrays, n_classes, threads) for seed in range(jobs)]))
    pool.shutdown()


def kcnn_jobs(config: TrainConfig, jobs: int, dataset) -> None:
    import tempfile

    from kaggle_cnn import api

    with tempfile.TemporaryDirectory() as folder:
        api.train(dataset, api.Workspace(folder), config, repeat=jobs, execution=api.Execution(jobs=jobs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="kaggle_ensemble")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()

    dataset = load_dataset(None)
    val = make_split(dataset.y_train, 0.1, 0)
    train = np.setdiff1d(np.arange(len(dataset.y_train)), val)
    arrays = (dataset.x_train[train], dataset.y_train[train], dataset.x_train[val], dataset.y_train[val], dataset.x_test)
    config = replace(KAGGLE28, model=args.model, epochs=args.epochs)

    if args.jobs > 1:
        runners = {"kcnn": lambda pair: kcnn_jobs(config, args.jobs, dataset),
                   "bare": lambda pair: bare_in_workers(config, args.jobs, arrays, dataset.n_classes)}
    else:
        bare_keras(config, 0, *arrays, dataset.n_classes)  # warm-up: graph tracing, thread pools
        runners = {"kcnn": lambda pair: kcnn(config, pair, *arrays, dataset.n_classes),
                   "bare": lambda pair: bare_keras(config, pair, *arrays, dataset.n_classes)}
    times = {"kcnn": [], "bare": []}
    for pair in range(args.pairs):
        for name in ("kcnn", "bare") if pair % 2 == 0 else ("bare", "kcnn"):
            gc.collect()
            start = time.perf_counter()
            runners[name](pair)
            times[name].append(time.perf_counter() - start)
    kcnn_median, bare_median = statistics.median(times["kcnn"]), statistics.median(times["bare"])
    # Pair by pair, as farm-bench does: the machine's speed drifts less within a pair.
    pair_ratios = [k / b for k, b in zip(times["kcnn"], times["bare"])]
    jobs = f", {args.jobs} attempts at once in worker processes" if args.jobs > 1 else ""
    print(f"model {args.model}, {args.epochs} epochs on {len(train)} images{jobs}, {args.pairs} pairs (alternating order)")
    print(f"bare Keras loop : median {bare_median:.2f} s  {[round(t, 2) for t in times['bare']]}")
    print(f"kcnn fit_one    : median {kcnn_median:.2f} s  {[round(t, 2) for t in times['kcnn']]}")
    print(f"ratio kcnn/bare : median of pair ratios {statistics.median(pair_ratios):.3f} "
          f"(min {min(pair_ratios):.3f}, max {max(pair_ratios):.3f})")


if __name__ == "__main__":
    main()
