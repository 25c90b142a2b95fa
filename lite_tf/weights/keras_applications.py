"""keras.applications MobileNet / MobileNetV2 -> mobilenet_v1_* / mobilenet_v2_*.

The zoo builds the same graphs (TF-style padding, epsilon 1e-3), so the port is a renaming; the
MobileNet classifier, a 1x1 conv there, becomes the Dense ``logits``.
"""

from __future__ import annotations

import numpy as np

from lite_tf.models import mobilenet_v1, mobilenet_v2
from lite_tf.weights.transfer import assign_weights


def _blocks(stages, blocks_index):
    return [(s, b) for s, stage in enumerate(stages, 1) for b in range(1, stage[blocks_index] + 1)]


def mobilenet_v1_names() -> dict[str, str]:
    """keras.applications MobileNet layer name -> zoo layer name."""
    names = {"conv1": "stem", "conv1_bn": "stem_bn", "conv_preds": "logits"}
    for i, (s, b) in enumerate(_blocks(mobilenet_v1.STAGES, 1), 1):
        for part in ("dw", "pw"):
            names[f"conv_{part}_{i}"] = f"s{s}b{b}_{part}"
            names[f"conv_{part}_{i}_bn"] = f"s{s}b{b}_{part}_bn"
    return names


def mobilenet_v2_names() -> dict[str, str]:
    """keras.applications MobileNetV2 layer name -> zoo layer name."""
    names = {"Conv1": "stem", "bn_Conv1": "stem_bn", "Conv_1": "head_conv",
             "Conv_1_bn": "head_conv_bn", "predictions": "logits"}
    for i, (s, b) in enumerate(_blocks(mobilenet_v2.STAGES, 2)):
        prefix = f"block_{i}_" if i else "expanded_conv_"
        for theirs, ours in (("expand", "expand"), ("depthwise", "dw"), ("project", "project")):
            if i or theirs != "expand":
                names[prefix + theirs] = f"s{s}b{b}_{ours}"
                names[f"{prefix}{theirs}_BN"] = f"s{s}b{b}_{ours}_bn"
    return names


def reference_model(model: str, weights: str | None = None):
    """keras.applications' MobileNet or MobileNetV2 at ``model``'s width (224x224, 1000 classes,
    logits), with ``weights`` (None, 'imagenet' or an .h5 file)."""
    from lite_tf.backend import keras
    from lite_tf.models import get_entry

    entry = get_entry(model)
    build = {"mobilenet_v1": keras.applications.MobileNet,
             "mobilenet_v2": keras.applications.MobileNetV2}[entry.family]
    return build(alpha=entry.settings["width"], weights=weights, classifier_activation=None)


def load_keras_applications(source, model) -> None:
    """Copy a keras.applications MobileNet or MobileNetV2 (any alpha) into the matching zoo model."""
    names = mobilenet_v2_names() if source.get_layer(index=1).name == "Conv1" else mobilenet_v1_names()
    tensors = {}
    for layer in source.layers:
        if not layer.weights:
            continue
        if layer.name not in names:
            raise ValueError(f"{source.name}: no mapping for layer {layer.name!r}")
        weights = layer.get_weights()
        if layer.name == "conv_preds":  # 1x1 conv classifier -> Dense
            weights = [weights[0].reshape(weights[0].shape[-2:]), weights[1]]
        tensors[names[layer.name]] = [np.asarray(w) for w in weights]
    assign_weights(model, tensors)
