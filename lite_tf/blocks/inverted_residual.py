"""Inverted residual with linear bottleneck (MobileNetV2, arXiv 1801.04381)."""

from lite_tf.blocks.conv import DEFAULT, conv_bn_act, depthwise_bn_act
from lite_tf.backend import layers
from lite_tf.blocks.se import squeeze_excite


def inverted_residual(x, filters, strides=1, expansion=6, *, kernel_size=3, activation_fn="relu6",
                      se_reduction=None, se_gate="sigmoid", expanded=None, cfg=DEFAULT, name):
    """1x1 expand to ``expanded`` channels (default ``expansion`` times the input; skipped when
    that is the input's) -> depthwise kxk -> [squeeze-and-excite] -> linear 1x1 project; identity
    shortcut when the shape is kept. Layers ``name_expand``, ``name_dw``, ``name_se_*``,
    ``name_project``, ``name_add``."""
    in_channels = x.shape[-1]
    expanded = expanded or in_channels * expansion
    y = x
    if expanded != in_channels:
        y = conv_bn_act(y, expanded, 1, activation_fn=activation_fn, cfg=cfg,
                        name=f"{name}_expand")
    y = depthwise_bn_act(y, kernel_size, strides, activation_fn=activation_fn, cfg=cfg,
                         name=f"{name}_dw")
    return se_project_add(x, y, filters, strides, se_reduction=se_reduction, se_gate=se_gate,
                          cfg=cfg, name=name)


def se_project_add(x, y, filters, strides, *, se_reduction, se_gate, cfg, name):
    """The tail of an inverted bottleneck (this one, MobileNetV4's UIB) from its input ``x`` and
    its depthwise output ``y``: [squeeze-and-excite ``name_se_*``] -> linear 1x1 ``name_project``,
    plus ``x`` (``name_add``) when the stride is 1 and the channels are kept."""
    if se_reduction:
        y = squeeze_excite(y, se_reduction, gate=se_gate, name=f"{name}_se")
    y = conv_bn_act(y, filters, 1, activation_fn=None, cfg=cfg, name=f"{name}_project")
    if strides == 1 and x.shape[-1] == filters:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y
