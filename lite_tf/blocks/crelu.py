"""Concatenated ReLU (Shang et al., arXiv 1603.05201; PVANet's C.ReLU)."""

from lite_tf.backend import keras, layers


def crelu(x, *, name):
    """concat(x, -x), per-channel scale and bias, ReLU: a conv computes half the channels.

    Built as concat(x, x) followed by a 1x1 depthwise conv (the per-channel scale and bias) whose
    scale starts at +1 on the first half and -1 on the second: scale * (-x) = (-scale) * x, so it
    is the same function and parameters without a negation op the int8 converter lacks.
    """
    channels = x.shape[-1]
    y = layers.Concatenate(name=f"{name}_concat")([x, x])
    scale = keras.initializers.Constant([1.0] * channels + [-1.0] * channels)
    y = layers.DepthwiseConv2D(1, depthwise_initializer=scale, name=f"{name}_scale")(y)
    return layers.ReLU(name=f"{name}_relu")(y)
