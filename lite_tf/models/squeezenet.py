"""SqueezeNet 1.0 and 1.1 (Iandola et al., arXiv 1602.07360), as torchvision."""

from lite_tf.blocks import conv_bn_act, fire, max_pool
from lite_tf.models.registry import register

# (squeeze, expand1x1, expand3x3) of fire2 ... fire9.
FIRES = [(16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128), (48, 192, 192),
         (48, 192, 192), (64, 256, 256), (64, 256, 256)]
# version: (conv1 filters, conv1 kernel, fire modules followed by a max-pool)
VERSIONS = {"1.0": (96, 7, (4, 8)), "1.1": (64, 3, (3, 5))}


def features(x, *, width, cfg, version):
    filters, kernel, pool_after = VERSIONS[version]
    x = conv_bn_act(x, int(filters * width), kernel, 2, padding=0, norm=False, cfg=cfg, name="stem")
    x = max_pool(x, 3, 2, ceil_mode=True, name="stem_pool")
    for i, channels in enumerate(FIRES, 2):
        x = fire(x, *(int(c * width) for c in channels), name=f"fire{i}")
        if i in pool_after:
            x = max_pool(x, 3, 2, ceil_mode=True, name=f"fire{i}_pool")
    return x


for _v in VERSIONS:
    register(f"squeezenet_{_v.replace('.', '')}", "squeezenet", features, version=_v, head="conv",
             dropout=0.5)
