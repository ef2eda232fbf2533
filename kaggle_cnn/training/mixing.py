"""--mix: training batches made of two images each, and labels mixed in the same
proportion.

    mixup=A     each image is lam x itself + (1 - lam) x another image of the batch
                (Zhang et al., 2018)
    cutmix=A    a rectangle of another image of the batch is pasted in, its area a
                share 1 - lam of the image (Yun et al., 2019)

lam is drawn per batch from Beta(A, A); A in (0, 1] (0.2 for mixup and 1 for CutMix
are the papers' usual choices). With both, each batch gets one of the two, half the
time each. Mixed labels are class probabilities, so the loss is cross-entropy on
those (kaggle_cnn.training.schedules.loss); validation and prediction see images as
they are.
"""

from __future__ import annotations

from kaggle_cnn.config import number, parse_text
from kaggle_cnn.errors import InputError

KINDS = ("mixup", "cutmix")
ALPHA = number(0, 1, low_open=True)


def parse_mix(text: str) -> dict[str, float]:
    """'mixup=0.2,cutmix=1' -> {'mixup': 0.2, 'cutmix': 1.0}."""
    spec: dict[str, float] = {}
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        name, sep, value = part.partition("=")
        if name not in KINDS or not sep:
            raise InputError(f"--mix {part!r}: use mixup=A and/or cutmix=A, A in (0, 1] (e.g. mixup=0.2,cutmix=1)")
        alpha = ALPHA.convert(parse_text(value))
        if alpha is None:
            raise InputError(f"--mix {part!r}: {name} must be {ALPHA.describe()}")
        spec[name] = alpha
    if not spec:
        raise InputError("--mix needs mixup=A or cutmix=A, e.g. --mix mixup=0.2")
    return spec


def check_mix(text: str, image_shape) -> None:
    """Refuse a --mix its images cannot take: CutMix needs at least 2x2 pixels."""
    spec = parse_mix(text)
    if "cutmix" in spec and min(image_shape[:2]) < 2:
        shape = "x".join(str(d) for d in image_shape)
        raise InputError(f"--mix cutmix: {shape} images have no rectangle to paste; use mixup")


def mixed_batches(stream, text: str, n_classes: int, seed: int):
    """A tf.data stream of (images, labels) batches, mixed: labels become class
    probabilities (a binary model's: the second class's probability)."""
    import tensorflow as tf

    spec = parse_mix(text)
    binary = n_classes == 2

    def targets(labels):
        if labels.dtype.is_floating:  # already class probabilities: a teacher's targets
            return tf.cast(labels, tf.float32)
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        return tf.cast(labels, tf.float32) if binary else tf.one_hot(labels, n_classes)

    def beta(alpha):
        first = tf.random.gamma([], alpha)
        return first / (first + tf.random.gamma([], alpha))

    def mixup(images, labels, partner, partner_labels):
        lam = beta(spec["mixup"])
        return lam * images + (1 - lam) * partner, lam * labels + (1 - lam) * partner_labels

    def cutmix(images, labels, partner, partner_labels):
        lam = beta(spec["cutmix"])
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        cut_h = tf.cast(tf.cast(height, tf.float32) * tf.sqrt(1 - lam), tf.int32)
        cut_w = tf.cast(tf.cast(width, tf.float32) * tf.sqrt(1 - lam), tf.int32)
        top = tf.random.uniform([], 0, height - cut_h + 1, dtype=tf.int32)
        left = tf.random.uniform([], 0, width - cut_w + 1, dtype=tf.int32)
        rows = tf.logical_and(tf.range(height) >= top, tf.range(height) < top + cut_h)
        cols = tf.logical_and(tf.range(width) >= left, tf.range(width) < left + cut_w)
        inside = tf.logical_and(rows[:, None], cols[None, :])[None, :, :, None]
        kept = 1 - tf.cast(cut_h * cut_w, tf.float32) / tf.cast(height * width, tf.float32)
        return tf.where(inside, partner, images), kept * labels + (1 - kept) * partner_labels

    def mix(images, labels):
        images = tf.cast(images, tf.float32)
        labels = targets(labels)
        order = tf.random.shuffle(tf.range(tf.shape(images)[0]))
        pair = (images, labels, tf.gather(images, order), tf.gather(labels, order))
        if len(spec) == 2:
            return tf.cond(tf.random.uniform([]) < 0.5, lambda: mixup(*pair), lambda: cutmix(*pair))
        return mixup(*pair) if "mixup" in spec else cutmix(*pair)

    tf.random.set_seed(seed)
    return stream.map(mix, num_parallel_calls=tf.data.AUTOTUNE)
