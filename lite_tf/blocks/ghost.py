"""The ghost module and ghost bottleneck (GhostNet, Han et al., arXiv 1911.11907)."""

import math

from lite_tf.backend import layers
from lite_tf.blocks.channels import channel_slice
from lite_tf.blocks.conv import DEFAULT, conv_bn_act, depthwise_bn_act
from lite_tf.blocks.se import squeeze_excite


def ghost_module(x, filters, *, ratio=2, dw_size=3, activation_fn="relu", cfg=DEFAULT, name):
    """A 1x1 conv to ceil(filters / ratio) "intrinsic" maps, then a cheap depthwise conv making
    (ratio - 1) "ghost" maps from each; both concatenated (and cut to ``filters``). Layers
    ``name_primary``, ``name_cheap``, ``name_concat``[, ``name_slice``]."""
    intrinsic = math.ceil(filters / ratio)
    primary = conv_bn_act(x, intrinsic, 1, activation_fn=activation_fn, cfg=cfg,
                          name=f"{name}_primary")
    cheap = depthwise_bn_act(primary, dw_size, activation_fn=activation_fn, cfg=cfg,
                             depth_multiplier=ratio - 1, name=f"{name}_cheap")
    y = layers.Concatenate(name=f"{name}_concat")([primary, cheap])
    return channel_slice(y, 0, filters, name=f"{name}_slice") if y.shape[-1] > filters else y


def ghost_bottleneck(x, hidden, filters, strides=1, *, kernel_size=3, se_reduction=None,
                     se_divisor=4, cfg=DEFAULT, name):
    """Ghost module (ReLU) to ``hidden`` channels -> [depthwise kxk at ``strides``] -> [SE,
    hard-sigmoid gate] -> linear ghost module to ``filters``; the shortcut is the input, or a
    depthwise kxk + 1x1 conv where the shape changes. Layers ``name_ghost1``, ``name_dw``,
    ``name_se_*``, ``name_ghost2``, ``name_shortcut_dw`` / ``_pw``, ``name_add``."""
    in_channels = x.shape[-1]
    y = ghost_module(x, hidden, cfg=cfg, name=f"{name}_ghost1")
    if strides > 1:
        y = depthwise_bn_act(y, kernel_size, strides, activation_fn=None, cfg=cfg, name=f"{name}_dw")
    if se_reduction:
        y = squeeze_excite(y, se_reduction, divisor=se_divisor, gate="hard_sigmoid",
                           name=f"{name}_se")
    y = ghost_module(y, filters, activation_fn=None, cfg=cfg, name=f"{name}_ghost2")
    shortcut = x
    if strides > 1 or in_channels != filters:
        shortcut = depthwise_bn_act(x, kernel_size, strides, activation_fn=None, cfg=cfg,
                                    name=f"{name}_shortcut_dw")
        shortcut = conv_bn_act(shortcut, filters, 1, activation_fn=None, cfg=cfg,
                               name=f"{name}_shortcut_pw")
    return layers.Add(name=f"{name}_add")([shortcut, y])
