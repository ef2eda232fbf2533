"""predict.py of an inference bundle (`kcnn export-inference`): the vote's submission
from the competition's test data, with TensorFlow (Keras 3), numpy and pandas only.

    python predict.py --test /kaggle/input/COMPETITION --out submission.csv

bundle.json beside this file says what to read and how to combine the models. The
test images become exactly the arrays kcnn trained and predicted on; the rules
below are kcnn's (kaggle_cnn/ensemble/rules.py), line for line, so the file is the
one `kcnn vote` wrote for the same test data. This file must never import kaggle_cnn.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


class Refused(Exception):
    """Bad input: one line, exit 2."""


# -- the vote's rules (mirroring kaggle_cnn/ensemble/rules.py) --------------------------


def average_probabilities(proba, weights, geometric=False, clip=1e-15):
    weights = np.asarray(weights, dtype=np.float64)
    active = np.flatnonzero(weights > 0)
    total = weights[active].sum()
    if geometric:
        logs = sum(weights[m] * np.log(np.clip(proba[m], clip, 1.0)) for m in active) / total
        mean = np.exp(logs - logs.max(axis=1, keepdims=True))
    else:
        mean = sum(weights[m] * proba[m] for m in active) / total
    return mean / mean.sum(axis=1, keepdims=True)


def probability_vote(proba, weights, geometric=False):
    mean = average_probabilities(proba, weights, geometric)
    return (mean == mean.max(axis=1, keepdims=True)).argmax(axis=1)


def weighted_vote(votes, n_classes, weights, proba, scores):
    votes = np.asarray(votes, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    active = np.flatnonzero(weights > 0)
    n_rows = votes.shape[1]
    counts = np.zeros((n_rows, n_classes), dtype=np.float64)
    for member in active:
        np.add.at(counts, (np.arange(n_rows), votes[member]), weights[member])
    tied = np.isclose(counts, counts.max(axis=1, keepdims=True), rtol=0, atol=1e-9)
    predictions = tied.argmax(axis=1)
    rows = np.flatnonzero(tied.sum(axis=1) > 1)
    stored = [proba[m] for m in active if proba[m] is not None]
    if rows.size and stored:  # (1) the highest mean probability among the tied classes
        mean = np.where(tied[rows], np.mean([p[rows] for p in stored], axis=0), -np.inf)
        decided = (mean == mean.max(axis=1, keepdims=True)).sum(axis=1) == 1
        predictions[rows[decided]] = mean[decided].argmax(axis=1)
        rows = rows[~decided]
    active_scores = [scores[m] for m in active]
    if rows.size and any(s is not None for s in active_scores):  # (2) the best member's vote
        order = sorted((m for m, s in enumerate(active_scores) if s is not None),
                       key=lambda m: (-active_scores[m], m))
        for row in rows:
            for member in order:
                if tied[row, votes[active][member, row]]:
                    predictions[row] = votes[active][member, row]
                    break
    return predictions  # (3) otherwise the smallest tied label


def stacked(bundle, proba):
    """A stacked vote's probabilities: softmax(features @ coef.T + intercept), features
    each member's probability (logged for log_proba) of every class, member after member."""
    stack = bundle["stack"]
    joined = np.hstack([np.asarray(p, dtype=np.float64) for p in proba])
    if stack["features"] == "log_proba":
        joined = np.log(np.clip(joined, stack["floor"], 1.0))
    logits = joined @ np.asarray(stack["coef"], dtype=np.float64).T + np.asarray(stack["intercept"], dtype=np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def vote_probabilities(bundle, proba):
    """The probabilities a probability submission gets: the stack's, or the members' weighted mean."""
    if bundle["combine"] == "stack":
        return stacked(bundle, proba)
    return average_probabilities(proba, [m["weight"] for m in bundle["members"]], bundle["geometric"])


def combine(bundle, proba, votes):
    """Class indices (in bundle['classes'] order) by the vote's rule."""
    weights = [m["weight"] for m in bundle["members"]]
    if bundle["combine"] == "stack":
        mean = stacked(bundle, proba)
        return (mean == mean.max(axis=1, keepdims=True)).argmax(axis=1)
    if bundle["combine"] == "probability":
        return probability_vote(proba, weights, bundle["geometric"])
    scores = [m["tie_score"] for m in bundle["members"]]
    return weighted_vote(votes, len(bundle["classes"]), weights, proba, scores)


# -- the test images, as kcnn feeds them to model.predict --------------------------------


def scale_to_unit(x, where):
    """Per file: whole numbers 0..255 are divided by 255, values within 0..1 kept."""
    if np.isnan(x).any():
        raise Refused(f"{where}: a missing pixel value")
    if x.size and (x.min() < 0 or x.max() > 255):
        raise Refused(f"{where}: pixel values outside 0..255")
    if x.size == 0 or float(x.max()) <= 1.0:
        return x
    if not np.array_equal(x, np.floor(x)):
        raise Refused(f"{where}: pixel values fit neither scale (whole numbers 0..255, or every value within 0..1)")
    x /= 255.0
    return x


def find_file(folder, names):
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def read_sample(path, id_column):
    sample = pd.read_csv(path, dtype=str, index_col=False, keep_default_na=False)
    column = id_column if id_column in sample.columns else sample.columns[0]
    return [str(i) for i in sample[column].tolist()]


def pixel_rows(bundle, test, sample):
    """(ids in submission order, float32 images) of a Kaggle pixel CSV."""
    data = bundle["data"]
    header = [str(c) for c in pd.read_csv(test, nrows=0, index_col=False).columns]
    id_column = data["id_column"] or next((c for c in data["id_columns"] if c in header), None)
    table = pd.read_csv(test, engine="c", dtype={id_column: str} if id_column else None, keep_default_na=False,
                        na_values=[""], index_col=False, low_memory=False)
    not_pixels = set(data["label_columns"]) | {id_column}
    numbered = [c for c in header if c.startswith("pixel") and c[5:].isdigit() and c not in not_pixels]
    columns = sorted(numbered, key=lambda c: (int(c[5:]), c)) if numbered else \
        [c for c in header if c not in not_pixels]
    shape = tuple(data["image_shape"])
    if len(columns) != int(np.prod(shape)):
        raise Refused(f"{test}: {len(columns)} pixel columns, the models take {'x'.join(map(str, shape))} images")
    pixels = table[columns]
    if any(dtype.kind not in "iuf" for dtype in pixels.dtypes):
        pixels = pixels.apply(pd.to_numeric, errors="coerce")
    x = scale_to_unit(pixels.to_numpy(dtype=np.float32), test.name)
    ids = [str(v) for v in table[id_column].tolist()] if id_column else [str(i) for i in range(1, len(table) + 1)]
    if sample is not None:
        position = {tid: i for i, tid in enumerate(ids)}
        wanted = read_sample(sample, id_column)
        missing = [i for i in wanted if i not in position]
        if missing or len(wanted) != len(ids):
            raise Refused(f"{sample}: its ids are not those of {test.name} (e.g. {(missing or ['?'])[0]!r})")
        order = [position[i] for i in wanted]
        x, ids = x[order], wanted
    return ids, np.ascontiguousarray(x).reshape((len(x), *shape))


def npz_rows(bundle, test):
    with np.load(test, allow_pickle=False) as archive:
        x = archive["x_test"].astype(np.float32)
        key = next((k for k in ("ids", "test_ids") if k in archive.files), None)
        raw = archive[key] if key else None
    if x.ndim == 2:
        x = x.reshape((len(x), *bundle["data"]["image_shape"]))
    elif x.ndim == 3:
        x = x[..., np.newaxis]
    if raw is not None and raw.dtype.kind == "S":
        raw = np.char.decode(raw, "utf-8")
    ids = [str(v) for v in raw.tolist()] if raw is not None else [str(i) for i in range(1, len(x) + 1)]
    return ids, scale_to_unit(x, f"{test.name}, key x_test")


def image_rows(bundle, folder, sample):
    """(ids, image paths) in the sample submission's order, each id matched to its file
    by its path, its name, or either without the extension."""
    extensions = tuple(bundle["data"]["image_extensions"])
    by_key = {}
    for here, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or not name.lower().endswith(extensions):
                continue
            relative = PurePosixPath(Path(here, name).relative_to(folder).as_posix())
            for key in {str(relative), relative.name, str(relative.with_suffix("")), relative.stem}:
                by_key.setdefault(key, []).append(str(relative))
    ids = read_sample(sample, bundle["submission"]["header"][0])
    paths = []
    for image_id in ids:
        hits = by_key.get(image_id, [])
        if not hits:
            raise Refused(f"{sample}: id {image_id!r} matches no image in {folder}")
        paths.append(str(folder / (image_id if image_id in hits else hits[0])))
    return ids, paths


def image_batches(bundle, paths, batch_size):
    """The decoded images as kcnn decodes them: grey or RGB, resized bilinearly when
    their size differs, float32 in [0, 1]."""
    import tensorflow as tf

    height, width, channels = bundle["data"]["image_shape"]
    pillow = any(p.lower().endswith(tuple(bundle["data"]["pillow_extensions"])) for p in paths)

    def read_with_pillow(path):
        from PIL import Image

        with Image.open(path.decode()) as image:
            pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
        return pixels[..., None] if channels == 1 else pixels

    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def decode(path):
        if pillow:
            image = tf.numpy_function(read_with_pillow, [path], tf.uint8, stateful=False)
            image.set_shape([None, None, channels])
        else:
            image = tf.io.decode_image(tf.io.read_file(path), channels=3 if channels == 1 else channels,
                                       expand_animations=False)
        if channels == 1:
            image = image[..., :1]
        shape = tf.shape(image)
        image = tf.cond(tf.logical_and(tf.equal(shape[0], height), tf.equal(shape[1], width)),
                        lambda: tf.cast(image, tf.float32),
                        lambda: tf.image.resize(image, (height, width), method="bilinear"))
        return tf.ensure_shape(image / 255.0, (height, width, channels))

    data = tf.data.Dataset.from_tensor_slices(tf.constant(paths, dtype=tf.string, shape=(len(paths),)))
    data = data.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)


