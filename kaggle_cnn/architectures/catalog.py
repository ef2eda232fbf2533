"""`kcnn models`: every registered architecture, built for a given input, with
its parameter count, whether it can start from ImageNet weights, its source and
options."""

from __future__ import annotations

from kaggle_cnn.architectures.registry import build, get, names, options


def models(image_shape: tuple[int, int, int] = (28, 28, 1), n_classes: int = 10) -> list[dict[str, object]]:
    """One row per architecture: name, input (with the size a backbone resizes to),
    params, pretrained, source, options, summary. Builds each model (TensorFlow)."""
    rows = []
    for name in names():
        architecture = get(name)
        # backbones are counted without downloading anything; the count is the same with ImageNet weights
        model = build(name, image_shape, n_classes, **({"weights": None} if architecture.pretrained else {}))
        resized = next((layer.output.shape[1:3] for layer in model.layers if layer.name == "resize"), None)
        shape = "x".join(map(str, image_shape)) + (f" -> {resized[0]}x{resized[1]}" if resized else "")
        rows.append({"name": name, "input": shape, "params": int(model.count_params()),
                     "pretrained": "imagenet" if architecture.pretrained else "-", "source": architecture.source,
                     "options": list(options(name)), "summary": architecture.summary})
    return rows
