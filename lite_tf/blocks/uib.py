"""The universal inverted bottleneck and the fused inverted bottleneck (MobileNetV4, Qin et al.,
arXiv 2404.10518)."""

from lite_tf.blocks.conv import DEFAULT, conv_bn_act, depthwise_bn_act, make_divisible
from lite_tf.blocks.inverted_residual import se_project_add


def universal_inverted_bottleneck(x, filters, strides=1, expansion=4, *, start_kernel=0,
                                  mid_kernel=3, activation_fn="relu", se_reduction=None,
                                  se_gate="sigmoid", cfg=DEFAULT, name):
    """[depthwise ``start_kernel``, linear] -> 1x1 expand -> [depthwise ``mid_kernel``] -> linear 1x1
    project, identity shortcut when the shape is kept. Its instances: ExtraDW (both depthwise
    convs), IR (mid only: MobileNetV2's block), ConvNeXt-like (start only), FFN (neither). The
    stride goes to the mid depthwise conv, else to the start one. ``se_reduction``: a
    squeeze-and-excite before the projection (not in MobileNetV4; the architecture search's).
    Layers ``name_dw_start``, ``name_expand``, ``name_dw``, ``name_se_*``, ``name_project``,
    ``name_add``."""
    if strides > 1 and not (start_kernel or mid_kernel):
        raise ValueError(f"{name}: a strided UIB needs a depthwise conv")
    in_channels = x.shape[-1]
    y = x
    if start_kernel:
        y = depthwise_bn_act(y, start_kernel, 1 if mid_kernel else strides, activation_fn=None,
                             cfg=cfg, name=f"{name}_dw_start")
    y = conv_bn_act(y, make_divisible(in_channels * expansion), 1, activation_fn=activation_fn,
                    cfg=cfg, name=f"{name}_expand")
    if mid_kernel:
        y = depthwise_bn_act(y, mid_kernel, strides, activation_fn=activation_fn, cfg=cfg,
                             name=f"{name}_dw")
    return se_project_add(x, y, filters, strides, se_reduction=se_reduction, se_gate=se_gate,
                          cfg=cfg, name=name)


def fused_inverted_residual(x, filters, strides=1, expansion=4, *, kernel_size=3,
                            activation_fn="relu", cfg=DEFAULT, name):
    """A full kxk conv expanding to ``expansion`` times the input (in place of 1x1 + depthwise),
    then a linear 1x1 project; identity shortcut when the shape is kept (FusedIB, EfficientNetV2's
    and MobileNetV4's first block). Layers ``name_expand``, ``name_project``, ``name_add``."""
    y = conv_bn_act(x, make_divisible(x.shape[-1] * expansion), kernel_size, strides,
                    activation_fn=activation_fn, cfg=cfg, name=f"{name}_expand")
    return se_project_add(x, y, filters, strides, se_reduction=None, se_gate=None, cfg=cfg, name=name)