def locate(bundle, test, sample):
    """(the test file or image folder, the sample submission or None) from --test."""
    kind = bundle["data"]["kind"]
    if not test.exists():
        raise Refused(f"--test {test}: no such file or folder")
    if kind == "npz":
        return test, None
    if test.is_dir():
        root = test
        if kind == "kaggle_csv":
            found = find_file(test, ["test.csv"])
            if found is None:
                raise Refused(f"--test {test}: no test.csv or test.csv.gz in it")
        else:
            found = next((test / n for n in bundle["data"]["test_folders"] if (test / n).is_dir()), None)
            if found is None:
                found, root = test, test.parent  # the test images' own folder
    else:
        found, root = test, test.parent
    sample = sample or find_file(root, ["sample_submission.csv"])
    if sample is None and kind != "kaggle_csv":
        raise Refused(f"--test {test}: no sample_submission.csv beside it to name the test ids; pass --sample")
    return found, sample


# -- predicting and writing ----------------------------------------------------------------


def load_keras():
    import keras

    @keras.saving.register_keras_serializable(package="kaggle_cnn")
    class BackbonePreprocess(keras.layers.Layer):  # kcnn's saved layer for a pretrained backbone's input
        def __init__(self, application, **kwargs):
            super().__init__(**kwargs)
            self.application = application

        def call(self, inputs):
            return getattr(keras.applications, self.application).preprocess_input(inputs * 255.0)

        def get_config(self):
            return {**super().get_config(), "application": self.application}

    return keras


