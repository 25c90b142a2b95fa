"""Export-side rewrite passes: a model's layers re-expressed, before conversion, as ops the
runtime's fast kernels (XNNPACK) take, with the same outputs. ``PASSES`` is the registry (each pass
names the conversion modes it serves); ``convert`` applies them all unless told otherwise
(``python -m export --no-pass NAME``).

A pass rewrites the functional model's config: ``rewrite(layer, inputs)`` gets a layer (its config
entry) and its inbound tensors and returns the layers that replace it, the last one under the
layer's own name (so its consumers are untouched), with their weights; or None to keep it.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from lite_tf.backend import keras, layers


@dataclasses.dataclass(frozen=True)
class Replacement:
    """The layers (config entries, in order, inbound nodes set) that replace one layer, and their
    weights by layer name."""

    entries: list[dict]
    weights: dict[str, list[np.ndarray]]


@dataclasses.dataclass(frozen=True)
class Pass:
    name: str
    doc: str
    modes: tuple[str, ...]  # the conversion modes it is applied in
    rewrite: Callable[[keras.Model, dict, dict], Replacement | None]


def _entry(layer: layers.Layer, inbound: list[list]) -> dict:
    """A functional-config entry for ``layer`` called on ``inbound`` ([name, node, tensor, {}])."""
    return {"class_name": layer.__class__.__name__, "config": layer.get_config(),
            "name": layer.name, "inbound_nodes": [inbound]}


def _inputs(entry: dict) -> list[list]:
    return entry["inbound_nodes"][0] if entry["inbound_nodes"] else []


def _depthwise_1x1(name: str, scale: np.ndarray, relu: bool) -> tuple[layers.Layer, list]:
    """A 1x1 depthwise convolution scaling each channel (then ReLU): XNNPACK's int8 kernels take
    it, where they take no int8 MUL by a constant vector or stand-alone RELU."""
    layer = layers.DepthwiseConv2D(1, use_bias=False, activation="relu" if relu else None, name=name)
    return layer, [scale.reshape(1, 1, -1, 1).astype(np.float32)]


def prelu_as_depthwise(model: keras.Model, entry: dict, by_name: dict) -> Replacement | None:
    """PReLU with per-channel slopes a <= 1 as ``a * x + relu((1 - a) * x)``: two 1x1 depthwise
    convolutions (the second with a fused ReLU) and an ADD, all in XNNPACK's int8 kernels, where
    the int8 PRELU runs on TFLite's reference kernel and splits XNNPACK's graph (exact: relu(s x)
    = s relu(x) for s >= 0); one slope for every channel becomes a LeakyReLU (ReLU at 0, fused
    into the convolution before it). A slope above 1 keeps its PRELU. MobileFaceNet int8 at 112x112, 1
    thread, this AMD EPYC: 19.2 ms -> see docs/benchmarks.md (its float32: 2.4 ms)."""
    layer = model.get_layer(entry["name"])
    if not isinstance(layer, layers.PReLU):
        return None
    shape = layer.input_shape
    (alpha,) = layer.get_weights()
    if alpha.shape[:-1] != (1,) * (len(shape) - 2) or len(shape) != 4:  # per-channel slopes only
        return None
    slope = alpha.reshape(-1) * np.ones(shape[-1], np.float32)
    name, inbound = entry["name"], _inputs(entry)
    if np.all(slope == slope[0]):  # one slope (an untrained PReLU's is 0): a LEAKY_RELU or RELU
        return Replacement([_entry(layers.LeakyReLU(float(slope[0]), name=name), inbound)], {})
    if np.any(slope > 1):
        return None
    scaled, scaled_w = _depthwise_1x1(f"{name}_scaled", slope, relu=False)
    gated, gated_w = _depthwise_1x1(f"{name}_gated", 1 - slope, relu=True)
    add = layers.Add(name=name)
    return Replacement(
        [_entry(scaled, inbound), _entry(gated, inbound),
         _entry(add, [[scaled.name, 0, 0, {}], [gated.name, 0, 0, {}]])],
        {scaled.name: scaled_w, gated.name: gated_w})


PASSES = {p.name: p for p in [
    Pass("prelu_as_depthwise", prelu_as_depthwise.__doc__.split("\n\n")[0], ("int8",),
         prelu_as_depthwise),
]}


def check(names) -> list[str]:
    """``names`` as known pass names (one line naming an unknown one)."""
    from lite_tf.errors import InputError

    unknown = [n for n in names if n not in PASSES]
    if unknown:
        raise InputError(f"unknown export pass {unknown[0]!r}; the passes: {', '.join(PASSES)}")
    return list(names)


def apply(model: keras.Model, mode: str, skip=()) -> tuple[keras.Model, list[str]]:
    """``model`` with every pass of ``mode`` not in ``skip`` applied, and the names of the passes
    that changed something. A model that is not a functional graph comes back as it is."""
    applied = []
    for p in PASSES.values():
        if mode in p.modes and p.name not in skip and isinstance(model, keras.Model) \
                and getattr(model, "_is_graph_network", False):
            rewritten = _rewrite(model, p)
            if rewritten is not None:
                model = rewritten
                applied.append(p.name)
    return model, applied


def _rewrite(model: keras.Model, p: Pass) -> keras.Model | None:
    config = model.get_config()
    by_name = {e["name"]: e for e in config["layers"]}
    entries, weights, changed = [], {}, False
    for entry in config["layers"]:
        if len(entry["inbound_nodes"]) == 1:  # a layer called once (shared layers stay)
            replacement = p.rewrite(model, entry, by_name)
            if replacement is not None:
                entries += replacement.entries
                weights.update(replacement.weights)
                changed = True
                continue
        entries.append(entry)
    if not changed:
        return None
    config["layers"] = entries
    rebuilt = keras.Model.from_config(config)
    for layer in rebuilt.layers:
        source = weights.get(layer.name)
        if source is None and layer.weights:
            source = model.get_layer(layer.name).get_weights()
        if source is not None:
            layer.set_weights(source)
    return rebuilt
