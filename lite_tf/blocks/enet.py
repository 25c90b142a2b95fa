"""ENet bottleneck (Paszke et al., arXiv 1606.02147)."""

from lite_tf.backend import layers
from lite_tf.blocks.channels import channel_pad
from lite_tf.blocks.conv import DEFAULT, activation, batch_norm, conv_bn_act

KINDS = ("regular", "downsample", "dilated", "asymmetric")


def enet_bottleneck(x, filters, kind="regular", *, dilation=2, asymmetric_kernel=5, dropout=0.01,
                    cfg=DEFAULT, name):
    """1x1 projection to filters/4 (2x2 stride 2 when downsampling) + BN + PReLU; 3x3 regular,
    dilated or asymmetric 5x1 + 1x5 conv + BN + PReLU; 1x1 expansion + BN + PReLU; spatial
    dropout; add the shortcut (max-pooled and zero-padded in channels when downsampling); PReLU."""
    if kind not in KINDS:
        raise ValueError(f"{name}: kind must be one of {KINDS}, got {kind!r}")
    internal = max(filters // 4, 1)
    down = kind == "downsample"
    y = conv_bn_act(x, internal, 2 if down else 1, 2 if down else 1, padding=0,
                    activation_fn="prelu", cfg=cfg, name=f"{name}_project")
    if kind == "asymmetric":
        y = layers.Conv2D(internal, (asymmetric_kernel, 1), padding="same", use_bias=False,
                          name=f"{name}_conv_{asymmetric_kernel}x1")(y)
        y = layers.Conv2D(internal, (1, asymmetric_kernel), padding="same", use_bias=False,
                          name=f"{name}_conv")(y)
        y = activation(batch_norm(y, cfg, f"{name}_conv_bn"), "prelu", f"{name}_conv")
    else:
        y = conv_bn_act(y, internal, 3, dilation=dilation if kind == "dilated" else 1,
                        activation_fn="prelu", cfg=cfg, name=f"{name}_conv")
    y = conv_bn_act(y, filters, 1, activation_fn="prelu", cfg=cfg, name=f"{name}_expand")
    if dropout:
        y = layers.SpatialDropout2D(dropout, name=f"{name}_dropout")(y)
    shortcut = x
    if down:
        shortcut = layers.MaxPooling2D(2, 2, name=f"{name}_pool")(shortcut)
    if shortcut.shape[-1] != filters:
        shortcut = channel_pad(shortcut, filters - shortcut.shape[-1], name=f"{name}_pad_channels")
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.PReLU(shared_axes=[1, 2], name=f"{name}_out_prelu")(y)