def member_probabilities(keras, member, source, images):
    """A member's test probabilities as its run stored them: its model's, or its fold
    models' mean; a sigmoid's one column p as (1 - p, p)."""
    outputs = []
    for name in member["models"]:
        model = keras.saving.load_model(HERE / name, compile=False)
        options = {} if images else {"batch_size": member["batch_size"]}
        raw = np.asarray(model.predict(source(member["batch_size"]), verbose=0, **options), dtype=np.float32)
        outputs.append(np.hstack([1.0 - raw, raw]) if raw.shape[1] == 1 else raw)
    return outputs[0] if len(outputs) == 1 else np.mean(outputs, axis=0)


def write_csv(path, frame, **options):
    """As kcnn writes CSVs: RFC 4180, CRLF."""
    frame.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n", encoding="utf-8", **options)


def write_submission(bundle, path, ids, proba, predictions):
    header, kind = bundle["submission"]["header"], bundle["submission"]["kind"]
    classes = bundle["classes"]
    if kind == "label":
        write_csv(path, pd.DataFrame({header[0]: list(ids), header[1]: [classes[i] for i in predictions]}))
        return
    if kind == "top_k":  # the K likeliest labels, likeliest first (ties: the lower class index first)
        ranked = np.argsort(-np.asarray(vote_probabilities(bundle, proba), dtype=np.float64), axis=1,
                            kind="stable")[:, :bundle["submission"]["top_k"]]
        write_csv(path, pd.DataFrame({header[0]: list(ids), header[1]: [" ".join(classes[i] for i in row)
                                                                         for row in ranked]}))
        return
    clipped = np.clip(vote_probabilities(bundle, proba), 1e-15, 1 - 1e-15)
    position = {c: i for i, c in enumerate(classes)}
    if kind == "class_columns":
        columns = {column: clipped[:, position[column]] for column in header[1:]}
    else:
        columns = {header[1]: clipped[:, 1]}
    write_csv(path, pd.DataFrame({header[0]: list(ids), **columns}), float_format="%.6g")


