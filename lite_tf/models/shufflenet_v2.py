"""ShuffleNet V2 (Ma et al., arXiv 1807.11164) as torchvision, and ThunderNet's SNet backbones
(Qin et al., arXiv 1903.11752): the same units with 5x5 depthwise convs."""

from lite_tf.blocks import conv_bn_act, make_divisible, max_pool, shufflenet_v2_unit
from lite_tf.models.registry import register

STAGE_UNITS = (4, 8, 4)
# width: (stage 2, 3, 4 channels, conv5 channels), torchvision's table.
CHANNELS = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024), 1.5: (176, 352, 704, 1024),
            2.0: (244, 488, 976, 2048)}
# ThunderNet (conv1, stage 2/3/4, conv5 or None).
SNET = {49: (24, (60, 120, 240), 512), 146: (24, (132, 264, 528), None),
        535: (48, (248, 496, 992), None)}


def features(x, *, width, cfg, stem=24, stages=None, conv5=None, kernel_size=3):
    """ShuffleNetV2 channels come from torchvision's table at its widths (else 116/232/464 *
    width, 2048-channel conv5 above 1.5x); ``stages`` given explicitly (SNet) scale by width."""
    if stages is None:
        *stages, conv5 = CHANNELS.get(width) or (
            *(make_divisible(c * width, 4) for c in (116, 232, 464)), 2048 if width > 1.5 else 1024)
    elif width != 1.0:
        stem = make_divisible(stem * width, 4)
        stages = [make_divisible(c * width, 4) for c in stages]
    x = conv_bn_act(x, stem, 3, 2, activation_fn="relu", cfg=cfg, name="stem")
    x = max_pool(x, 3, 2, padding=1, name="stem_pool")
    for s, (units, filters) in enumerate(zip(STAGE_UNITS, stages), 1):
        for b in range(1, units + 1):
            x = shufflenet_v2_unit(x, filters, 2 if b == 1 else 1, kernel_size=kernel_size, cfg=cfg,
                                   name=f"s{s}b{b}")
    if conv5:
        x = conv_bn_act(x, conv5, 1, activation_fn="relu", cfg=cfg, name="head_conv")
    return x


_TORCH_BN = dict(bn_momentum=0.9, bn_epsilon=1e-5)
for _w in (50, 100, 150, 200):
    register(f"shufflenet_v2_{_w:03d}", "shufflenet_v2", features, width=_w / 100, **_TORCH_BN)
for _mflops, (_stem, _stages, _conv5) in SNET.items():
    register(f"snet_{_mflops}", "snet", features, stem=_stem, stages=_stages, conv5=_conv5,
             kernel_size=5, **_TORCH_BN)
