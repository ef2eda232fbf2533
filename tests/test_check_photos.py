"""`kcnn check SUB --data DIR` and `kcnn submit --data DIR` on photo competitions whose
images differ in size: a submission is judged from the sample submission and the
class names alone, so no image is decoded (and no --image-size is needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SIZES = [(8, 10), (12, 12), (9, 7)]  # (H, W): three different sizes


def image(path: Path, index: int) -> None:
    height, width = SIZES[index % len(SIZES)]
    pixels = np.random.default_rng(index).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def labels_csv_competition(root: Path) -> Path:
    """id,label + train/ (JPEGs) + test/ (PNGs) + sample_submission.csv, images of three sizes."""
    rows = ["id,label"]
    for i in range(6):
        image(root / "train" / f"t{i}.jpg", i)
        rows.append(f"t{i},{'cat' if i % 2 else 'dog'}")
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    for i in range(3):
        image(root / "test" / f"s{i}.png", i)
    (root / "sample_submission.csv").write_text("id,label\ns0,cat\ns1,cat\ns2,cat\n")
    return root


def class_folder_competition(root: Path) -> Path:
    """train/<class>/ + unlabelled test/ + sample_submission.csv (file,species), as Plant Seedlings ships."""
    for i in range(6):
        image(root / "train" / ("cat" if i % 2 else "dog") / f"t{i}.jpg", i)
    for i in range(3):
        image(root / "test" / f"s{i}.png", i)
    (root / "sample_submission.csv").write_text("file,species\ns0.png,cat\ns1.png,cat\ns2.png,cat\n")
    return root


LAYOUTS = {"labels csv": (labels_csv_competition, "id,label\ns0,dog\ns1,cat\ns2,dog\n"),
           "class folders": (class_folder_competition, "file,species\ns0.png,dog\ns1.png,cat\ns2.png,dog\n")}


@pytest.fixture(params=list(LAYOUTS))
def photos(request, tmp_path) -> tuple[Path, str]:
    build, right = LAYOUTS[request.param]
    return build(tmp_path / "comp"), right


def submit_args(submission: Path, data: Path) -> list:
    return ["submit", submission, "-m", "x", "--competition", "photo-comp", "--data", data, "--dry-run"]


def test_a_right_submission_is_accepted(kcnn, photos, tmp_path):
    data, right = photos
    submission = tmp_path / "right.csv"
    submission.write_text(right)
    checked = kcnn("-w", tmp_path / "ws", "check", submission, "--data", data)
    assert checked.exit_code == 0, checked.output
    assert "3 rows; checked header, unique ids, id set and order, row count, labels" in checked.output
    sent = kcnn(*submit_args(submission, data))
    assert sent.exit_code == 0, sent.output
    assert "Would run: kaggle competitions submit -c photo-comp" in sent.output
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("damage, fragment", [
    (lambda lines: [lines[0], lines[1].replace("dog", "cow"), *lines[2:]], "line 2: label 'cow' is not one of the 2 classes"),
    (lambda lines: [lines[0], lines[2], lines[1], lines[3]], "line 2: id"),
    (lambda lines: lines[:3], "of sample_submission.csv is missing"),
])
def test_a_wrong_submission_is_refused_in_one_line(kcnn, assert_refused, photos, tmp_path, damage, fragment):
    data, right = photos
    submission = tmp_path / "wrong.csv"
    submission.write_text("\n".join(damage(right.strip().split("\n"))) + "\n")
    assert_refused(kcnn("-w", tmp_path / "ws", "check", submission, "--data", data), str(submission), fragment)
    assert_refused(kcnn(*submit_args(submission, data)), str(submission), fragment)


def test_check_and_submit_with_data_import_no_tensorflow(tmp_path):
    data = labels_csv_competition(tmp_path / "comp")
    submission = tmp_path / "right.csv"
    submission.write_text(LAYOUTS["labels csv"][1])
    code = (
        "import sys; from kaggle_cnn.cli import cli\n"
        "sub, data = sys.argv[1:]\n"
        "for args in (['check', sub, '--data', data],\n"
        "             ['submit', sub, '-m', 'x', '--competition', 'photo-comp', '--data', data, '--dry-run']):\n"
        "    try: cli.main(args, prog_name='kcnn')\n"
        "    except SystemExit as e: assert not e.code, e.code\n"
        "loaded = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(submission), str(data)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "right.csv: ok (3 rows" in result.stdout and "Would run:" in result.stdout


def test_the_classes_read_without_images_are_the_datasets_classes(tmp_path, competition):
    from kaggle_cnn.data import load_classes, load_dataset

    labels_csv = labels_csv_competition(tmp_path / "labels")
    folders = class_folder_competition(tmp_path / "folders")
    assert load_classes(labels_csv) == load_dataset(labels_csv, image_size=8).classes == ["cat", "dog"]
    assert load_classes(folders) == load_dataset(folders, image_size=8).classes == ["cat", "dog"]
    assert load_classes(competition) == load_dataset(competition).classes == list(range(10))
