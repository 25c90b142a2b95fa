"""Zoo layer -> state_dict prefix of each PyTorch reference implementation.

- torchvision ``mobilenet_v2``, ``mobilenet_v3_*``, ``mnasnet*``, ``shufflenet_v2_x*``,
  ``squeezenet1_*``;
- timm's ``mobilenetv3_*`` / ``tf_mobilenetv3_*``, ``tf_efficientnet_lite*``, ``mnasnet_100`` (its
  ``_efficientnet_blocks.py`` layouts), ``mobilenetv4_conv_*`` and ``ghostnet_100``;
- the official MobileNeXt code (``mnext.py``, ``MXNet``);
- megvii's ShuffleNetV1 (``ShuffleNet-Series/ShuffleNetV1/network.py``).

Each map is built from the zoo model's own block names (``s<stage>b<block>``), in order.
"""

from __future__ import annotations

import re

from lite_tf.weights.torch_state import sequential


def blocks(model) -> list[str]:
    """The model's block prefixes (``s1b1``, ``s2b1``, ...) in graph order."""
    found = []
    for layer in model.layers:
        match = re.match(r"s\d+b\d+(?=_)", layer.name)
        if match and match.group() not in found:
            found.append(match.group())
    return found


def _has(model, name: str) -> bool:
    return any(layer.name == name for layer in model.layers)


def torchvision_mobilenet_v2(model) -> dict[str, str]:
    names = {"stem": "features.0.0", "stem_bn": "features.0.1", "head_conv": "features.18.0",
             "head_conv_bn": "features.18.1", "logits": "classifier.1"}
    for i, block in enumerate(blocks(model), 1):
        parts = ["expand", "dw"] if _has(model, f"{block}_expand") else ["dw"]
        for j, part in enumerate(parts):  # Conv2dNormActivation: .0 conv, .1 BN
            names[f"{block}_{part}"] = f"features.{i}.conv.{j}.0"
            names[f"{block}_{part}_bn"] = f"features.{i}.conv.{j}.1"
        names[f"{block}_project"] = f"features.{i}.conv.{len(parts)}"
        names[f"{block}_project_bn"] = f"features.{i}.conv.{len(parts) + 1}"
    return names


def torchvision_mnasnet(model) -> dict[str, str]:
    """``layers``: stem conv, BN, ReLU; the separable block (dw, BN, ReLU, pw, BN); one Sequential
    per stage of _InvertedResidual (``layers``: pw, BN, ReLU, dw, BN, ReLU, pw, BN); the last conv
    and BN at ``layers.14/15``; ``classifier.1``."""
    names = {"stem": "layers.0", "stem_bn": "layers.1", "s1b1_dw": "layers.3", "s1b1_dw_bn": "layers.4",
             "s1b1_project": "layers.6", "s1b1_project_bn": "layers.7", "head_conv": "layers.14",
             "head_conv_bn": "layers.15", "logits": "classifier.1"}
    for block in blocks(model)[1:]:
        s, b = map(int, re.findall(r"\d+", block))
        names.update(sequential(f"layers.{s + 6}.{b - 1}.layers", [
            (f"{block}_expand", True), (f"{block}_dw", True), (f"{block}_project", False)]))
    return names


def torchvision_shufflenet_v2(model) -> dict[str, str]:
    names = {"stem": "conv1.0", "stem_bn": "conv1.1", "head_conv": "conv5.0",
             "head_conv_bn": "conv5.1", "logits": "fc"}
    for block in blocks(model):
        s, b = map(int, re.findall(r"\d+", block))
        prefix = f"stage{s + 1}.{b - 1}"
        if _has(model, f"{block}_left_dw"):
            names.update(sequential(f"{prefix}.branch1", [(f"{block}_left_dw", False),
                                                          (f"{block}_left_pw", True)]))
        names.update(sequential(f"{prefix}.branch2", [(f"{block}_right_pw1", True),
                                                      (f"{block}_right_dw", False),
                                                      (f"{block}_right_pw2", True)]))
    return names


def torchvision_squeezenet(model) -> dict[str, str]:
    """``features`` is conv, ReLU, max-pool, then the Fire modules with max-pools between."""
    names, index = {"stem": "features.0", "logits": "classifier.1"}, 3
    for layer in model.layers:
        if re.fullmatch(r"fire\d+_pool", layer.name):
            index += 1
        elif layer.name.endswith("_concat"):
            fire = layer.name.removesuffix("_concat")
            for part in ("squeeze", "expand1x1", "expand3x3"):
                names[f"{fire}_{part}"] = f"features.{index}.{part}"
            index += 1
    return names


