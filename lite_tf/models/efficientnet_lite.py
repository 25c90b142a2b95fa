"""EfficientNet-Lite (Tan & Le, arXiv 1905.11946; the Lite variants of TensorFlow's
efficientnet/lite): EfficientNet-B0's stages without squeeze-and-excite, with ReLU6, and with the
stem (32) and head (1280) kept at every scale, as timm's tf_efficientnet_lite0-4."""

import math

from lite_tf.blocks import conv_bn_act, inverted_residual, make_divisible
from lite_tf.models.registry import register

# (expansion, out channels, repeats, stride, kernel) per stage: EfficientNet-B0 (paper Table 1).
STAGES = [(1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3),
          (6, 112, 3, 1, 5), (6, 192, 4, 2, 5), (6, 320, 1, 1, 3)]
# name: (width, depth multiplier, input size)
SCALES = {"efficientnet_lite0": (1.0, 1.0, 224), "efficientnet_lite1": (1.0, 1.1, 240),
          "efficientnet_lite2": (1.1, 1.2, 260), "efficientnet_lite3": (1.2, 1.4, 300),
          "efficientnet_lite4": (1.4, 1.8, 380)}


def features(x, *, width, cfg, depth=1.0):
    x = conv_bn_act(x, 32, 3, 2, activation_fn="relu6", cfg=cfg, name="stem")
    for s, (t, c, n, stride, kernel) in enumerate(STAGES, 1):
        # Lite keeps the first and last stages' depth at every scale.
        repeats = n if s in (1, len(STAGES)) else int(math.ceil(n * depth))
        for b in range(1, repeats + 1):
            x = inverted_residual(x, make_divisible(c * width), stride if b == 1 else 1, t,
                                  kernel_size=kernel, cfg=cfg, name=f"s{s}b{b}")
    return conv_bn_act(x, 1280, 1, activation_fn="relu6", cfg=cfg, name="head_conv")


for _name, (_width, _depth, _size) in SCALES.items():
    register(_name, "efficientnet_lite", features, width=_width, depth=_depth,
             input_shape=(_size, _size, 3), dropout=0.2, padding="tf", bn_momentum=0.99,
             bn_epsilon=1e-3)
