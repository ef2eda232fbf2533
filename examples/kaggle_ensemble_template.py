"""The 28x28 Kaggle write-up's hyperas search as a kcnn template (no hyperas needed, Keras 3).

    kcnn search --template examples/kaggle_ensemble_template.py --algo tpe --max-evals 30

Markers are labelled by what they sit in: Dropout, Dropout_2, ..., Dense, Dense_2,
optimizer, learning_rate, batch_size. Helper functions and imports work as in
any Python file.
"""

import numpy as np
from hyperopt import STATUS_OK
from keras import Sequential, layers, optimizers

from kaggle_cnn.data import load_dataset, make_split

EPOCHS = 5


def data():
    """The demo competition, split as kcnn splits it: (x_train, y_train, x_val, y_val)."""
    demo = load_dataset()
    val = make_split(demo.y_train, 0.1, 0)
    train = np.setdiff1d(np.arange(len(demo.y_train)), val)
    return demo.x_train[train], demo.y_train[train], demo.x_train[val], demo.y_train[val]


def make_optimizer(optimizer, learning_rate):
    # A helper: hyperas loses these (its issue #60); here the file runs as a module.
    return {"adam": optimizers.Adam, "sgd": optimizers.SGD, "rmsprop": optimizers.RMSprop}[optimizer](learning_rate)


def create_model(x_train, y_train, x_val, y_val):
    model = Sequential([
        layers.Input(x_train.shape[1:]),
        layers.Conv2D(32, 3, activation="relu", padding="same"),
        layers.Conv2D(32, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2),
        layers.Dropout({{uniform(0, 1)}}),
        layers.Conv2D(64, 3, activation="relu"),
        layers.Conv2D(64, 3, activation="relu"),
        layers.BatchNormalization(momentum=0.9),
        layers.MaxPooling2D(2),
        layers.Dropout({{uniform(0, 1)}}),
        layers.Flatten(),
        layers.Dense({{choice([128, 256, 512])}}, activation="relu"),
        layers.BatchNormalization(momentum=0.9),
        layers.Dropout({{uniform(0, 1)}}),
        layers.Dense({{choice([128, 256, 512])}}, activation="relu"),
        layers.BatchNormalization(momentum=0.9),
        layers.Dropout({{uniform(0, 1)}}),
        layers.Dense(10, activation="softmax"),
    ])
    optimizer = make_optimizer(optimizer={{choice(["adam", "sgd", "rmsprop"])}},
                               learning_rate={{choice([0.001, 0.01, 0.1])}})
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size={{choice([128, 256])}}, epochs=EPOCHS, verbose=0,
                        validation_data=(x_val, y_val))
    accuracy = float(np.max(history.history["val_accuracy"]))
    return {"loss": -accuracy, "status": STATUS_OK, "model": model}
