"""A model's units: the stem, each block and the head, each rebuilt as a model of its own.

The zoo names every block's layers ``s<stage>b<block>_*`` (SqueezeNet: ``fire<n>_*``); the layers
before the first block are the ``stem``, those after the last the ``head``, and a stray layer
between two blocks joins the block before it. A unit's ``key`` identifies what it computes (its
layers' types and settings, their wiring and its input shape), not its names or weights, so equal
blocks of different models share a key: what the latency table (lite_tf/search/latency.py) and
the latency breakdown measure once per key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re

from lite_tf.backend import keras, tf
from lite_tf.models.builder import inbound_layers

BLOCK = re.compile(r"^(s\d+b\d+|fire\d+)(_|$)")
# Layer settings that do not change what the int8 model computes or how fast.
IGNORED = {"name", "trainable", "dtype", "momentum", "epsilon", "rate", "seed", "noise_shape"}
IGNORED_SUFFIXES = ("_initializer", "_regularizer", "_constraint")


@dataclasses.dataclass(frozen=True)
class Unit:
    name: str                # "stem", "s3b2", "head"
    layers: tuple[str, ...]  # in the model's (topological) order
    output: str              # the layer whose output leaves the unit
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    key: str


def _unit_names(model) -> list[str]:
    """The unit of each of the model's layers, in order (the input layer's is '')."""
    names, blocks_seen, current = [], False, "stem"
    matches = [BLOCK.match(layer.name) for layer in model.layers]
    last_block = max((i for i, m in enumerate(matches) if m), default=-1)
    for i, (layer, match) in enumerate(zip(model.layers, matches)):
        if isinstance(layer, keras.layers.InputLayer):
            names.append("")
            continue
        if match:
            current, blocks_seen = match.group(1), True
        elif blocks_seen and i > last_block:
            current = "head"
        names.append(current)
    return names


def _settings(layer) -> dict:
    return {k: v for k, v in layer.get_config().items()
            if k not in IGNORED and not k.endswith(IGNORED_SUFFIXES)}


def _shape(tensor) -> tuple[int, ...]:
    return tuple(int(d) if d is not None else 1 for d in tensor.shape[1:])


def _key(model, names: list[str], input_shape) -> str:
    """A short hash of what the unit computes: each layer's type and settings, which of the
    unit's layers (or its input, -1) it takes, and the input shape."""
    index = {name: i for i, name in enumerate(names)}
    description = [list(input_shape)]
    for name in names:
        layer = model.get_layer(name)
        inbound = [index.get(l.name, -1) for l in inbound_layers(layer)]
        description.append([type(layer).__name__, _settings(layer), inbound])
    text = json.dumps(description, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def units(model) -> list[Unit]:
    """The model's units in order. Each takes exactly one tensor from outside it (the previous
    unit's output): a one-line ValueError otherwise."""
    by_unit: dict[str, list[str]] = {}
    for layer, unit in zip(model.layers, _unit_names(model)):
        if unit:
            by_unit.setdefault(unit, []).append(layer.name)
    consumers: dict[str, set[str]] = {}
    for layer in model.layers:
        for source in inbound_layers(layer):
            consumers.setdefault(source.name, set()).add(layer.name)
    outputs = {t._keras_history.layer.name for t in model.outputs}

    def consumed_outside(member, inside):
        return [member] if member in outputs or consumers.get(member, set()) - inside else []

    result = []
    for name, members in by_unit.items():
        inside = set(members)
        sources = {l.name for m in members for l in inbound_layers(model.get_layer(m))} - inside
        if len(sources) != 1:
            raise ValueError(f"{model.name}: unit {name} takes {len(sources)} tensors from outside "
                             f"it ({sorted(sources)}); a unit must take one")
        leaving = [m for m in members if m in consumed_outside(m, inside)]
        if len(leaving) != 1:
            raise ValueError(f"{model.name}: unit {name} gives {len(leaving)} tensors to the rest of "
                             f"the model ({leaving}); a unit must give one")
        shape = _shape(model.get_layer(sources.pop()).output)
        result.append(Unit(name, tuple(members), leaving[0], shape,
                           _shape(model.get_layer(leaving[0]).output), _key(model, members, shape)))
    return result


def layer_unit(model, name: str) -> Unit:
    """One layer of ``model`` as a unit of its own (taking one tensor): what the latency
    breakdown by kernel times."""
    layer = model.get_layer(name)
    (source,) = inbound_layers(layer)
    shape = _shape(source.output)
    return Unit(name, (name,), name, shape, _shape(layer.output), _key(model, [name], shape))


def unit_model(model, unit: Unit):
    """``unit`` as a functional model of its own (batch 1): copies of its layers (settings and
    weights) called in order on a new input; ``model`` is left as it was."""
    inputs = keras.Input(unit.input_shape, batch_size=1, name="input")
    inside = set(unit.layers)
    produced, copies = {}, {}

    def mapped(value):
        history = getattr(value, "_keras_history", None)
        if history is None:
            return value
        return produced[history.layer.name] if history.layer.name in inside else inputs

    for name in unit.layers:
        layer = model.get_layer(name)
        copies[name] = type(layer).from_config(layer.get_config())
        node = layer.inbound_nodes[0]
        args = tf.nest.map_structure(mapped, node.call_args)
        kwargs = tf.nest.map_structure(mapped, node.call_kwargs)
        produced[name] = copies[name](*args, **kwargs)
        copies[name].set_weights(layer.get_weights())
    return keras.Model(inputs, produced[unit.output], name=f"{model.name}_{unit.name}")
