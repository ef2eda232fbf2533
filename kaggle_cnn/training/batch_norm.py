"""Batch normalisation after training: its moving statistics measured again for
the weights the model ends with."""

from __future__ import annotations

from kaggle_cnn.backend import load_keras

keras = load_keras()

RECALIBRATION_BATCHES = 20


def recalibrate_batch_norm(model, train_input, batches: int = RECALIBRATION_BATCHES) -> None:
    """Batch normalisation's moving statistics, measured again on training batches
    for the final weights (a plain average over `batches`, as weight averaging's
    bn_update does). Its running average starts from variance 1 and forgets it by
    0.9 a step: on 0..1 images whose activations vary by 0.005, a run of a few dozen
    steps kept statistics several times too large, and scored 0.18 where the same
    weights in training mode scored 0.90. Costs about as much as a few training steps."""
    norms = [layer for layer in _all_layers(model)
             if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]
    if not norms:
        return
    momenta = [layer.momentum for layer in norms]
    try:
        for count, images in enumerate(_training_images(train_input, batches)):
            for layer in norms:  # the k-th batch gets weight 1/(k+1): a plain average
                layer.momentum = count / (count + 1)
            model(images, training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum


def _all_layers(model) -> list:
    found = []
    for layer in model.layers:
        found.append(layer)
        if hasattr(layer, "layers"):
            found.extend(_all_layers(layer))
    return found


def _training_images(train_input, batches: int):
    """Up to `batches` batches of training images from what model.fit was given."""
    if isinstance(train_input, dict) and "y" in train_input:  # arrays
        x, size = train_input["x"], train_input["batch_size"]
        for start in range(0, min(len(x), batches * size), size):
            yield x[start:start + size]
        return
    stream = train_input["x"] if isinstance(train_input, dict) else train_input
    for images, _ in stream.take(batches):
        yield images


class FreshStatistics(keras.callbacks.Callback):
    """Batch normalisation's moving statistics, measured on a few training batches
    after the first step and before each validation of a short run (under
    `short_steps` steps so far). Its running average starts at variance 1 and
    follows weights that move fast early on, so a short run's validation saw a
    broken network: CIFAR, 8 steps an epoch, 0.10 validation accuracy for 3 epochs
    while training accuracy rose to 0.35; --epochs auto then kept the first epoch."""

    def __init__(self, train_input, batches: int = 3, short_steps: int = 200):
        super().__init__()
        self.train_input, self.batches, self.short_steps = train_input, batches, short_steps
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == 1:
            recalibrate_batch_norm(self.model, self.train_input, self.batches)

    def on_test_begin(self, logs=None):
        if 0 < self.steps < self.short_steps:
            recalibrate_batch_norm(self.model, self.train_input, self.batches)
