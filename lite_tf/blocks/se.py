"""Squeeze-and-Excitation (Hu et al., arXiv 1709.01507)."""

from lite_tf.backend import layers
from lite_tf.blocks.activations import HardSigmoid
from lite_tf.blocks.conv import make_divisible

GATES = ("sigmoid", "hard_sigmoid")


def squeeze_excite(x, reduction=4, *, divisor=8, gate="sigmoid", name):
    """Global average pool, 1x1 reduce to C/reduction, ReLU, 1x1 expand, gate, channel scale.

    ``gate``: ``sigmoid`` (SENet) or ``hard_sigmoid`` (MobileNetV3). The Multiply needs
    lite_tf.compression.quantize's QuantizeConfig (TF-MOT's default registry has none).
    """
    if gate not in GATES:
        raise ValueError(f"gate must be one of {GATES}, got {gate!r}")
    channels = x.shape[-1]
    squeezed = make_divisible(channels / reduction, divisor)
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)
    s = layers.Conv2D(squeezed, 1, name=f"{name}_reduce")(s)
    s = layers.ReLU(name=f"{name}_reduce_relu")(s)
    s = layers.Conv2D(channels, 1, name=f"{name}_expand")(s)
    s = (layers.Activation("sigmoid", name=f"{name}_gate")(s) if gate == "sigmoid"
         else HardSigmoid(name=f"{name}_gate")(s))
    return layers.Multiply(name=f"{name}_scale")([x, s])
