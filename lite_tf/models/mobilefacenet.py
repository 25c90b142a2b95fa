"""MobileFaceNet (Chen et al., arXiv 1804.07573): a 128-d face embedding at 112x112."""

from lite_tf.blocks import conv_bn_act, depthwise_bn_act, inverted_residual, make_divisible
from lite_tf.models.registry import register

# (expansion t, filters c, blocks n, stride s) per stage: the paper's Table 1.
STAGES = [(2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)]


def features(x, *, width, cfg):
    """conv3x3/2 64, depthwise 3x3 64, bottlenecks, conv1x1 512; PReLU throughout."""
    ch = lambda c: make_divisible(c * width)  # noqa: E731
    x = conv_bn_act(x, ch(64), 3, 2, activation_fn="prelu", cfg=cfg, name="stem")
    x = depthwise_bn_act(x, 3, activation_fn="prelu", cfg=cfg, name="stem_dw")
    for s, (t, c, n, stride) in enumerate(STAGES, 1):
        for b in range(1, n + 1):
            x = inverted_residual(x, ch(c), stride if b == 1 else 1, t, activation_fn="prelu",
                                  cfg=cfg, name=f"s{s}b{b}")
    return conv_bn_act(x, ch(512), 1, activation_fn="prelu", cfg=cfg, name="head_conv")


register("mobilefacenet", "mobilefacenet", features, head="gdc", num_classes=None,
         input_shape=(112, 112, 3), bn_momentum=0.9, bn_epsilon=1e-5)
