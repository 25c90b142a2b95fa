"""MobileNetV1 (Howard et al., arXiv 1704.04861), as keras.applications MobileNet."""

from lite_tf.blocks import conv_bn_act, depthwise_separable
from lite_tf.models.registry import register

# (pointwise filters, blocks, stride of the first block) per stage; stem: 3x3/2 conv, 32 filters.
STAGES = [(64, 1, 1), (128, 2, 2), (256, 2, 2), (512, 6, 2), (1024, 2, 2)]


def features(x, *, width, cfg):
    x = conv_bn_act(x, int(32 * width), 3, 2, activation_fn="relu6", cfg=cfg, name="stem")
    for s, (filters, blocks, stride) in enumerate(STAGES, 1):
        for b in range(1, blocks + 1):
            x = depthwise_separable(x, int(filters * width), stride if b == 1 else 1, cfg=cfg,
                                    name=f"s{s}b{b}")
    return x


for _w in (25, 50, 75, 100):
    register(f"mobilenet_v1_{_w:03d}", "mobilenet_v1", features, width=_w / 100, dropout=1e-3,
             padding="tf", bn_momentum=0.99, bn_epsilon=1e-3)
