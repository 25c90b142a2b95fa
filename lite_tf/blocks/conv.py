"""Convolution building blocks: conv-BN-act, depthwise separable, group conv, two 3x3 convs.

Every block is a plain function of built-in tf_keras layers that names each layer it creates
from ``name``. Strided convolutions pad explicitly (ZeroPadding2D + VALID) in the style of the
reference implementation, chosen by ``BlockConfig.padding``:

- ``"tf"``: TensorFlow 'SAME' (keras.applications; for even inputs the extra row/column goes
  bottom/right, e.g. ((0, 1), (0, 1)) for a 3x3 stride-2 conv);
- ``"symmetric"``: PyTorch's ``padding=k // 2`` on every side.
"""

from __future__ import annotations

import dataclasses
import math

from lite_tf.backend import layers
from lite_tf.blocks.activations import HardSigmoid, HardSwish

ACTIVATIONS = ("relu", "relu6", "prelu", "sigmoid", "hard_sigmoid", "hard_swish", None)


@dataclasses.dataclass(frozen=True)
class BlockConfig:
    """Settings every block shares: BatchNorm statistics and strided-conv padding style."""

    bn_momentum: float = 0.99
    bn_epsilon: float = 1e-3
    padding: str = "symmetric"

    def __post_init__(self):
        if self.padding not in ("tf", "symmetric"):
            raise ValueError(f"padding must be 'tf' or 'symmetric', got {self.padding!r}")


