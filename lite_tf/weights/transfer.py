"""Assign named tensors to a zoo model's layers, failing on anything missing, extra or mis-shaped."""

from __future__ import annotations

import numpy as np

from lite_tf.errors import InputError


def _first(items, n=3):
    more = f"; ... {len(items) - n} more" if len(items) > n else ""
    return "; ".join(items[:n]) + more


def describe(kinds) -> str:
    """``kind (count): first; second; third; ... N more | ...`` for the non-empty (kind, items)."""
    return " | ".join(f"{kind} ({len(items)}): {_first(items)}" for kind, items in kinds if items)


def assign_weights(model, tensors: dict[str, list[np.ndarray]], skip=()) -> None:
    """Set each layer's weights from ``tensors[layer.name]`` (in ``layer.get_weights()`` order);
    layers named in ``skip`` keep theirs (and their entries in ``tensors`` are ignored).

    Raises InputError (a ValueError) naming every layer with weights that got none, every entry
    that matches no layer, and every tensor whose shape differs; nothing is assigned unless
    everything matches.
    """
    layers = {layer.name: layer for layer in model.layers if layer.weights and layer.name not in skip}
    tensors = {name: t for name, t in tensors.items() if name not in skip}
    missing = sorted(set(layers) - set(tensors))
    extra = sorted(set(tensors) - set(layers))
    shapes = []
    for name in sorted(set(layers) & set(tensors)):
        want = [tuple(w.shape) for w in layers[name].weights]
        got = [tuple(np.shape(t)) for t in tensors[name]]
        if want != got:
            shapes.append(f"{name}: expected {want}, got {got}")
    problems = describe((("missing", missing), ("extra", extra), ("mis-shaped", shapes)))
    if problems:
        raise InputError(f"cannot load weights into {model.name}: {problems}")
    for name, layer in layers.items():
        layer.set_weights(tensors[name])
