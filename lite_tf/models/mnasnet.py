"""MnasNet-A1 without SE, i.e. MnasNet-B1 (Tan et al., arXiv 1807.11626), as torchvision's
mnasnet1_0 / mnasnet0_5 and timm's mnasnet_100: a separable first block, then inverted residuals
with 3x3 and 5x5 kernels found by the platform-aware search."""

from lite_tf.blocks import conv_bn_act, depthwise_bn_act, inverted_residual, make_divisible
from lite_tf.models.registry import register

# (expansion, out channels, repeats, stride, kernel) per stage after the separable first block.
STAGES = [(3, 24, 3, 2, 3), (3, 40, 3, 2, 5), (6, 80, 3, 2, 5), (6, 96, 2, 1, 3),
          (6, 192, 4, 2, 5), (6, 320, 1, 1, 3)]


def features(x, *, width, cfg):
    stem = make_divisible(32 * width)
    x = conv_bn_act(x, stem, 3, 2, cfg=cfg, name="stem")
    x = depthwise_bn_act(x, 3, cfg=cfg, name="s1b1_dw")
    x = conv_bn_act(x, make_divisible(16 * width), 1, activation_fn=None, cfg=cfg,
                    name="s1b1_project")
    for s, (t, c, n, stride, kernel) in enumerate(STAGES, 2):
        for b in range(1, n + 1):
            x = inverted_residual(x, make_divisible(c * width), stride if b == 1 else 1, t,
                                  kernel_size=kernel, activation_fn="relu", cfg=cfg,
                                  name=f"s{s}b{b}")
    return conv_bn_act(x, 1280, 1, cfg=cfg, name="head_conv")


for _w in (50, 100):
    register(f"mnasnet_{_w:03d}", "mnasnet", features, width=_w / 100, dropout=0.2,
             padding="symmetric", bn_momentum=0.9997, bn_epsilon=1e-5)
