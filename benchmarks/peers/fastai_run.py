"""fastai on one image set within a wall-clock budget, for benchmarks/peers.py.

Run by the fastai venv's Python (benchmarks/peers_setup.sh), not kcnn's:

    /work/peers/fastai/bin/python benchmarks/peers/fastai_run.py \\
        --data SET.npz --minutes 2 --out RESULT.json [--seed 0] [--threads 2]

SET.npz holds x_train (N,H,W) or (N,H,W,3) uint8, y_train (N,) int and x_test.
RESULT.json gets {"tool", "predictions", "wall_seconds", "how"}, written
atomically; the budget counts from this script's start, imports included.

The recipe is what fastai's documentation and course do for a model trained
from scratch: xresnet18 (c_in = the images' channels, n_out = the classes),
lr_find() for the learning rate (its "valley" suggestion), fit_one_cycle,
aug_transforms (do_flip=False for grey digits, as fastai's MNIST examples; the
defaults, flips included, for colour images), label smoothing
(LabelSmoothingCrossEntropyFlat), and learn.tta() on the test set. fastai holds
out 10% of the training images (RandomSplitter(0.1, seed)).

The number of epochs is what the budget holds: a few timed training steps
(then lr_find's own pass) give the seconds a batch takes; the epochs are the
time left, less a reserve for TTA (4 augmented passes and a plain one over the
test images; one plain pass instead when TTA would take over a third of the
time left), divided by an epoch's estimated seconds. A callback cancels
training if the deadline is reached anyway; if too little time is left for
TTA, the test set gets one plain pass. The JSON's "how" says which happened.

Images come straight from the arrays: the DataBlock's items are row numbers and
get_x returns PILImage(BW).create(array), so no PNG is written or decoded (the
same item and batch transforms a folder of images would get). num_workers=0:
on a 2-core machine, loader processes would only take cores from training.
"""

import time

START = time.time()  # the budget counts from here, imports included

import argparse
import itertools
import math
import sys
import tempfile

import numpy as np
from common import (  # this folder is on sys.path: the script runs from it
    runner_parser,
    write_json,
)

VALIDATION = 0.1
BATCH = 64  # fastai's default
TTA_PASSES = 5  # learn.tta(n=4): four augmented passes and one plain
FORWARD = 0.35  # a forward pass's share of a training step's seconds (about a third), a little padded


