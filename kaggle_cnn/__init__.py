"""kaggle_cnn: train candidate CNNs again and again, keep the good runs, vote them
into a submission, and report per-class precision, recall and F1.

Importing the package is cheap on purpose: TensorFlow is imported only by the
modules that train or build models, so `kcnn --help`, `vote` and `metrics` start
fast.
"""

__version__ = "0.1.0"
