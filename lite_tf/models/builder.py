"""The one builder: input -> a family's feature extractor -> the shared classification head.

A family contributes only ``features(inputs, *, width, cfg, **family_options)``, a walk over its
spec table; everything a user can override (head, pooling, dropout, BatchNorm, padding) is
handled here, identically for every family.
"""

from __future__ import annotations

from lite_tf.backend import keras, layers
from lite_tf.blocks import BlockConfig, gdc_head
from lite_tf.blocks.conv import activation
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
                padding="symmetric", head_hidden=0, head_activation=None, head_norm=False,
                **family_options):
    """Build a functional tf_keras model named ``name``.

    Heads (with ``include_top``): ``dense`` global average pool, [Dense ``head_hidden`` units
    (with BatchNorm and no bias if ``head_norm``) + ``head_activation``, as MobileNetV3's and
    MobileNetV4's 1280-wide last layer], dropout, Dense ``logits``;
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
            if head_hidden and num_classes:
                x = layers.Dense(head_hidden, use_bias=not head_norm, name="head_hidden")(x)
                if head_norm:
                    x = layers.BatchNormalization(momentum=bn_momentum, epsilon=bn_epsilon,
                                                  name="head_hidden_bn")(x)
                x = activation(x, head_activation, "head_hidden")
        if num_classes:
            if dropout:
                x = layers.Dropout(dropout, name="dropout")(x)
            x = layers.Dense(num_classes, use_bias=classifier_bias, name="logits")(x)
    if include_top and num_classes and classifier_activation:
        # float32 under a mixed-precision policy too, so the loss sees stable probabilities.
        x = layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)
    return keras.Model(inputs, x, name=name)


def inbound_layers(layer) -> list:
    """The layers whose outputs ``layer`` takes (in a functional model), as a list."""
    inbound = layer.inbound_nodes[0].inbound_layers if layer.inbound_nodes else []
    return inbound if isinstance(inbound, list) else [inbound]


def _input_strides(model) -> dict[str, int]:
    """{layer name: the stride of its input}: the product of the strides along the most-strided
    path from the model's input to the layer."""
    before, after = {}, {}
    for layer in model.layers:
        before[layer.name] = max((after[l.name] for l in inbound_layers(layer)), default=1)
        after[layer.name] = before[layer.name] * max(getattr(layer, "strides", None) or (1,))
    return before


def total_stride(model) -> int:
    """The largest factor by which the model downsamples its input (32 for most ImageNet CNNs):
    the product of the strides along the most-strided path through the graph."""
    before = _input_strides(model)
    return max(before[l.name] * max(getattr(l, "strides", None) or (1,)) for l in model.layers)


def _same_padding(kernel_size, dilation=(1, 1)) -> tuple:
    """Stride-1 'same' zero padding for a window: ((top, bottom), (left, right))."""
    totals = [(k - 1) * d for k, d in zip(kernel_size, dilation)]
    return tuple((t // 2, t - t // 2) for t in totals)


def without_early_strides(model, drop: int, input_shape):
    """``model`` with its first ``drop`` downsamplings (every strided layer whose input is at
    stride < 2**drop, every branch of a block alike) at stride 1 and re-padded 'same', on inputs
    of ``input_shape``; weights kept. The CIFAR-style variant of an ImageNet network: at 32x32 with
    ``drop=2`` the feature maps are those of a 128x128 input (a little larger where the strided
    layer was unpadded, as SqueezeNet's stem). Build ``model`` at ``input_shape``
    times 2**drop, so later layers' padding is computed for the sizes they will see."""
    config = model.get_config()
    by_name = {layer["config"]["name"]: layer for layer in config["layers"]}
    input_strides = _input_strides(model)
    for layer in model.layers:
        strides = getattr(layer, "strides", None)
        if not strides or max(strides) == 1 or input_strides[layer.name] >= 2 ** drop:
            continue
        layer_config = by_name[layer.name]["config"]
        layer_config["strides"] = (1,) * len(strides)
        if layer_config.get("padding") == "valid" and not any(
                isinstance(source, layers.ZeroPadding2D) for source in inbound_layers(layer)):
            layer_config["padding"] = "same"  # an unpadded stem (SqueezeNet's) keeps its size
        for source in inbound_layers(layer):
            if (isinstance(source, layers.ZeroPadding2D)
                    and source.data_format == "channels_last"):
                window = getattr(layer, "kernel_size", None) or layer.pool_size
                by_name[source.name]["config"]["padding"] = _same_padding(
                    window, getattr(layer, "dilation_rate", (1, 1)))
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            layer["config"]["batch_input_shape"] = (None, *input_shape)
    rebuilt = keras.Model.from_config(config)
    rebuilt.set_weights(model.get_weights())
    return rebuilt


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
