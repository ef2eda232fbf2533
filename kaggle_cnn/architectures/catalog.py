"""`kcnn models`: every registered architecture, built for a given input, with
its parameter count, whether it can start from ImageNet weights, its source and
options."""

from __future__ import annotations

from kaggle_cnn.architectures.registry import get, names, options, shapes_only_build
from kaggle_cnn.errors import InputError


def models(image_shape: tuple[int, int, int] = (28, 28, 1), n_classes: int = 10) -> list[dict[str, object]]:
    """One row per architecture: name, input (with the size a backbone resizes to),
    params, pretrained, source, options, summary, fits, reason. Each model is built
    with its shapes only (no weight values, so any size or class count costs no
    memory); one that cannot take these images has fits=False, params 0, "does not
    fit" in its input column and why in `reason`."""
    rows = []
    for name in names():
        architecture = get(name)
        shape = "x".join(map(str, image_shape))
        # backbones are counted without downloading anything; the count is the same with ImageNet weights
        reason = ""
        try:
            model = shapes_only_build(name, image_shape, n_classes,
                                      **({"weights": None} if architecture.pretrained else {}))
        except InputError as error:
            model, reason = None, str(error)
        if model is not None:
            resized = next((layer.output.shape[1:3] for layer in model.layers if layer.name == "resize"), None)
            shape += f" -> {resized[0]}x{resized[1]}" if resized else ""
        rows.append({"name": name, "input": shape if model is not None else f"{shape}: does not fit",
                     "params": int(model.count_params()) if model is not None else 0,
                     "pretrained": "imagenet" if architecture.pretrained else "-", "source": architecture.source,
                     "options": list(options(name)), "summary": architecture.summary, "fits": model is not None,
                     "reason": reason})
    return rows
