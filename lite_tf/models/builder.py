"""The one builder: input -> a family's feature extractor -> the shared classification head.

A family contributes only ``features(inputs, *, width, cfg, **family_options)``, a walk over its
spec table; everything a user can override (head, pooling, dropout, BatchNorm, padding) is
handled here, identically for every family.
"""

from __future__ import annotations

from lite_tf.backend import keras, layers
from lite_tf.blocks import BlockConfig, gdc_head
from lite_tf.errors import InputError

HEADS = ("dense", "conv", "gdc")
POOLINGS = (None, "avg", "max")


def _pool(x, pooling):
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def build_model(name, features, *, input_shape, num_classes, include_top=True, pooling=None,
                dropout=0.0, classifier_activation="softmax", head="dense", classifier_bias=True,
                embedding_dim=128, width=1.0, bn_momentum=0.99, bn_epsilon=1e-3,
                padding="symmetric", **family_options):
    """Build a functional tf_keras model named ``name``.

    Heads (with ``include_top``): ``dense`` global average pool, dropout, Dense ``logits``;
    ``conv`` (SqueezeNet) dropout, 1x1 conv ``logits`` + ReLU, global average pool; ``gdc``
    (MobileFaceNet) the GDC embedding, then a Dense classifier only if ``num_classes``.
    ``classifier_activation`` (default softmax, as keras.applications; None gives logits) is the
    ``predictions`` layer. Without the top, ``pooling`` is None, 'avg' or 'max'.
    """
    if head not in HEADS:
        raise InputError(f"head must be one of {HEADS}, got {head!r}")
    if pooling not in POOLINGS:
        raise InputError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if not width > 0:
        raise InputError(f"width must be positive, got {width}")
    cfg = BlockConfig(bn_momentum=bn_momentum, bn_epsilon=bn_epsilon, padding=padding)
    inputs = keras.Input(tuple(input_shape), name="input")
    x = features(inputs, width=width, cfg=cfg, **family_options)
    if not include_top:
        x = _pool(x, pooling)
    elif head == "conv":
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(num_classes, 1, name="logits")(x)
        x = layers.ReLU(name="logits_relu")(x)
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    else:
        if head == "gdc":
            x = gdc_head(x, embedding_dim, cfg=cfg, name="gdc")
        else:
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if num_classes:
            if dropout:
                x = layers.Dropout(dropout, name="dropout")(x)
            x = layers.Dense(num_classes, use_bias=classifier_bias, name="logits")(x)
    if include_top and num_classes and classifier_activation:
        # float32 under a mixed-precision policy too, so the loss sees stable probabilities.
        x = layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)
    return keras.Model(inputs, x, name=name)


def total_stride(model) -> int:
    """The largest factor by which the model downsamples its input (32 for most ImageNet CNNs):
    the product of the strides along the most-strided path through the graph."""
    stride = {}
    for layer in model.layers:
        inbound = layer.inbound_nodes[0].inbound_layers if layer.inbound_nodes else []
        inbound = inbound if isinstance(inbound, list) else [inbound]
        before = max((stride[l.name] for l in inbound), default=1)
        own = getattr(layer, "strides", None) or (1,)
        stride[layer.name] = before * max(own)
    return max(stride.values())


def with_channels(model, channels: dict[str, int]):
    """``model``'s architecture with ``filters`` of the named convolutions replaced (fresh weights)."""
    config = model.get_config()
    names = {layer["config"]["name"]: layer for layer in config["layers"]}
    unknown = sorted(set(channels) - set(names))
    if unknown:
        raise InputError(f"{model.name} has no layers {', '.join(unknown[:5])} to set channels of")
    for name, filters in channels.items():
        names[name]["config"]["filters"] = int(filters)
    return keras.Model.from_config(config)
