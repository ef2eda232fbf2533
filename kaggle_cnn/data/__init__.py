"""Data layer: load a competition (Kaggle CSV folder, .npz, CIFAR batches, a folder
of class folders of images, or the packaged demo) into a Dataset, and choose
validation rows.

Importing this package costs numpy only; pandas and scikit-learn are imported
when data is actually loaded or split.
"""

from kaggle_cnn.data.dataset import Dataset
from kaggle_cnn.data.demo import demo_answers_path, demo_path
from kaggle_cnn.data.loading import (
    load_classes,
    load_dataset,
    load_task,
    reload_dataset,
)
from kaggle_cnn.data.split import cut_arrays, make_folds, make_split, split_arrays

__all__ = [
    "Dataset",
    "demo_answers_path",
    "demo_path",
    "load_classes",
    "load_task",
    "load_dataset",
    "cut_arrays",
    "make_folds",
    "make_split",
    "split_arrays",
    "reload_dataset",
]
