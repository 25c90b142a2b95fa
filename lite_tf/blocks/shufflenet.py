"""ShuffleNet units: V1 (Zhang et al., arXiv 1707.01083) and V2 (Ma et al., arXiv 1807.11164)."""

from lite_tf.backend import layers
from lite_tf.blocks.channels import channel_shuffle, channel_split
from lite_tf.blocks.conv import DEFAULT, conv_bn_act, depthwise_bn_act


def shufflenet_v1_unit(x, filters, strides, groups, *, group_first=True, cfg=DEFAULT, name):
    """Grouped 1x1 + ReLU -> 3x3 depthwise -> channel shuffle -> grouped linear 1x1; stride 1 adds
    the input then ReLU, stride 2 concatenates a 3x3 average-pooled shortcut.

    As in the official megvii code the bottleneck is filters // 4, the shuffle follows the
    depthwise conv (the two commute), and its permutation views channels as (C/g, g) (the
    inverse of torchvision's view; both interleave every group).
    """
    in_channels = x.shape[-1]
    branch = filters - in_channels if strides == 2 else filters
    mid = filters // 4
    y = conv_bn_act(x, mid, 1, groups=groups if group_first else 1, activation_fn="relu", cfg=cfg,
                    name=f"{name}_gconv1")
    y = depthwise_bn_act(y, 3, strides, activation_fn=None, cfg=cfg, name=f"{name}_dw")
    if groups > 1:
        y = channel_shuffle(y, mid // groups, name=f"{name}_shuffle")
    y = conv_bn_act(y, branch, 1, groups=groups, activation_fn=None, cfg=cfg, name=f"{name}_gconv2")
    if strides == 1:
        y = layers.Add(name=f"{name}_add")([y, x])
        return layers.ReLU(name=f"{name}_relu")(y)
    shortcut = layers.ZeroPadding2D(1, name=f"{name}_pool_pad")(x)
    shortcut = layers.AveragePooling2D(3, strides, name=f"{name}_pool")(shortcut)
    y = layers.ReLU(name=f"{name}_relu")(y)
    return layers.Concatenate(name=f"{name}_concat")([shortcut, y])


def shufflenet_v2_unit(x, filters, strides, *, kernel_size=3, cfg=DEFAULT, name):
    """Stride 1: channel split, the right half through 1x1 -> depthwise -> 1x1. Stride 2: both
    branches see the whole input, the left through depthwise -> 1x1. Concat, shuffle with 2
    groups (torchvision's ``InvertedResidual``). ThunderNet's SNet uses ``kernel_size=5``."""
    branch = filters // 2
    if strides == 1:
        if x.shape[-1] != filters:
            raise ValueError(f"{name}: a stride-1 unit keeps its {x.shape[-1]} channels")
        left, right = channel_split(x, name=f"{name}_split")
    else:
        left = depthwise_bn_act(x, kernel_size, strides, activation_fn=None, cfg=cfg,
                                name=f"{name}_left_dw")
        left = conv_bn_act(left, branch, 1, activation_fn="relu", cfg=cfg, name=f"{name}_left_pw")
        right = x
    right = conv_bn_act(right, branch, 1, activation_fn="relu", cfg=cfg, name=f"{name}_right_pw1")
    right = depthwise_bn_act(right, kernel_size, strides, activation_fn=None, cfg=cfg,
                             name=f"{name}_right_dw")
    right = conv_bn_act(right, branch, 1, activation_fn="relu", cfg=cfg, name=f"{name}_right_pw2")
    y = layers.Concatenate(name=f"{name}_concat")([left, right])
    return channel_shuffle(y, 2, name=f"{name}_shuffle")