def official_mobilenext(model) -> dict[str, str]:
    """``features.0`` the stem, then one ``SGBlock`` per block whose ``conv`` Sequential holds
    [dw1 + ReLU6], reduce, expand + ReLU6, [dw2], each conv followed by its BatchNorm."""
    names = {"stem": "features.0.0", "stem_bn": "features.0.1", "logits": "classifier.1"}
    for i, block in enumerate(blocks(model), 1):
        parts = [(f"{block}_{part}", activation)
                 for part, activation in (("dw1", True), ("reduce", False), ("expand", True),
                                          ("dw2", False))
                 if _has(model, f"{block}_{part}")]
        names.update(sequential(f"features.{i}.conv", parts))
    return names


def megvii_shufflenet_v1(model) -> dict[str, str]:
    """``first_conv``, then one unit per ``features.i``: ``branch_main_1`` (1x1 group conv + ReLU,
    depthwise), ``branch_main_2`` (1x1 group conv); ``classifier`` has no bias."""
    names = {"stem": "first_conv.0", "stem_bn": "first_conv.1", "logits": "classifier.0"}
    for i, block in enumerate(blocks(model)):
        names.update(sequential(f"features.{i}.branch_main_1", [(f"{block}_gconv1", True),
                                                               (f"{block}_dw", False)]))
        names.update(sequential(f"features.{i}.branch_main_2", [(f"{block}_gconv2", False)]))
    return names


def _se(block: str, reduce: str, expand: str) -> dict[str, str]:
    return {f"{block}_se_reduce": reduce, f"{block}_se_expand": expand}


def torchvision_mobilenet_v3(model) -> dict[str, str]:
    """``features.0`` the stem; one ``InvertedResidual`` per block, whose ``block`` Sequential
    holds [expand], dw, [SqueezeExcitation fc1 / fc2], project (each Conv2dNormActivation: .0
    conv, .1 BN); then the last conv; ``classifier`` is Linear, Hardswish, Dropout, Linear."""
    found = blocks(model)
    names = {"stem": "features.0.0", "stem_bn": "features.0.1",
             "head_conv": f"features.{len(found) + 1}.0", "head_conv_bn": f"features.{len(found) + 1}.1",
             "head_hidden": "classifier.0", "logits": "classifier.3"}
    for i, block in enumerate(found, 1):
        j = 0
        for part in ("expand", "dw", "se", "project"):
            if part == "se" and _has(model, f"{block}_se_reduce"):
                names.update(_se(block, f"features.{i}.block.{j}.fc1", f"features.{i}.block.{j}.fc2"))
            elif part != "se" and _has(model, f"{block}_{part}"):
                names[f"{block}_{part}"] = f"features.{i}.block.{j}.0"
                names[f"{block}_{part}_bn"] = f"features.{i}.block.{j}.1"
            else:
                continue
            j += 1
    return names


def _timm_blocks(model) -> tuple[dict[str, str], int]:
    """timm's ``blocks.<stage>.<block>`` (EfficientNet / MobileNetV3 builders): the first a
    DepthwiseSeparableConv (conv_dw, bn1, se, conv_pw, bn2), the others InvertedResidual
    (conv_pw, bn1, conv_dw, bn2, se, conv_pwl, bn3); and the number of stages."""
    names, stages = {}, 0
    for block in blocks(model):
        s, b = map(int, re.findall(r"\d+", block))
        prefix, stages = f"blocks.{s - 1}.{b - 1}", max(stages, s)
        if _has(model, f"{block}_expand"):
            parts = {"expand": ("conv_pw", "bn1"), "dw": ("conv_dw", "bn2"), "project": ("conv_pwl", "bn3")}
        else:
            parts = {"dw": ("conv_dw", "bn1"), "project": ("conv_pw", "bn2")}
        for part, (conv, bn) in parts.items():
            names[f"{block}_{part}"], names[f"{block}_{part}_bn"] = f"{prefix}.{conv}", f"{prefix}.{bn}"
        if _has(model, f"{block}_se_reduce"):
            names.update(_se(block, f"{prefix}.se.conv_reduce", f"{prefix}.se.conv_expand"))
    return names, stages


def timm_mobilenet_v3(model) -> dict[str, str]:
    """timm's MobileNetV3: ``conv_stem`` / ``bn1``, the blocks, the last conv ``blocks.<n>.0``,
    ``conv_head`` (the hidden layer after pooling) and ``classifier``."""
    names, stages = _timm_blocks(model)
    names.update({"stem": "conv_stem", "stem_bn": "bn1", "head_hidden": "conv_head",
                  "logits": "classifier", "head_conv": f"blocks.{stages}.0.conv",
                  "head_conv_bn": f"blocks.{stages}.0.bn1"})
    return names


