"""How fast does the default network train on this CPU, and what makes it faster?

Times training epochs of the default recipe's network (small_resnet, at the
widths a time budget trains) on real images, side by side in one process, for
each variant against the default way kcnn trains on a CPU (float32, no XLA,
batch 128, arrays handed to Keras):

- xla: the training step compiled with XLA (`jit_compile=True`);
- bfloat16: the mixed_bfloat16 policy (--mixed-precision on a CPU);
- batch 64 / 256: another batch size (same images, so the same epoch);
- tf.data: a shuffled, batched, prefetched tf.data pipeline instead of arrays.

Each variant is built and compiled fresh, trains one epoch to warm up (tracing,
thread pools), then --epochs timed epochs; variants take turns for --rounds
rounds and the median images a second of each is reported, with its ratio to
the default measured in the same round.

    python benchmarks/cpu_speed.py [--sets mnist,cifar] [--rows 4096] [--widths 32,16]
                                   [--epochs 1] [--rounds 3] [--variants xla,bfloat16,batch64,...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from machine import machine
from sets import set_names, write_set

from kaggle_cnn import api
from kaggle_cnn.api import train_config
from kaggle_cnn.training.fit import build_model, compile_model, dtype_policy, keras

VARIANTS = {  # name: (settings changed, xla, precision, pipeline)
    "default": ({}, False, "float32", "arrays"),
    "xla": ({}, True, "float32", "arrays"),
    "bfloat16": ({}, False, "mixed_bfloat16", "arrays"),
    "batch64": ({"batch_size": 64}, False, "float32", "arrays"),
    "batch256": ({"batch_size": 256}, False, "float32", "arrays"),
    "tf.data": ({}, False, "float32", "tf.data"),
}


def images(name: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `rows` training images of set `name`, read and scaled as kcnn reads them."""
    with tempfile.TemporaryDirectory() as folder:
        data, _ = write_set(name, rows, Path(folder), test_rows=1)
        dataset = api.load_data(data)
    return dataset.x_train, dataset.y_train


def epoch_seconds(variant: str, width: int, x: np.ndarray, y: np.ndarray, epochs: int) -> float:
    """Seconds one timed epoch takes (median of `epochs`), after a warm-up epoch."""
    settings, xla, precision, pipeline = VARIANTS[variant]
    config = replace(train_config({"model": "small_resnet"}), model_options={"width": width}, **settings)
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    with dtype_policy(precision):
        model = build_model(config, x.shape[1:], 10, seed=0)
    compile_model(model, config, config.lr, xla=xla)
    if pipeline == "tf.data":
        import tensorflow as tf

        data = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0)
                .batch(config.batch_size).prefetch(tf.data.AUTOTUNE))
        fit = {"x": data, "shuffle": False}  # the pipeline shuffles
    else:
        fit = {"x": x, "y": y, "batch_size": config.batch_size, "shuffle": True}
    model.fit(**fit, epochs=1, verbose=0)  # warm-up: tracing, compiling, thread pools
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(**fit, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="mnist,cifar")
    parser.add_argument("--rows", type=int, default=4096, help="Training images an epoch.")
    parser.add_argument("--widths", default="32,16", help="small_resnet widths (the budget trains 16 for short attempts).")
    parser.add_argument("--epochs", type=int, default=1, help="Timed epochs a variant each round.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(v for v in VARIANTS if v != "default"))
    args = parser.parse_args()
    variants = ["default", *[v for v in args.variants.split(",") if v != "default"]]
    for variant in variants:
        if variant not in VARIANTS:
            parser.error(f"--variants: {variant} is not one of {', '.join(VARIANTS)}")
    print(f"machine: {machine()}; {args.rows} images an epoch, {args.rounds} rounds")
    print("| set | width | variant | images/s (median) | ratio to default (median of rounds) |\n| --- | --- | --- | --- | --- |")
    for name in set_names(parser, args.sets):
        x, y = images(name, args.rows)
        for width in (int(w) for w in args.widths.split(",")):
            seconds = {variant: [] for variant in variants}
            for _ in range(args.rounds):
                for variant in variants:
                    seconds[variant].append(epoch_seconds(variant, width, x, y, args.epochs))
            for variant in variants:
                ratios = [d / s for d, s in zip(seconds["default"], seconds[variant])]
                print(f"| {name} | {width} | {variant} | {len(x) / statistics.median(seconds[variant]):.0f} | "
                      f"{statistics.median(ratios):.2f}x |", flush=True)


if __name__ == "__main__":
    main()
