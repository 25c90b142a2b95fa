"""Fire module (SqueezeNet, Iandola et al., arXiv 1602.07360)."""

from lite_tf.backend import layers
from lite_tf.blocks.conv import conv_bn_act


def fire(x, squeeze, expand1x1, expand3x3, *, name):
    """1x1 squeeze + ReLU, then parallel 1x1 and 3x3 expands + ReLU, concatenated (no BatchNorm,
    biased convs, as the paper and torchvision)."""
    s = conv_bn_act(x, squeeze, 1, norm=False, name=f"{name}_squeeze")
    e1 = conv_bn_act(s, expand1x1, 1, norm=False, name=f"{name}_expand1x1")
    e3 = conv_bn_act(s, expand3x3, 3, norm=False, name=f"{name}_expand3x3")
    return layers.Concatenate(name=f"{name}_concat")([e1, e3])
