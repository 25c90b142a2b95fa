"""Factorized kx1 + 1xk convolutions and ERFNet's non-bottleneck-1D (Romera et al., 2017)."""

from lite_tf.backend import layers
from lite_tf.blocks.conv import DEFAULT, batch_norm


def factorized_conv(x, filters, kernel_size=3, *, dilation=1, activation_fn="relu", norm=True,
                    cfg=DEFAULT, name):
    """kx1 conv (+ ReLU) then 1xk conv (+ BN) (+ activation): 2k instead of k*k weights per
    channel pair. Layers ``name_kx1``, ``name_1xk``."""
    x = layers.Conv2D(filters, (kernel_size, 1), padding="same", dilation_rate=(dilation, 1),
                      name=f"{name}_{kernel_size}x1")(x)
    x = layers.ReLU(name=f"{name}_{kernel_size}x1_relu")(x)
    x = layers.Conv2D(filters, (1, kernel_size), padding="same", dilation_rate=(1, dilation),
                      name=f"{name}_1x{kernel_size}")(x)
    if norm:
        x = batch_norm(x, cfg, f"{name}_bn")
    if activation_fn:
        x = layers.ReLU(name=f"{name}_relu")(x)
    return x


def non_bottleneck_1d(x, dilation=1, dropout=0.0, *, cfg=DEFAULT, name):
    """ERFNet non-bottleneck-1D: 3x1, ReLU, 1x3, BN, ReLU, 3x1 dilated, ReLU, 1x3 dilated, BN,
    dropout, ReLU(out + input)."""
    channels = x.shape[-1]
    y = factorized_conv(x, channels, 3, cfg=cfg, name=f"{name}_a")
    y = factorized_conv(y, channels, 3, dilation=dilation, activation_fn=None, cfg=cfg,
                        name=f"{name}_b")
    if dropout:
        y = layers.SpatialDropout2D(dropout, name=f"{name}_dropout")(y)
    y = layers.Add(name=f"{name}_add")([x, y])
    return layers.ReLU(name=f"{name}_relu")(y)
