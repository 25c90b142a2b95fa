"""keras.applications MobileNet / MobileNetV2 -> mobilenet_v1_* / mobilenet_v2_*.

The zoo builds the same graphs (TF-style padding, epsilon 1e-3), so the port is a renaming; the
MobileNet classifier, a 1x1 conv there, becomes the Dense ``logits``.
"""

from __future__ import annotations

import numpy as np

from lite_tf.backend import keras
from lite_tf.weights.pytorch_names import blocks
from lite_tf.weights.transfer import assign_weights


def mobilenet_v1_names(model) -> dict[str, str]:
    """keras.applications MobileNet layer name -> layer name of the zoo's MobileNetV1 ``model``."""
    names = {"conv1": "stem", "conv1_bn": "stem_bn", "conv_preds": "logits"}
    for i, block in enumerate(blocks(model), 1):
        for part in ("dw", "pw"):
            names[f"conv_{part}_{i}"] = f"{block}_{part}"
            names[f"conv_{part}_{i}_bn"] = f"{block}_{part}_bn"
    return names


def mobilenet_v2_names(model) -> dict[str, str]:
    """keras.applications MobileNetV2 layer name -> layer name of the zoo's MobileNetV2 ``model``."""
    names = {"Conv1": "stem", "bn_Conv1": "stem_bn", "Conv_1": "head_conv",
             "Conv_1_bn": "head_conv_bn", "predictions": "logits"}
    for i, block in enumerate(blocks(model)):
        prefix = f"block_{i}_" if i else "expanded_conv_"
        for theirs, ours in (("expand", "expand"), ("depthwise", "dw"), ("project", "project")):
            if i or theirs != "expand":
                names[prefix + theirs] = f"{block}_{ours}"
                names[f"{prefix}{theirs}_BN"] = f"{block}_{ours}_bn"
    return names


def reference_model(entry, weights: str | None = None):
    """keras.applications' MobileNet or MobileNetV2 at the width of ``entry`` (a registered
    model; 224x224, 1000 classes, logits), with ``weights`` (None, 'imagenet' or an .h5 file)."""
    build = {"mobilenet_v1": keras.applications.MobileNet,
             "mobilenet_v2": keras.applications.MobileNetV2}[entry.family]
    return build(alpha=entry.settings["width"], weights=weights, classifier_activation=None)


def load_keras_applications(source, model) -> None:
    """Copy a keras.applications MobileNet or MobileNetV2 (any alpha) into the matching zoo model."""
    v2 = source.get_layer(index=1).name == "Conv1"
    names = mobilenet_v2_names(model) if v2 else mobilenet_v1_names(model)
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
