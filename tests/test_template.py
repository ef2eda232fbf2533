"""hyperas-style templates: marker labels, helpers kept, bad templates, a real search."""

from __future__ import annotations

import json
import math
import re
import textwrap

import numpy as np
import pytest

from kaggle_cnn.errors import InputError
from kaggle_cnn.search import study as studies
from kaggle_cnn.search.template import load_template
from kaggle_cnn.store.workspace import Workspace

# A small real template: demo images flattened, a dense net, markers in several
# layers, nested calls, a keyword, a helper function and module-level imports.
TEMPLATE = '''
import numpy as np
from hyperopt import STATUS_OK
from keras import Sequential, layers

from kaggle_cnn.data import load_dataset

def data():
    demo = load_dataset()
    x = demo.x_train[:400].reshape(400, -1)
    return x[:300], demo.y_train[:300], x[300:], demo.y_train[300:400]

def width(units):  # a helper: hyperas would lose it
    return int(units)

def create_model(x_train, y_train, x_val, y_val):
    model = Sequential()
    model.add(layers.Input((784,)))
    model.add(layers.Dense(width({{choice([16, 32])}}), activation={{choice(["relu", "tanh"])}}))
    model.add(layers.Dropout({{uniform(0, 0.5)}}))
    model.add(layers.Dense({{choice([8, 16])}}))
    model.add(layers.Dropout({{uniform(0, 0.5)}}))
    model.add(layers.Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size={{choice([32, 64])}}, epochs=1, verbose=0,
                        validation_data=(x_val, y_val))
    lr_probe = {{loguniform(-9, -2)}}
    return {"loss": -float(np.max(history.history["val_accuracy"])), "status": STATUS_OK, "model": model}
'''


def write(tmp_path, text, name="model"):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_markers_get_readable_labels(tmp_path):
    template = load_template(write(tmp_path, TEMPLATE))
    assert list(template.space.tree) == ["Dense", "activation", "Dropout", "Dense_2", "Dropout_2", "batch_size",
                                         "lr_probe"]
    assert template.space.tree["Dense"].args == (16, 32)  # inside width(...) inside Dense(...): named by the layer
    low, high = template.space.tree["lr_probe"].args
    assert math.isclose(math.log(low), -9) and math.isclose(math.log(high), -2)  # hyperas' log-space bounds


def test_marker_in_a_list_inside_a_call_and_numbering(tmp_path):
    text = TEMPLATE.replace('model.add(layers.Dense({{choice([8, 16])}}))',
                            'model.add(layers.Dense(*[{{choice([8, 16])}}]))')
    assert "Dense_2" in load_template(write(tmp_path, text)).space.tree


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda t: t.replace("{{", "").replace("}}", ""), "no {{choice"),
        (lambda t: t.replace("def create_model", "def build_model"), "no create_model()"),
        (lambda t: t.replace("def data", "def load"), "no data()"),
        (lambda t: t.replace("{{uniform(0, 0.5)}}", "{{uniform(0.5, 0)}}", 1), "above high"),
        (lambda t: t.replace("{{choice([8, 16])}}", "{{choice([])}}"), "non-empty list"),
        (lambda t: t.replace("{{choice([8, 16])}}", "{{pick([8, 16])}}"), "use choice"),
    ],
)
def test_bad_templates(tmp_path, change, fragment):
    with pytest.raises(InputError, match=re.escape(fragment)):
        load_template(write(tmp_path, change(TEMPLATE)))


def test_create_model_without_loss_is_refused_and_nothing_is_written(kcnn, assert_refused, tmp_path):
    text = TEMPLATE.replace('return {"loss": -float', 'return {"accuracy": float')
    workspace = tmp_path / "ws"
    assert_refused(kcnn("-w", workspace, "search", "--template", write(tmp_path, text), "--max-evals", 2), "'loss'")
    assert not workspace.exists()


