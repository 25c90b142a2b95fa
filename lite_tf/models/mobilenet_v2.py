"""MobileNetV2 (Sandler et al., arXiv 1801.04381), as keras.applications / torchvision."""

from lite_tf.blocks import conv_bn_act, inverted_residual, make_divisible
from lite_tf.models.registry import register

# (expansion t, filters c, blocks n, stride s) per stage: the paper's Table 2.
STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
          (6, 160, 3, 2), (6, 320, 1, 1)]


def features(x, *, width, cfg):
    x = conv_bn_act(x, make_divisible(32 * width), 3, 2, activation_fn="relu6", cfg=cfg, name="stem")
    for s, (t, c, n, stride) in enumerate(STAGES, 1):
        for b in range(1, n + 1):
            x = inverted_residual(x, make_divisible(c * width), stride if b == 1 else 1, t, cfg=cfg,
                                  name=f"s{s}b{b}")
    last = make_divisible(1280 * width) if width > 1 else 1280  # 1280 kept for width < 1
    return conv_bn_act(x, last, 1, activation_fn="relu6", cfg=cfg, name="head_conv")


for _w in (35, 50, 75, 100, 140):
    register(f"mobilenet_v2_{_w:03d}", "mobilenet_v2", features, width=_w / 100, dropout=0.2,
             padding="tf", bn_momentum=0.999, bn_epsilon=1e-3)
