"""keras.applications MobileNet / MobileNetV2 / MobileNetV3 -> mobilenet_v1_* / v2_* / v3_*.

The zoo builds the same graphs (TF-style padding, epsilon 1e-3), so the port is a renaming; the
1x1 convs keras.applications uses after pooling (MobileNet's classifier, MobileNetV3's hidden
layer and classifier) become the zoo's Dense layers.
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


def mobilenet_v3_names(model) -> dict[str, str]:
    """keras.applications MobileNetV3 layer name -> layer name of the zoo's MobileNetV3 ``model``."""
    names = {"Conv": "stem", "Conv/BatchNorm": "stem_bn", "Conv_1": "head_conv",
             "Conv_1/BatchNorm": "head_conv_bn", "Conv_2": "head_hidden", "Logits": "logits"}
    for i, block in enumerate(blocks(model)):
        prefix = f"expanded_conv_{i}" if i else "expanded_conv"
        for theirs, ours in (("expand", "expand"), ("depthwise", "dw"), ("project", "project")):
            names[f"{prefix}/{theirs}"] = f"{block}_{ours}"
            names[f"{prefix}/{theirs}/BatchNorm"] = f"{block}_{ours}_bn"
        names[f"{prefix}/squeeze_excite/Conv"] = f"{block}_se_reduce"
        names[f"{prefix}/squeeze_excite/Conv_1"] = f"{block}_se_expand"
    return names


def reference_model(entry, weights: str | None = None):
    """keras.applications' MobileNet, MobileNetV2 or MobileNetV3 as ``entry`` (a registered
    model; 224x224, 1000 classes, logits, no built-in rescaling), with ``weights`` (None,
    'imagenet' or an .h5 file)."""
    options = {"alpha": entry.settings["width"], "weights": weights, "classifier_activation": None}
    if entry.family == "mobilenet_v3":
        build = {"large": keras.applications.MobileNetV3Large,
                 "small": keras.applications.MobileNetV3Small}[entry.settings["size"]]
        return build(minimalistic=entry.settings.get("minimalistic", False),
                     include_preprocessing=False, **options)
    build = {"mobilenet_v1": keras.applications.MobileNet,
             "mobilenet_v2": keras.applications.MobileNetV2}[entry.family]
    return build(**options)


def load_keras_applications(source, model) -> None:
    """Copy a keras.applications MobileNet, MobileNetV2 or MobileNetV3 (any alpha) into the
    matching zoo model."""
    first = source.get_layer(index=1).name
    names = (mobilenet_v2_names(model) if first == "Conv1" else
             mobilenet_v3_names(model) if first == "Conv" else mobilenet_v1_names(model))
    tensors = {}
    for layer in source.layers:
        if not layer.weights:
            continue
        if layer.name not in names:
            raise ValueError(f"{source.name}: no mapping for layer {layer.name!r}")
        weights = layer.get_weights()
        if weights[0].ndim == 4 and names[layer.name] in ("logits", "head_hidden"):
            weights = [weights[0].reshape(weights[0].shape[-2:]), *weights[1:]]  # 1x1 conv -> Dense
        tensors[names[layer.name]] = [np.asarray(w) for w in weights]
    assign_weights(model, tensors)
