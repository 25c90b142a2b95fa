"""MobileNetV3 (Howard et al., arXiv 1905.02244), as torchvision / timm / keras.applications.

Inverted residuals with 3x3 or 5x5 depthwise kernels, squeeze-and-excite gated by hard-sigmoid,
ReLU early and hard-swish late, a 1x1 conv to 6x the last width and a 1280 (Small: 1024) wide
hidden layer after pooling. The minimalistic variants drop SE, hard-swish and 5x5 kernels.
"""

from lite_tf.blocks import conv_bn_act, inverted_residual, make_divisible
from lite_tf.models.registry import register

RE, HS = "relu", "hard_swish"
# (kernel, expansion size, out channels, SE, activation, stride) per block: the paper's Tables 1-2.
LARGE = [(3, 16, 16, False, RE, 1),
         (3, 64, 24, False, RE, 2), (3, 72, 24, False, RE, 1),
         (5, 72, 40, True, RE, 2), (5, 120, 40, True, RE, 1), (5, 120, 40, True, RE, 1),
         (3, 240, 80, False, HS, 2), (3, 200, 80, False, HS, 1), (3, 184, 80, False, HS, 1),
         (3, 184, 80, False, HS, 1),
         (3, 480, 112, True, HS, 1), (3, 672, 112, True, HS, 1),
         (5, 672, 160, True, HS, 2), (5, 960, 160, True, HS, 1), (5, 960, 160, True, HS, 1)]
SMALL = [(3, 16, 16, True, RE, 2),
         (3, 72, 24, False, RE, 2), (3, 88, 24, False, RE, 1),
         (5, 96, 40, True, HS, 2), (5, 240, 40, True, HS, 1), (5, 240, 40, True, HS, 1),
         (5, 120, 48, True, HS, 1), (5, 144, 48, True, HS, 1),
         (5, 288, 96, True, HS, 2), (5, 576, 96, True, HS, 1), (5, 576, 96, True, HS, 1)]
# Stages (blocks that share an output width, as timm groups them): block b of stage s is `s{s}b{b}`.
STAGE_OF = {"large": [1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 6, 6, 6],
            "small": [1, 2, 2, 3, 3, 3, 4, 4, 5, 5, 5]}
HIDDEN = {"large": 1280, "small": 1024}


def minimal(table):
    """The minimalistic variant's table: 3x3 kernels, no SE, ReLU throughout."""
    return [(3, exp, out, False, RE, stride) for _, exp, out, _, _, stride in table]


def features(x, *, width, cfg, size, minimalistic=False):
    table = {"large": LARGE, "small": SMALL}[size]
    table = minimal(table) if minimalistic else table
    head_act = RE if minimalistic else HS
    x = conv_bn_act(x, make_divisible(16 * width), 3, 2, activation_fn=head_act, cfg=cfg, name="stem")
    reference_in, counts = 16, {}
    for (kernel, exp, out, se, act, stride), stage in zip(table, STAGE_OF[size]):
        counts[stage] = counts.get(stage, 0) + 1
        # The expansion as a ratio of the block's input (timm's e4.5, e2.3 ...), then rounded.
        expanded = make_divisible(x.shape[-1] * exp / reference_in)
        x = inverted_residual(x, make_divisible(out * width), stride, kernel_size=kernel,
                              activation_fn=act, se_reduction=4 if se else None,
                              se_gate="hard_sigmoid", expanded=expanded, cfg=cfg,
                              name=f"s{stage}b{counts[stage]}")
        reference_in = out
    return conv_bn_act(x, 6 * x.shape[-1], 1, activation_fn=head_act, cfg=cfg, name="head_conv")


for _size in ("large", "small"):
    for _w in (75, 100):
        register(f"mobilenet_v3_{_size}_{_w:03d}", "mobilenet_v3", features, width=_w / 100,
                 size=_size, family_options=("minimalistic",), head_hidden=HIDDEN[_size],
                 head_activation=HS, dropout=0.2, padding="symmetric", bn_momentum=0.99,
                 bn_epsilon=1e-3)
    register(f"mobilenet_v3_{_size}_minimal_100", "mobilenet_v3", features, width=1.0, size=_size,
             minimalistic=True, family_options=("minimalistic",), head_hidden=HIDDEN[_size],
             head_activation=RE, dropout=0.2, padding="tf", bn_momentum=0.99, bn_epsilon=1e-3)
