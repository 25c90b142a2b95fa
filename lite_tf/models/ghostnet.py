"""GhostNet (Han et al., arXiv 1911.11907), as timm's ghostnet_100: ghost bottlenecks, half of
whose maps come from cheap depthwise convolutions, SE with a hard-sigmoid gate, a 1280-wide hidden
layer after pooling."""

from lite_tf.blocks import conv_bn_act, ghost_bottleneck, make_divisible
from lite_tf.models.registry import register

# (kernel, hidden, out channels, SE, stride) per block, grouped in stages: the paper's Table 1.
STAGES = [[(3, 16, 16, False, 1)],
          [(3, 48, 24, False, 2)],
          [(3, 72, 24, False, 1)],
          [(5, 72, 40, True, 2)],
          [(5, 120, 40, True, 1)],
          [(3, 240, 80, False, 2)],
          [(3, 200, 80, False, 1), (3, 184, 80, False, 1), (3, 184, 80, False, 1),
           (3, 480, 112, True, 1), (3, 672, 112, True, 1)],
          [(5, 672, 160, True, 2)],
          [(5, 960, 160, False, 1), (5, 960, 160, True, 1), (5, 960, 160, False, 1),
           (5, 960, 160, True, 1)]]


def features(x, *, width, cfg):
    def ch(c):
        return make_divisible(c * width, 4)

    x = conv_bn_act(x, ch(16), 3, 2, cfg=cfg, name="stem")
    for s, stage in enumerate(STAGES, 1):
        for b, (kernel, hidden, out, se, stride) in enumerate(stage, 1):
            x = ghost_bottleneck(x, ch(hidden), ch(out), stride, kernel_size=kernel,
                                 se_reduction=4 if se else None, cfg=cfg, name=f"s{s}b{b}")
    return conv_bn_act(x, ch(960), 1, cfg=cfg, name="head_conv")


register("ghostnet_100", "ghostnet", features, width=1.0, head_hidden=1280, head_activation="relu",
         dropout=0.2, padding="symmetric", bn_momentum=0.9, bn_epsilon=1e-5)
