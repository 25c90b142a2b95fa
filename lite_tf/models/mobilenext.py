"""MobileNeXt (Zhou et al., arXiv 2007.02269): MobileNetV2's layout rebuilt from sandglass blocks.

Follows the official code (zhoudaquan/rethinking_bottleneck_design, mnext.py), whose stages
differ from the paper's Table 2.
"""

from lite_tf.blocks import conv_bn_act, make_divisible, sandglass, sandglass_form
from lite_tf.models.registry import register

# (reduction t, filters c, blocks n, stride s) per stage, from the official code.
STAGES = [(2, 96, 1, 2), (6, 144, 1, 1), (6, 192, 3, 2), (6, 288, 3, 2), (6, 384, 4, 1),
          (6, 576, 4, 2), (6, 960, 3, 1), (6, 1280, 1, 1)]
SE_REDUCTION = 32


def features(x, *, width, cfg, identity_multiplier=1.0, se=False):
    """``identity_multiplier``: fraction of channels the shortcuts carry (paper: 1, 1/2, 1/3, 1/6).
    ``se``: a squeeze-and-excite on each block's output (MobileNeXt+SE; the paper gives no
    placement or ratio; reduction 32 gives 4.03M parameters at 1.0x, the paper reports 3.94M)."""
    x = conv_bn_act(x, make_divisible(32 * width), 3, 2, activation_fn="relu6", cfg=cfg, name="stem")
    for s, (t, c, n, stride) in enumerate(STAGES, 1):
        filters = 1280 if c == 1280 and width < 1 else make_divisible(c * width)
        for b in range(1, n + 1):
            strides = stride if b == 1 else 1
            form, residual = sandglass_form(x.shape[-1], filters, strides, t,
                                            stage_has_one_block=(b == 1 and n == 1 and stride == 1))
            x = sandglass(x, filters, strides, t, form=form, residual=residual,
                          identity_multiplier=identity_multiplier,
                          se_reduction=SE_REDUCTION if se else None, cfg=cfg, name=f"s{s}b{b}")
    return x


for _w in (35, 50, 75, 100, 140):
    register(f"mobilenext_{_w:03d}", "mobilenext", features, width=_w / 100, dropout=0.2,
             bn_momentum=0.9, bn_epsilon=1e-5, family_options=("identity_multiplier", "se"))