def test_template_search_end_to_end(kcnn, assert_refused, tmp_path):
    path = write(tmp_path, TEMPLATE)
    result = kcnn("-w", tmp_path / "ws", "search", "--template", path, "--algo", "tpe", "--max-evals", 3,
                  "--keep-above", 0.2)
    assert result.exit_code == 0, result.output
    workspace = Workspace(tmp_path / "ws")
    state = studies.load_saved(workspace, "model")
    assert [t["run_id"] for t in state["trials"]] == [f"model-model-t{i:03d}" for i in range(3)]
    assert all(set(t["params"]) == {"Dense", "activation", "Dropout", "Dense_2", "Dropout_2", "batch_size", "lr_probe"}
               for t in state["trials"])
    index = workspace.read_index().set_index("run_id")
    assert index.index.tolist() == [t["run_id"] for t in state["trials"]]
    assert [t["status"] for t in state["trials"]] == ["ok"] * 3
    # the template's loss is minus the best validation accuracy; kept when that reached 0.2
    for trial in state["trials"]:
        assert index.loc[trial["run_id"], "val_accuracy"] == pytest.approx(-trial["loss"], abs=1e-6)
        assert trial["kept"] == (-trial["loss"] >= 0.2)
    kept = [t for t in state["trials"] if t["kept"]]
    assert kept
    for trial in state["trials"]:
        folder = workspace.models_dir / "studies" / "model" / "trials" / trial["run_id"]
        assert (folder / "model.keras").exists() == trial["kept"]
    # a kept trial's record starts as every run's does (training.records.new_record)
    record = json.loads((workspace.models_dir / "studies" / "model" / "trials" / kept[0]["run_id"]
                         / "trial.json").read_text())
    assert record["config"] == {"model": record["model"], "epochs": "", "keep_above": 0.2}
    assert record["attempt"] == kept[0]["number"] and record["base_seed"] == 0 and record["started"]
    # a kept model is the one that scored: its accuracy on the template's validation rows is -loss
    from kaggle_cnn.backend import load_keras
    from kaggle_cnn.data import load_dataset

    demo = load_dataset()
    x_val, y_val = demo.x_train[300:400].reshape(100, -1), demo.y_train[300:400]
    model = load_keras().saving.load_model(workspace.models_dir / "studies" / "model" / "trials" / kept[0]["run_id"]
                                           / "model.keras")
    assert np.mean(model.predict(x_val, verbose=0).argmax(axis=1) == y_val) == pytest.approx(-kept[0]["loss"])
    assert "Dense=" in result.output and "loss" in result.output
    # the same command again: the study is complete, nothing retrained
    again = kcnn("-w", tmp_path / "ws", "search", "--template", path, "--algo", "tpe", "--max-evals", 3)
    assert again.exit_code == 0 and len(workspace.read_index()) == 3
    assert_refused(kcnn("-w", tmp_path / "ws", "search", "--study", "model", "--export", tmp_path / "b.yaml"),
                   "template")


@pytest.mark.slow
def test_the_shipped_kaggle_ensemble_template_loads():
    from pathlib import Path

    template = load_template(Path(__file__).resolve().parents[1] / "examples" / "kaggle_ensemble_template.py")
    assert list(template.space.tree) == ["Dropout", "Dropout_2", "Dense", "Dropout_3", "Dense_2", "Dropout_4",
                                         "optimizer", "learning_rate", "batch_size"]


@pytest.mark.parametrize(
    "name, content, fragments",
    [
        ("picture.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["picture.png: not a template (not UTF-8 text"]),
        ("model.py", b"x = {{choice([1, 2])}}\x00\n", ["model.py: not a template (a binary file"]),
        ("model.py", b"def data(:\n    return {{choice([1, 2])}}\n",
         ["model.py line 1: not a template: not valid Python (invalid syntax)"]),
        ("notes.txt", b"Try dense widths of 16 or 32.\n", ["notes.txt: not a template: no {{choice(...)}}"]),
        ("model.py", b"import no_such_module_here\nx = [{{choice([1, 2])}}]\n",
         ["model.py line 1: the template raised ModuleNotFoundError: No module named 'no_such_module_here'"]),
        ("model.py", b"import math\nwidth = {{choice([1, 2])}}\n",
         ["model.py line 2: marker 'width' is outside create_model(...)"]),
        ("my model.py", TEMPLATE.encode(), ["my model.py: the file's name 'my model' cannot name a study",
                                            "give --study NAME"]),
    ],
)
def test_files_that_are_not_templates_are_refused(kcnn, assert_refused, tmp_path, name, content, fragments):
    path = tmp_path / name
    path.write_bytes(content)
    assert_refused(kcnn("-w", tmp_path / "ws", "search", "--template", path), *fragments)
    assert not (tmp_path / "ws").exists()


def test_data_that_raises_is_one_line(kcnn, assert_refused, tmp_path):
    text = TEMPLATE.replace("    demo = load_dataset()\n", "    demo = load_dataset()\n    raise ValueError('no rows')\n")
    assert_refused(kcnn("-w", tmp_path / "ws", "search", "--template", write(tmp_path, text)),
                   "model.py line 10: data() raised ValueError: no rows")
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("option", [["--jobs", "2"], ["--model", "cnn1"], ["--epochs", "1"], ["--val-fraction", "0.2"]])
def test_space_only_options_are_refused_with_a_template(kcnn, assert_refused, tmp_path, option):
    assert_refused(kcnn("-w", tmp_path / "ws", "search", "--template", write(tmp_path, TEMPLATE), *option),
                   f"{option[0]} applies to --space searches")
    assert not (tmp_path / "ws").exists()
