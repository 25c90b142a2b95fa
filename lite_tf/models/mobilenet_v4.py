"""MobileNetV4-Conv Small / Medium / Large (Qin et al., arXiv 2404.10518), as timm's
mobilenetv4_conv_*: universal inverted bottlenecks (ExtraDW, IR, ConvNeXt-like, FFN), a fused
first block (Medium, Large), ReLU, no SE, a 1280-wide hidden layer with BatchNorm after pooling."""

from lite_tf.blocks import conv_bn_act
from lite_tf.blocks.uib import fused_inverted_residual, universal_inverted_bottleneck
from lite_tf.models.registry import register

# Per stage, (block, repeats, start kernel, mid kernel, stride, expansion, out channels): the
# paper's Tables 11-13. "conv": a plain conv (mid kernel); "fused": a FusedIB; "uib": a UIB
# (start / mid kernel 0: that depthwise conv is absent).
SMALL = [[("conv", 1, 0, 3, 2, 1, 32), ("conv", 1, 0, 1, 1, 1, 32)],
         [("conv", 1, 0, 3, 2, 1, 96), ("conv", 1, 0, 1, 1, 1, 64)],
         [("uib", 1, 5, 5, 2, 3, 96), ("uib", 4, 0, 3, 1, 2, 96), ("uib", 1, 3, 0, 1, 4, 96)],
         [("uib", 1, 3, 3, 2, 6, 128), ("uib", 1, 5, 5, 1, 4, 128), ("uib", 1, 0, 5, 1, 4, 128),
          ("uib", 1, 0, 5, 1, 3, 128), ("uib", 2, 0, 3, 1, 4, 128)]]
MEDIUM = [[("fused", 1, 0, 3, 2, 4, 48)],
          [("uib", 1, 3, 5, 2, 4, 80), ("uib", 1, 3, 3, 1, 2, 80)],
          [("uib", 1, 3, 5, 2, 6, 160), ("uib", 2, 3, 3, 1, 4, 160), ("uib", 1, 3, 5, 1, 4, 160),
           ("uib", 1, 3, 3, 1, 4, 160), ("uib", 1, 3, 0, 1, 4, 160), ("uib", 1, 0, 0, 1, 2, 160),
           ("uib", 1, 3, 0, 1, 4, 160)],
          [("uib", 1, 5, 5, 2, 6, 256), ("uib", 1, 5, 5, 1, 4, 256), ("uib", 2, 3, 5, 1, 4, 256),
           ("uib", 1, 0, 0, 1, 4, 256), ("uib", 1, 3, 0, 1, 4, 256), ("uib", 1, 3, 5, 1, 2, 256),
           ("uib", 1, 5, 5, 1, 4, 256), ("uib", 2, 0, 0, 1, 4, 256), ("uib", 1, 5, 0, 1, 2, 256)]]
LARGE = [[("fused", 1, 0, 3, 2, 4, 48)],
         [("uib", 1, 3, 5, 2, 4, 96), ("uib", 1, 3, 3, 1, 4, 96)],
         [("uib", 1, 3, 5, 2, 4, 192), ("uib", 3, 3, 3, 1, 4, 192), ("uib", 1, 3, 5, 1, 4, 192),
          ("uib", 5, 5, 3, 1, 4, 192), ("uib", 1, 3, 0, 1, 4, 192)],
         [("uib", 4, 5, 5, 2, 4, 512), ("uib", 1, 5, 0, 1, 4, 512), ("uib", 1, 5, 3, 1, 4, 512),
          ("uib", 2, 5, 0, 1, 4, 512), ("uib", 1, 5, 3, 1, 4, 512), ("uib", 1, 5, 5, 1, 4, 512),
          ("uib", 3, 5, 0, 1, 4, 512)]]
# size: (table, stem channels, input size)
SIZES = {"small": (SMALL, 32, 224), "medium": (MEDIUM, 32, 256), "large": (LARGE, 24, 384)}


def features(x, *, width, cfg, size):
    table, stem, _ = SIZES[size]
    x = conv_bn_act(x, stem, 3, 2, cfg=cfg, name="stem")
    for s, stage in enumerate(table, 1):
        b = 0
        for kind, repeats, start, mid, stride, expansion, out in stage:
            for r in range(repeats):
                b, strides, name = b + 1, stride if r == 0 else 1, f"s{s}b{b + 1}"
                if kind == "conv":
                    x = conv_bn_act(x, out, mid, strides, cfg=cfg, name=name)
                elif kind == "fused":
                    x = fused_inverted_residual(x, out, strides, expansion, kernel_size=mid,
                                                cfg=cfg, name=name)
                else:
                    x = universal_inverted_bottleneck(x, out, strides, expansion, start_kernel=start,
                                                      mid_kernel=mid, cfg=cfg, name=name)
    return conv_bn_act(x, 960, 1, cfg=cfg, name="head_conv")


for _size, (_, _, _input) in SIZES.items():
    register(f"mobilenet_v4_conv_{_size}", "mobilenet_v4", features, width=1.0, size=_size,
             input_shape=(_input, _input, 3), head_hidden=1280, head_activation="relu",
             head_norm=True, dropout=0.2, padding="symmetric", bn_momentum=0.9, bn_epsilon=1e-5)
