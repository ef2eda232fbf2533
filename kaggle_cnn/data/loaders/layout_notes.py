"""What `kcnn data` says about a labels CSV's layout (kaggle_cnn.data.loaders.labelled_images):
the files used, and how the ids matched the image files."""

from __future__ import annotations


def layout_notes(layout, id_col, label_cols, one_hot, n_ids, n_train, test_index, n_test, from_where, skipped,
           multi=False) -> tuple:
    """What `kcnn data` says about the layout: the files used and how the ids matched."""
    label = f"one-hot {', '.join(label_cols)}" if one_hot else f"label {label_cols[0]}"
    if multi:
        label = (f"multi-label one-hot {', '.join(label_cols)}" if one_hot
                 else f"multi-label tags in {label_cols[0]}, space-separated")
    unreadable = sum(1 for _, why in skipped if not why.startswith(("no row", "not in")))
    unlabelled = sum(1 for _, why in skipped if why.startswith("no row"))
    notes = [f"labels CSV {layout.inside(layout.labels)} (id column {id_col}, {label}) naming images in "
             f"{layout.inside(layout.train)}/",
             f"train: all {n_ids} ids matched an image" + (f", {unreadable} unreadable (skipped)" if unreadable else "")
             + f"; {unlabelled} image{'s' * (unlabelled != 1)} with no row (skipped)"]
    if test_index is None:
        notes.append("test: no test images")
    else:
        unlisted = sum(1 for _, why in skipped if why.startswith("not in"))
        folders = layout.test_folders()
        notes.append(f"test: {n_test} ids from {from_where} matched in {folders}" if from_where != f"{test_index.where}/"
                     else f"test: the {n_test} images of {folders} no labels row names, ids spelled as in "
                          f"{layout.labels.name}")
        if unlisted:
            notes[-1] += f"; {unlisted} image{'s' * (unlisted != 1)} not in it (skipped)"
    return tuple(notes)