DEFAULT = BlockConfig()


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to a multiple of ``divisor``, never more than 10% down (TF-slim rule)."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def strided_padding(size, kernel_size, strides, style: str, dilation=1):
    """((top, bottom), (left, right)) zero padding for a strided conv or pool."""
    pads = []
    for n, k, s, d in zip(_pair(size), _pair(kernel_size), _pair(strides), _pair(dilation)):
        k = (k - 1) * d + 1
        if style == "tf":
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        else:
            pads.append(((k - 1) // 2, (k - 1) // 2))
    return tuple(pads)


def activation(x, kind: str | None, name: str):
    """Apply a named activation layer (``None`` is linear and adds no layer)."""
    if kind is None:
        return x
    if kind == "relu":
        return layers.ReLU(name=f"{name}_relu")(x)
    if kind == "relu6":
        return layers.ReLU(6.0, name=f"{name}_relu")(x)
    if kind == "prelu":
        return layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(x)
    if kind == "sigmoid":
        return layers.Activation("sigmoid", name=f"{name}_sigmoid")(x)
    if kind == "hard_sigmoid":
        return HardSigmoid(name=f"{name}_hsigmoid")(x)
    if kind == "hard_swish":
        return HardSwish(name=f"{name}_hswish")(x)
    raise ValueError(f"unknown activation {kind!r}; expected one of {ACTIVATIONS}")


def _pad_for(x, kernel_size, strides, padding, dilation, cfg, name):
    """Pad ``x`` for a conv and return (x, keras padding mode)."""
    if padding is None:
        if _pair(strides) == (1, 1):
            return x, "same"
        pads = strided_padding(x.shape[1:3], kernel_size, strides, cfg.padding, dilation)
    else:
        pads = ((padding, padding), (padding, padding)) if isinstance(padding, int) else padding
    if any(p for pair in pads for p in pair):
        x = layers.ZeroPadding2D(pads, name=f"{name}_pad")(x)
    return x, "valid"


def batch_norm(x, cfg: BlockConfig, name: str):
    return layers.BatchNormalization(
        momentum=cfg.bn_momentum, epsilon=cfg.bn_epsilon, name=name
    )(x)


def conv_bn_act(x, filters, kernel_size=3, strides=1, *, groups=1, dilation=1, activation_fn="relu",
                norm=True, use_bias=None, padding=None, cfg=DEFAULT, name):
    """Conv2D -> BatchNorm -> activation; layers ``name``, ``name_bn``, ``name_<act>``.

    ``padding=None`` pads strided convs in ``cfg.padding`` style and uses 'same' otherwise; an int
    (or ((t, b), (l, r))) pads explicitly, 0 meaning VALID. ``norm=False`` drops the BatchNorm
    and gives the conv a bias.
    """
    x, mode = _pad_for(x, kernel_size, strides, padding, dilation, cfg, name)
    x = layers.Conv2D(filters, kernel_size, strides, padding=mode, groups=groups,
                      dilation_rate=dilation, use_bias=(not norm) if use_bias is None else use_bias,
                      name=name)(x)
    if norm:
        x = batch_norm(x, cfg, f"{name}_bn")
    return activation(x, activation_fn, name)


def depthwise_bn_act(x, kernel_size=3, strides=1, *, dilation=1, activation_fn="relu", norm=True,
                     depth_multiplier=1, padding=None, cfg=DEFAULT, name):
    """DepthwiseConv2D -> BatchNorm -> activation (a kernel the size of the map is the GDC)."""
    x, mode = _pad_for(x, kernel_size, strides, padding, dilation, cfg, name)
    x = layers.DepthwiseConv2D(kernel_size, strides, padding=mode, dilation_rate=dilation,
                               depth_multiplier=depth_multiplier, use_bias=not norm, name=name)(x)
    if norm:
        x = batch_norm(x, cfg, f"{name}_bn")
    return activation(x, activation_fn, name)


def depthwise_separable(x, filters, strides=1, *, kernel_size=3, activation_fn="relu6", cfg=DEFAULT,
                        name):
    """Depthwise kxk + pointwise 1x1, each with BN and activation (MobileNetV1, arXiv 1704.04861)."""
    x = depthwise_bn_act(x, kernel_size, strides, activation_fn=activation_fn, cfg=cfg,
                         name=f"{name}_dw")
    return conv_bn_act(x, filters, 1, activation_fn=activation_fn, cfg=cfg, name=f"{name}_pw")


def group_conv(x, filters, groups, kernel_size=1, strides=1, *, activation_fn="relu", cfg=DEFAULT,
               name):
    """Grouped convolution + BN + activation (ShuffleNet, arXiv 1707.01083): ``groups`` times
    fewer weights and MACs than the dense conv."""
    if x.shape[-1] % groups or filters % groups:
        raise ValueError(f"{name}: {x.shape[-1]} -> {filters} channels not divisible by {groups} groups")
    return conv_bn_act(x, filters, kernel_size, strides, groups=groups, activation_fn=activation_fn,
                       cfg=cfg, name=name)


def two_3x3_conv(x, filters, strides=1, *, activation_fn="relu", cfg=DEFAULT, name):
    """Two stacked 3x3 convs with the receptive field of one 5x5: 18 instead of 25 weights per
    channel pair, plus an extra nonlinearity (Inception-v3, arXiv 1512.00567)."""
    x = conv_bn_act(x, filters, 3, strides, activation_fn=activation_fn, cfg=cfg, name=f"{name}_a")
    return conv_bn_act(x, filters, 3, activation_fn=activation_fn, cfg=cfg, name=f"{name}_b")


def max_pool(x, pool_size=3, strides=2, *, padding=0, ceil_mode=False, name):
    """Max pooling with PyTorch's padding and ``ceil_mode`` semantics.

    PyTorch pads pools with -inf; this pads with zeros, which is identical because the zoo only
    pools non-negative activations (after ReLU).
    """
    pads = []
    for n in x.shape[1:3]:
        span = n + 2 * padding - pool_size
        extra = (-span) % strides if ceil_mode else 0
        pads.append((padding, padding + extra))
    if any(p for pair in pads for p in pair):
        x = layers.ZeroPadding2D(tuple(pads), name=f"{name}_pad")(x)
    return layers.MaxPooling2D(pool_size, strides, padding="valid", name=name)(x)
