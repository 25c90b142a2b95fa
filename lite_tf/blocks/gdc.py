"""Global depthwise convolution head (MobileFaceNet, Chen et al., arXiv 1804.07573)."""

from lite_tf.backend import layers
from lite_tf.blocks.conv import DEFAULT, conv_bn_act, depthwise_bn_act


def gdc_head(x, embedding_dim=128, *, cfg=DEFAULT, name):
    """Linear depthwise conv whose kernel is the whole feature map (weighting each position,
    unlike global average pooling) + BN, linear 1x1 to the embedding + BN, flatten."""
    x = depthwise_bn_act(x, tuple(x.shape[1:3]), padding=0, activation_fn=None, cfg=cfg,
                         name=f"{name}_gdconv")
    x = conv_bn_act(x, embedding_dim, 1, activation_fn=None, cfg=cfg, name=f"{name}_linear")
    return layers.Flatten(name=f"{name}_embedding")(x)
