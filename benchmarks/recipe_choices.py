"""Which recipe should `kcnn train` use by default? Each choice of the default
recipe, varied one at a time, trained for the same wall-clock time on the same
split, judged on validation accuracy (the test set is not looked at here:
benchmarks/recipe.py reports it once, for the choice made).

    python benchmarks/recipe_choices.py [--data mnist|cifar] [--seconds 60] [--rows 5000]
                                        [--val-fraction 0.2] [--only 'NAME;NAME'] [--seeds 1]

--data takes MNIST (mnist.npz, its first --rows training images) or the CIFAR-10
subset (cifar10_subset.npz), from the real datasets' folder ($KCNN_DATA_DIR). Every variant gets `--epochs auto` and a time allowance of
--seconds, so it trains as many epochs as fit (the number is printed).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from real_data import DATA_DIR, need  # the real datasets: $KCNN_DATA_DIR

from kaggle_cnn import api
from kaggle_cnn.config import TrainConfig
from kaggle_cnn.data.split import make_split, split_arrays

# name -> settings over the candidate default (TrainConfig's own defaults)
VARIANTS = {
    "default": {},
    "no augmentation": {"augment": None},
    "+ random erasing": {"augment": "shift=0.1,rotation=10,erase=0.5"},
    "shift only": {"augment": "shift=0.1"},
    "no label smoothing": {"label_smoothing": 0.0},
    "adam, no weight decay": {"optimizer": "adam", "weight_decay": None},
    "plateau schedule": {"schedule": "plateau"},
    "constant rate": {"schedule": "constant"},
    "lr 1e-3": {"lr": 1e-3},
    "ema": {"ema": True},
    "width 16": {"model_options": {"width": 16}},
    "width 48": {"model_options": {"width": 48}},
    "2 blocks a stage": {"model_options": {"blocks": 2}},
    "no residual": {"model_options": {"residual": False}},
    "batch 64": {"batch_size": 64},
    "kaggle_ensemble with this recipe": {"model": "kaggle_ensemble"},
    "width 16, no augmentation": {"model_options": {"width": 16}, "augment": None},
    "width 16, shift only": {"model_options": {"width": 16}, "augment": "shift=0.1"},
    "width 16, no augmentation, no label smoothing": {"model_options": {"width": 16}, "augment": None,
                                                      "label_smoothing": 0.0},
    "kaggle_ensemble, no augmentation": {"model": "kaggle_ensemble", "augment": None},
    "kaggle28 preset": {"preset": "kaggle28"},
}


def load(name: str, rows: int):
    import tempfile

    source = np.load(need(DATA_DIR / ("mnist.npz" if name == "mnist" else "cifar10_subset.npz")))
    folder = Path(tempfile.mkdtemp(prefix="kcnn-recipe-"))
    path = folder / f"{name}.npz"
    np.savez(path, x_train=source["x_train"][:rows], y_train=source["y_train"][:rows], x_test=source["x_test"],
             y_test=source["y_test"])
    return api.load_data(path)


def config_of(variant: dict) -> TrainConfig:
    settings = dict(variant)
    preset = settings.pop("preset", None)
    base = api.preset_settings(preset) if preset else {}
    return TrainConfig.from_settings({**base, **{k: v for k, v in settings.items() if k != "model_options"},
                                      **settings.get("model_options", {}), "epochs": "auto"})


def main() -> None:
    from kaggle_cnn.training.fit import fit_one

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=("mnist", "cifar"), default="mnist")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--only", default=None, help="variant names, separated by semicolons")
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()

    dataset = load(args.data, args.rows)
    val_rows = make_split(dataset.y_train, args.val_fraction, 0, classes=dataset.classes, where="y_train")
    arrays = split_arrays(dataset, val_rows)
    chosen = args.only.split(";") if args.only else list(VARIANTS)
    print(f"{args.data}: {len(arrays['x_train'])} training, {len(arrays['x_val'])} validation images; "
          f"{args.seconds:g} s a run, {args.seeds} seed(s)")
    print("| variant | val accuracy | epochs | seconds |\n| --- | --- | --- | --- |", flush=True)
    for name in chosen:
        config = config_of(VARIANTS[name])
        scores, epochs, took = [], [], []
        for seed in range(args.seeds):
            start = time.perf_counter()
            result = fit_one(config, seed, n_classes=dataset.n_classes, x_test=dataset.x_test[:0],
                             seconds=args.seconds, **arrays)
            took.append(time.perf_counter() - start)
            scores.append(result.val_accuracy)
            epochs.append(len(result.history))
        print(f"| {name} | {np.mean(scores):.4f} | {np.mean(epochs):.1f} | {np.mean(took):.0f} |", flush=True)


if __name__ == "__main__":
    main()
