"""Real-data figures: the models and data kinds beyond the 28x28 demo, trained
by kcnn on real images, scored on answers the runs never saw.

    basic_cnn      CIFAR-10 subset (cifar10_subset.npz): 4,000 train, 1,000 test
    vgg16          cats vs dogs (catsdogs/, 800 JPEGs) at 64x64, --weights none
    mobilenet_v2   the same, --weights none
    resnet50       grey MNIST digits (mnist.npz) repeated to 3 channels, 28 -> 32 px, --weights none

Then the cost of streaming: one model trained on the cats/dogs folder decoded
every epoch through tf.data, decoded once and cached, and from arrays decoded
beforehand, epoch times side by side in one run (ratio > 1: slower than arrays).

    python benchmarks/real_data.py              # everything (about 15 minutes on 2 CPU cores)
    python benchmarks/real_data.py --only cifar --epochs 10
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from kaggle_cnn import api
from kaggle_cnn.api import train_config
from kaggle_cnn.store.workspace import Workspace
from kaggle_cnn.training.fit import TrainConfig

# The recipe these figures were measured with (the defaults before the default recipe): --preset kaggle28
KAGGLE28 = train_config({}, preset="kaggle28")

# The real datasets (mnist.npz, cifar10_subset.npz, catsdogs/): --data-dir, $KCNN_DATA_DIR, or the
# data folder that sits beside a checkout of this repository.
DATA_DIR = Path(os.environ.get("KCNN_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def need(path: Path) -> Path:
    if not path.exists():
        sys.exit(f"{path} is missing: this benchmark needs the real datasets: pass --data-dir DIR")
    return path


def cifar(tmp: Path) -> tuple[Path, Path]:
    with np.load(need(DATA_DIR / "cifar10_subset.npz")) as data:
        np.savez(tmp / "cifar.npz", x_train=data["x_train"], y_train=data["y_train"].ravel(), x_test=data["x_test"])
        answers = pd.DataFrame({"id": np.arange(1, len(data["y_test"]) + 1), "label": data["y_test"].ravel()})
    answers.to_csv(tmp / "cifar_answers.csv", index=False)
    return tmp / "cifar.npz", tmp / "cifar_answers.csv"


def mnist(tmp: Path, n_train: int, n_test: int) -> tuple[Path, Path]:
    with np.load(need(DATA_DIR / "mnist.npz")) as data:
        np.savez(tmp / "mnist.npz", x_train=data["x_train"][:n_train], y_train=data["y_train"][:n_train],
                 x_test=data["x_test"][:n_test])
        answers = pd.DataFrame({"id": np.arange(1, n_test + 1), "label": data["y_test"][:n_test]})
    answers.to_csv(tmp / "mnist_answers.csv", index=False)
    return tmp / "mnist.npz", tmp / "mnist_answers.csv"


def run(name: str, data: Path, answers: Path, config: TrainConfig, tmp: Path, **load) -> dict:
    from kaggle_cnn.data import load_dataset

    dataset = load_dataset(data, **load)
    workspace = Workspace(tmp / f"ws-{name}")
    start = time.perf_counter()
    summary = api.train_many(dataset, workspace, config, keep_above=0.0)
    seconds = time.perf_counter() - start
    (run_,) = workspace.runs()
    test = api.score(workspace.submissions_dir / f"{run_.run_id}.csv", answers)["accuracy"]
    row = {"case": name, "model": config.model, "image": "x".join(map(str, dataset.image_shape)),
           "train images": run_.record["data"]["n_train"], "epochs": config.epochs,
           "params": f"{run_.record['params']:,}", "val acc": round(summary.attempts[0].val_accuracy, 4),
           "test acc": round(test, 4), "s/epoch": round(summary.attempts[0].epoch_train_seconds, 1),
           "total s": round(seconds, 1)}
    print(row, flush=True)
    return row


def streaming_cost(tmp: Path, epochs: int) -> None:
    """Epoch seconds on the cats/dogs folder, three ways, alternated: decoded every
    epoch (streamed, what folders above MEMORY_CACHE_BYTES get), decoded once and
    cached by tf.data (what small folders get), and arrays decoded beforehand
    (a bare Keras loop's input)."""
    from kaggle_cnn.data import load_dataset
    from kaggle_cnn.data.loaders import folders
    from kaggle_cnn.training.fit import fit_one

    dataset = load_dataset(need(DATA_DIR / "catsdogs"), image_size=(64, 64))
    split, _ = api.plan_split(Workspace(tmp / "ws-stream"), dataset, None)
    rows = split.train_indices(len(dataset.y_train))
    files = {"x_train": dataset.x_train[rows], "y_train": dataset.y_train[rows],
             "x_val": dataset.x_train[split.val_indices], "y_val": split.val_labels}
    arrays = {**files, "x_train": np.asarray(files["x_train"]), "x_val": np.asarray(files["x_val"])}
    config = replace(KAGGLE28, model="basic_cnn", epochs=epochs, batch_size=32)
    limit = folders.MEMORY_CACHE_BYTES
    ratios: dict[str, list[float]] = {"streamed": [], "cached": []}
    for repeat in range(3):
        seconds = {}
        for kind, inputs, cache in (("streamed", files, 0), ("cached", files, limit), ("in memory", arrays, limit)):
            folders.MEMORY_CACHE_BYTES = cache
            result = fit_one(config, repeat, x_test=dataset.x_test[:0], n_classes=2, **inputs)
            seconds[kind] = float(np.median([row["train_seconds"] for row in result.history[1:]]))  # after tracing
        folders.MEMORY_CACHE_BYTES = limit
        for kind, values in ratios.items():
            values.append(seconds[kind] / seconds["in memory"])
        print(f"repeat {repeat + 1}: " + ", ".join(f"{k} {v:.2f} s/epoch" for k, v in seconds.items()), flush=True)
    for kind, values in ratios.items():
        print(f"{kind} / in-memory epoch time: median ratio {np.median(values):.3f} "
              f"(min {min(values):.3f}, max {max(values):.3f})")


def main() -> None:
    global DATA_DIR  # --data-dir replaces the default for every case
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="Folder with the real datasets.")
    parser.add_argument("--only", choices=["cifar", "catsdogs", "mnist", "streaming"], default=None)
    parser.add_argument("--epochs", type=int, default=None, help="Override every case's epochs.")
    args = parser.parse_args()
    DATA_DIR = args.data_dir
    epochs = (lambda default: args.epochs or default)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if args.only in (None, "cifar"):
            data, answers = cifar(tmp)
            rows.append(run("CIFAR-10 subset", data, answers,
                            replace(KAGGLE28, model="basic_cnn", epochs=epochs(15), batch_size=64,
                                        model_options={"width1": 64, "width2": 128, "width3": 128,
                                                       "dense_units": 256}), tmp))
        if args.only in (None, "catsdogs"):
            pets = need(DATA_DIR / "catsdogs")
            answers = tmp / "catsdogs_answers.csv"
            from kaggle_cnn.data.loaders.folders import folder_answers

            ids, labels = folder_answers(pets)
            pd.DataFrame({"file": ids, "label": labels}).to_csv(answers, index=False)
            base = replace(KAGGLE28, epochs=epochs(15), batch_size=32, augment="hflip,rotation=10,zoom=0.1")
            for model, lr in (("vgg16", 1e-4), ("mobilenet_v2", 1e-3)):
                config = replace(base, model=model, lr=lr, model_options={"weights": "none"})
                rows.append(run(f"cats vs dogs 64px ({model})", pets, answers, config, tmp, image_size=(64, 64)))
        if args.only in (None, "mnist"):
            data, answers = mnist(tmp, 6000, 2000)
            rows.append(run("MNIST into resnet50", data, answers,
                            replace(KAGGLE28, model="resnet50", epochs=epochs(3), batch_size=64,
                                        model_options={"weights": "none"}), tmp))
        if rows:
            print()
            print(pd.DataFrame(rows).to_string(index=False))
        if args.only in (None, "streaming"):
            print()
            streaming_cost(tmp, epochs(6))


if __name__ == "__main__":
    main()
