"""Images with a row of table numbers each (`--tabular-columns`): what training
and prediction take where the network has a second input (architectures.table_join).

TabledImages stands where an ImageFiles would: indexing with rows cuts images and
table alike; `tf_dataset` streams ((images, table), labels) batches, the images
through ImageFiles' own pipeline (shuffled, cached), the table rows gathered by
position; `blocks`, np.asarray and what describes the files (`files`, `size`)
are the images' own (pictures, reports, `kcnn data`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from numbers import Integral

import numpy as np

from kaggle_cnn.data.dataset import Dataset
from kaggle_cnn.data.loaders.csv_files import read_header, read_table
from kaggle_cnn.data.loaders.images import ImageFiles
from kaggle_cnn.data.loaders.tabular import (
    choose_columns,
    describe_encoding,
    fit_encoding,
    test_rows,
)


@dataclass(frozen=True, eq=False)
class TabledImages:
    images: ImageFiles
    table: np.ndarray  # float32 rows x encoded columns
    encoding: dict  # TableEncoding.record(): recorded in run.json

    ndim = 4
    dtype = np.dtype(np.float32)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return self.images.shape

    @property
    def table_width(self) -> int:
        return int(self.table.shape[1])

    def __len__(self) -> int:
        return len(self.images)

    def __getattr__(self, name: str):
        """What describes the files (files, root, size, channels, source_sizes, ...): the images'."""
        if name.startswith("__") or name in ("images", "table", "encoding"):  # unpickling: not set yet
            raise AttributeError(name)
        return getattr(self.images, name)

    def __getitem__(self, index):
        if isinstance(index, Integral) and not isinstance(index, bool):
            return self.images[index]
        rows = np.arange(len(self))[index]
        return TabledImages(self.images[rows], self.table[rows], self.encoding)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.images.__array__(dtype, copy)

    def blocks(self, n: int = 256):
        return self.images.blocks(n)

    def table_blocks(self, n: int = 256):
        """The table rows of each of `blocks(n)`."""
        for start in range(0, len(self), n):
            yield self.table[start:start + n]

    def tf_dataset(self, batch_size: int, labels=None, shuffle_seed: int | None = None):
        import tensorflow as tf

        rows = np.arange(len(self), dtype=np.int64)
        data = self.images.tf_dataset(batch_size, labels=rows, shuffle_seed=shuffle_seed)
        table = tf.constant(self.table)
        if labels is None:  # prediction: the inputs alone, as a one-element tuple
            return data.map(lambda images, at: ((images, tf.gather(table, at)),))
        truth = tf.constant(np.asarray(labels))
        return data.map(lambda images, at: ((images, tf.gather(table, at)), tf.gather(truth, at)))

    def fingerprint_payload(self) -> bytes:
        return self.images.fingerprint_payload() + b"|table:" + hashlib.sha256(
            np.ascontiguousarray(self.table).tobytes()).hexdigest().encode()


def join_table(dataset: Dataset, layout, spec: str, id_col: str, label_cols: list[str],
               train_rows: list[int], describe_test) -> Dataset:
    """The dataset with its training and test images joined to their encoded table
    rows: the training rows from the labels CSV (`train_rows`: each image's data
    row), the test rows from test.csv by id, in the test ids' order."""
    labels = layout.labels
    table = read_table(labels, text_columns=read_header(labels))
    test_header = read_header(layout.test_csv) if layout.test_csv is not None else None
    chosen, left_out = choose_columns(spec, table, labels, [id_col, *label_cols], test_header,
                                      layout.test_csv)
    train = table.iloc[train_rows].reset_index(drop=True)
    encoding = fit_encoding(train, chosen, labels, train_rows, left_out)
    test, test_lines = test_rows(layout.test_csv, list(dataset.test_ids), id_col, chosen, describe_test)
    record = encoding.record()
    x_train = TabledImages(dataset.x_train, encoding.transform(train, labels, train_rows), record)
    x_test = TabledImages(dataset.x_test, encoding.transform(test, layout.test_csv or labels, test_lines), record)
    return replace(dataset, x_train=x_train, x_test=x_test,
                   layout_notes=(*dataset.layout_notes, *describe_encoding(encoding)))