def parse() -> argparse.Namespace:
    parser = runner_parser(__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads: the machine's cores.")
    return parser.parse_args()


def note(message: str) -> None:
    print(f"[{time.time() - START:6.1f} s] {message}", file=sys.stderr, flush=True)


def main() -> None:
    args = parse()
    deadline = START + args.minutes * 60

    import fastai
    import torch
    from fastai.vision.all import (
        Callback,
        CancelFitException,
        CategoryBlock,
        DataBlock,
        ImageBlock,
        LabelSmoothingCrossEntropyFlat,
        Learner,
        Normalize,
        PILImage,
        PILImageBW,
        RandomSplitter,
        accuracy,
        aug_transforms,
        set_seed,
        xresnet18,
    )

    torch.set_num_threads(args.threads)
    set_seed(args.seed)

    with np.load(args.data) as data:
        x_train, y_train, x_test = data["x_train"], data["y_train"].ravel(), data["x_test"]
    grey = x_train.ndim == 3
    images = np.concatenate([x_train, x_test])  # one array: training rows, then test rows
    labels = np.concatenate([y_train, np.zeros(len(x_test), y_train.dtype)])  # test labels unused
    scaled = x_train.astype(np.float32) / 255
    axes = (0, 1, 2)
    mean, std = scaled.mean(axis=axes).reshape(-1).tolist(), scaled.std(axis=axes).reshape(-1).tolist()
    del scaled

    block = DataBlock(
        blocks=(ImageBlock(cls=PILImageBW if grey else PILImage), CategoryBlock),
        get_x=lambda i: images[i], get_y=lambda i: labels[i],
        splitter=RandomSplitter(VALIDATION, seed=args.seed),
        batch_tfms=[*aug_transforms(do_flip=not grey), Normalize.from_stats(mean, std)])
    dls = block.dataloaders(list(range(len(x_train))), bs=BATCH, num_workers=0)
    test_dl = dls.test_dl(list(range(len(x_train), len(images))), num_workers=0)
    n_classes = len(dls.vocab)
    model = xresnet18(n_out=n_classes, c_in=1 if grey else 3)

    class Deadline(Callback):
        """Cancels training (never prediction) once the deadline less the prediction reserve has come."""
        order = 0
        reserve = 0.0
        armed = False  # off during lr_find, which its step count bounds
        fired = False

        def after_batch(self):
            if self.armed and self.training and time.time() >= deadline - self.reserve:
                self.fired = True
                raise CancelFitException()

    stop = Deadline()
    # path: where lr_find keeps the weights it restores (models/_tmp.pth), away from the working directory.
    scratch = tempfile.TemporaryDirectory(prefix="fastai-")
    learn = Learner(dls, model, loss_func=LabelSmoothingCrossEntropyFlat(), metrics=accuracy, cbs=[stop],
                    path=scratch.name)

    # Seconds a batch takes (loading, augmenting, forward, backward), before any fitting. The first few are
    # slow while oneDNN builds its kernels for each layer's shapes: the median of the later half counts.
    learn.model.train()
    seconds = []
    for xb, yb in itertools.islice(dls.train, 6):
        tic = time.time()
        learn.loss_func(learn.model(xb), yb).backward()
        learn.model.zero_grad()
        seconds.append(time.time() - tic)
    step = float(np.median(seconds[len(seconds) // 2:]))
    n_train, n_valid, n_test = len(dls.train), len(dls.valid), math.ceil(len(x_test) / BATCH)
    tta_seconds = lambda step, passes=TTA_PASSES: passes * n_test * step * FORWARD + 2
    note(f"data and model ready; a training step takes {step:.3f} s, {n_train} steps an epoch")

    # lr_find on about 10% of the budget, fastai's 100 steps when they fit, never under 50: with 20 steps its
    # valley was noise (6e-5 on 4,500 MNIST digits, where 50 and 100 steps gave 3e-3 and 2e-3). Its pass, far
    # longer than the few steps above, times a step again.
    num_it = int(min(100, max(50, 0.1 * args.minutes * 60 / step)))
    tic = time.time()
    with learn.no_bar():
        lr = float(learn.lr_find(num_it=num_it, show_plot=False).valley)
    found = len(learn.recorder.losses)
    if found >= 10:  # lr_find's pace, over many more steps, is the better estimate
        step = (time.time() - tic) / found

    note(f"lr_find: {found} steps, valley {lr:.2e}")
    # TTA's five passes over the test set are planned for when they take at most a third of the time left
    # (10,000 test images at 2 minutes would leave no epoch); else one plain pass is.
    epoch = step * (n_train + FORWARD * n_valid)
    left = deadline - time.time() - (2 + 0.02 * args.minutes * 60)  # less a margin for the unforeseen
    reserve = tta_seconds(step) if tta_seconds(step) <= left / 3 else tta_seconds(step, passes=1)
    epochs = max(1, int((left - reserve) // epoch))
    stop.reserve, stop.armed = reserve, True
    note(f"fit_one_cycle: {epochs} epochs of about {epoch:.1f} s, {reserve:.0f} s kept to predict")
    tic = time.time()
    with learn.no_bar():
        learn.fit_one_cycle(epochs, lr_max=lr)
    fit_seconds = time.time() - tic
    trained = len(learn.recorder.values)  # epochs that finished (fewer if the deadline cut training)
    valid_acc = float(learn.recorder.values[-1][2]) if trained else float("nan")

    # TTA if its passes fit in what is left, at the pace the fit actually ran; else one plain pass.
    if trained:
        step = fit_seconds / (trained * (n_train + FORWARD * n_valid))
    with learn.no_bar():
        if deadline - time.time() >= tta_seconds(step) * 1.1:
            probabilities, _ = learn.tta(dl=test_dl, n=TTA_PASSES - 1)
            predicted = f"tta(n={TTA_PASSES - 1}, beta=0.25)"
        else:
            probabilities, _ = learn.get_preds(dl=test_dl)
            predicted = "one plain pass (no time for TTA)"
    predictions = [int(dls.vocab[i]) for i in probabilities.argmax(dim=1).tolist()]

    cut = f", cut by the deadline after {trained}" if stop.fired else ""
    scratch.cleanup()
    how = (f"fastai {fastai.__version__} (torch {torch.__version__}, {args.threads} threads): xresnet18 from scratch, "
           f"{len(dls.train_ds)} train / {len(dls.valid_ds)} valid, bs {BATCH}, "
           f"aug_transforms(do_flip={not grey}), label smoothing 0.1; lr_find({found} its) valley {lr:.2e}; "
           f"fit_one_cycle {epochs} epoch{'s' * (epochs != 1)}{cut} "
           f"(est. {epoch:.1f} s each, took {fit_seconds / max(trained, 1):.1f}), "
           f"valid acc {valid_acc:.4f}; test: {predicted}")
    write_json(args.out, {"tool": "fastai", "predictions": predictions,
                          "wall_seconds": round(time.time() - START, 1), "how": how})
    print(how, file=sys.stderr)


if __name__ == "__main__":
    main()