def timm_efficientnet(model) -> dict[str, str]:
    """timm's EfficientNet (tf_efficientnet_lite*): ``conv_stem`` / ``bn1``, the blocks,
    ``conv_head`` / ``bn2`` (the last conv, before pooling) and ``classifier``."""
    names, _ = _timm_blocks(model)
    names.update({"stem": "conv_stem", "stem_bn": "bn1", "head_conv": "conv_head",
                  "head_conv_bn": "bn2", "logits": "classifier"})
    return names


def timm_ghostnet(model) -> dict[str, str]:
    """timm's GhostNet: ``conv_stem`` / ``bn1``; ``blocks.<stage>.<block>`` with ghost1 / ghost2
    (``primary_conv`` and ``cheap_operation``, each conv .0 and BN .1), ``conv_dw`` / ``bn_dw``,
    ``se``, ``shortcut`` (dw, BN, pw, BN); the last conv ``blocks.9.0``; ``conv_head`` (the hidden
    layer after pooling) and ``classifier``."""
    names = {"stem": "conv_stem", "stem_bn": "bn1", "head_hidden": "conv_head", "logits": "classifier"}
    stages = 0
    for block in blocks(model):
        s, b = map(int, re.findall(r"\d+", block))
        prefix, stages = f"blocks.{s - 1}.{b - 1}", max(stages, s)
        for ghost in ("ghost1", "ghost2"):
            for ours, theirs in (("primary", "primary_conv"), ("cheap", "cheap_operation")):
                names[f"{block}_{ghost}_{ours}"] = f"{prefix}.{ghost}.{theirs}.0"
                names[f"{block}_{ghost}_{ours}_bn"] = f"{prefix}.{ghost}.{theirs}.1"
        if _has(model, f"{block}_dw"):
            names[f"{block}_dw"], names[f"{block}_dw_bn"] = f"{prefix}.conv_dw", f"{prefix}.bn_dw"
        if _has(model, f"{block}_se_reduce"):
            names.update(_se(block, f"{prefix}.se.conv_reduce", f"{prefix}.se.conv_expand"))
        if _has(model, f"{block}_shortcut_dw"):
            names.update(sequential(f"{prefix}.shortcut", [(f"{block}_shortcut_dw", False),
                                                          (f"{block}_shortcut_pw", False)]))
    names["head_conv"], names["head_conv_bn"] = f"blocks.{stages}.0.conv", f"blocks.{stages}.0.bn1"
    return names


def timm_mobilenet_v4(model) -> dict[str, str]:
    """timm's MobileNetV4: ``conv_stem`` / ``bn1``; ``blocks.<stage>.<block>``: a ConvBnAct
    (``conv``, ``bn1``), an EdgeResidual (``conv_exp``, ``bn1``, ``conv_pwl``, ``bn2``) or a
    UniversalInvertedResidual (``dw_start``, ``pw_exp``, ``dw_mid``, ``pw_proj``, each ``.conv`` and
    ``.bn``); the last conv ``blocks.4.0``; ``conv_head`` / ``norm_head`` (the hidden layer after
    pooling and its BatchNorm) and ``classifier``."""
    names = {"stem": "conv_stem", "stem_bn": "bn1", "head_hidden": "conv_head",
             "head_hidden_bn": "norm_head", "logits": "classifier"}
    uib = {"dw_start": "dw_start", "expand": "pw_exp", "dw": "dw_mid", "project": "pw_proj"}
    stages = 0
    for block in blocks(model):
        s, b = map(int, re.findall(r"\d+", block))
        prefix, stages = f"blocks.{s - 1}.{b - 1}", max(stages, s)
        if _has(model, block):  # a plain conv block
            names[block], names[f"{block}_bn"] = f"{prefix}.conv", f"{prefix}.bn1"
        elif model.get_layer(f"{block}_expand").kernel_size == (1, 1):
            for ours, theirs in uib.items():
                if _has(model, f"{block}_{ours}"):
                    names[f"{block}_{ours}"] = f"{prefix}.{theirs}.conv"
                    names[f"{block}_{ours}_bn"] = f"{prefix}.{theirs}.bn"
        else:  # fused
            names.update({f"{block}_expand": f"{prefix}.conv_exp", f"{block}_expand_bn": f"{prefix}.bn1",
                          f"{block}_project": f"{prefix}.conv_pwl", f"{block}_project_bn": f"{prefix}.bn2"})
    names["head_conv"], names["head_conv_bn"] = f"blocks.{stages}.0.conv", f"blocks.{stages}.0.bn1"
    return names

