"""Assign named tensors to a zoo model's layers, failing on anything missing, extra or mis-shaped."""

from __future__ import annotations

import numpy as np


def _first(items, n=3):
    more = f"; ... {len(items) - n} more" if len(items) > n else ""
    return "; ".join(items[:n]) + more


def assign_weights(model, tensors: dict[str, list[np.ndarray]]) -> None:
    """Set each layer's weights from ``tensors[layer.name]`` (in ``layer.get_weights()`` order).

    Raises ValueError naming every layer with weights that got none, every entry that matches no
    layer, and every tensor whose shape differs; nothing is assigned unless everything matches.
    """
    layers = {layer.name: layer for layer in model.layers if layer.weights}
    missing = sorted(set(layers) - set(tensors))
    extra = sorted(set(tensors) - set(layers))
    shapes = []
    for name in sorted(set(layers) & set(tensors)):
        want = [tuple(w.shape) for w in layers[name].weights]
        got = [tuple(np.shape(t)) for t in tensors[name]]
        if want != got:
            shapes.append(f"{name}: expected {want}, got {got}")
    problems = [f"{kind} ({len(items)}): {_first(items)}"
                for kind, items in (("missing", missing), ("extra", extra), ("mis-shaped", shapes))
                if items]
    if problems:
        raise ValueError(f"cannot load weights into {model.name}: " + " | ".join(problems))
    for name, layer in layers.items():
        layer.set_weights(tensors[name])
