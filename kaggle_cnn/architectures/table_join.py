"""Table columns joined to an image network (`kcnn train --tabular-columns`), as
the SIIM-ISIC melanoma and PetFinder winners joined their metadata.

Every registered architecture ends with the classifier of architectures.heads
(the layer named "predictions"); the features it reads (pooled, or flattened and
dense) are joined here to a small Dense layer on the table, and a new classifier,
built by the same `classifier` (softmax, one sigmoid unit for two classes, a
sigmoid per label under `multi_label_head`), reads both. The model then takes two
inputs, (images, table rows).
"""

from __future__ import annotations

from kaggle_cnn.architectures.heads import classifier
from kaggle_cnn.backend import load_keras

keras = load_keras()

TABLE_UNITS = 16  # the Dense layer the table passes through before the join
HEAD = "predictions"


def with_table(model, table_width: int, n_classes: int, units: int = TABLE_UNITS):
    """`model` with a second input of `table_width` numbers joined before its classifier
    (unchanged when there is no table)."""
    if not table_width:
        return model
    try:
        head = model.get_layer(HEAD)
    except ValueError:
        raise ValueError(f"{model.name} has no '{HEAD}' classifier layer to join table columns before") from None
    table = keras.Input((int(table_width),), name="table")
    encoded = keras.layers.Dense(units, activation="relu", name="table_dense")(table)
    joined = keras.layers.Concatenate(name="table_join")([keras.layers.Flatten()(head.input), encoded])
    return keras.Model([model.inputs[0], table], classifier(n_classes)(joined), name=model.name)
