"""Building blocks of lightweight CNNs, each a plain function of built-in tf_keras layers."""

from lite_tf.blocks.activations import HardSigmoid, HardSwish
from lite_tf.blocks.channels import channel_pad, channel_shuffle, channel_slice, channel_split
from lite_tf.blocks.conv import (DEFAULT, BlockConfig, activation, conv_bn_act, depthwise_bn_act,
                                 depthwise_separable, group_conv, make_divisible, max_pool,
                                 two_3x3_conv)
from lite_tf.blocks.crelu import crelu
from lite_tf.blocks.enet import enet_bottleneck
from lite_tf.blocks.factorized import factorized_conv, non_bottleneck_1d
from lite_tf.blocks.fire import fire
from lite_tf.blocks.gdc import gdc_head
from lite_tf.blocks.ghost import ghost_bottleneck, ghost_module
from lite_tf.blocks.inverted_residual import inverted_residual
from lite_tf.blocks.sandglass import sandglass, sandglass_form, sandglass_hidden
from lite_tf.blocks.se import squeeze_excite
from lite_tf.blocks.shufflenet import shufflenet_v1_unit, shufflenet_v2_unit
from lite_tf.blocks.uib import fused_inverted_residual, universal_inverted_bottleneck

__all__ = [
    "BlockConfig", "DEFAULT", "HardSigmoid", "HardSwish", "activation", "channel_pad",
    "channel_shuffle", "channel_slice", "channel_split", "conv_bn_act", "crelu",
    "depthwise_bn_act", "depthwise_separable", "enet_bottleneck", "factorized_conv", "fire",
    "fused_inverted_residual", "gdc_head", "ghost_bottleneck", "ghost_module", "group_conv",
    "inverted_residual", "make_divisible", "max_pool", "non_bottleneck_1d", "sandglass",
    "sandglass_form", "sandglass_hidden", "shufflenet_v1_unit", "shufflenet_v2_unit",
    "squeeze_excite", "two_3x3_conv", "universal_inverted_bottleneck",
]