def predict(bundle, test, out, sample=None):
    test_path, sample = locate(bundle, Path(test), Path(sample) if sample else None)
    kind = bundle["data"]["kind"]
    if kind == "kaggle_csv":
        ids, x = pixel_rows(bundle, test_path, sample)
        source, images = (lambda batch: x), False
    elif kind == "npz":
        ids, x = npz_rows(bundle, test_path)
        source, images = (lambda batch: x), False
    else:
        ids, paths = image_rows(bundle, test_path, sample)
        source, images = (lambda batch: image_batches(bundle, paths, batch)), True
    keras = load_keras()
    position = {c: i for i, c in enumerate(bundle["classes"])}
    model_classes = bundle["model_classes"]
    proba, votes = [], []
    for member in bundle["members"]:
        own = member_probabilities(keras, member, source, images)
        # The member's own CSV label is its top class; the vote reads it back in the vote's class order.
        votes.append([position[model_classes[i]] for i in own.argmax(axis=1)])
        aligned = np.zeros((own.shape[0], len(position)), dtype=np.float64)
        aligned[:, [position[c] for c in model_classes]] = own
        proba.append(aligned)
    predictions = combine(bundle, proba, np.array(votes, dtype=np.int64).reshape(len(votes), len(ids)))
    write_submission(bundle, out, ids, proba, predictions)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test", required=True, help="the competition folder, or its test file or image folder")
    parser.add_argument("--out", default="submission.csv", help="the submission to write [submission.csv]")
    parser.add_argument("--sample", default=None, help="the sample submission (default: found beside the test data)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    bundle = json.loads((HERE / "bundle.json").read_text(encoding="utf-8"))
    try:
        out = predict(bundle, args.test, args.out, args.sample)
    except Refused as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
