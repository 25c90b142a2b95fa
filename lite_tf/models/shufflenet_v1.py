"""ShuffleNet V1 (Zhang et al., arXiv 1707.01083), as the official megvii-model code."""

from lite_tf.blocks import conv_bn_act, make_divisible, max_pool, shufflenet_v1_unit
from lite_tf.models.registry import register

STAGE_UNITS = (4, 8, 4)
# Stage-2 output channels at 1.0x per group count (paper Table 1); stages 3 and 4 double it.
STAGE2_CHANNELS = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}


def stem_channels(width, groups, stage2):
    """megvii's conv1 widths (12/16, 24, 24, 48 at 0.5/1.0/1.5/2.0x): 24 from 0.75x to 1.5x,
    else 24 * width, raised until the first unit's branch (stage2 - stem) splits into groups."""
    stem = 24 if 0.75 <= width <= 1.5 else make_divisible(24 * width, 4)
    while (stage2 - stem) % groups:
        stem += 4
    return stem


def features(x, *, width, cfg, groups):
    stage2 = make_divisible(STAGE2_CHANNELS[groups] * width, 4 * groups)
    x = conv_bn_act(x, stem_channels(width, groups, stage2), 3, 2, activation_fn="relu", cfg=cfg,
                    name="stem")
    x = max_pool(x, 3, 2, padding=1, name="stem_pool")
    for s, units in enumerate(STAGE_UNITS, 1):
        for b in range(1, units + 1):
            x = shufflenet_v1_unit(x, stage2 * 2 ** (s - 1), 2 if b == 1 else 1, groups,
                                   group_first=not (s == 1 and b == 1), cfg=cfg, name=f"s{s}b{b}")
    return x


for _g, _widths in {1: (100,), 2: (100,), 3: (50, 100, 150, 200), 4: (100,),
                    8: (50, 100, 150, 200)}.items():
    for _w in _widths:
        register(f"shufflenet_v1_g{_g}_{_w:03d}", "shufflenet_v1", features, width=_w / 100,
                 groups=_g, classifier_bias=False, bn_momentum=0.9, bn_epsilon=1e-5)
