"""Hard-swish and hard-sigmoid (MobileNetV3, Howard et al., arXiv 1905.02244) as serializable layers.

``x * relu6(x + 3) / 6`` and ``relu6(x + 3) / 6`` written inside one layer each, so a model graph
has no raw ``tf`` ops (TFOpLambda, which TF-MOT cannot quantize), TF-MOT's QAT wraps each layer
whole (``lite_tf.compression.quantize`` quantizes its output only), and the TFLite converter sees
the pattern it fuses into its native ``HARD_SWISH`` kernel, float and int8, with or without QAT.
"""

from __future__ import annotations

from lite_tf.backend import keras, layers, tf


@keras.utils.register_keras_serializable(package="lite_tf")
class HardSigmoid(layers.Layer):
    """relu6(x + 3) / 6: the piecewise-linear sigmoid of MobileNetV3's SE gates."""

    def call(self, inputs):
        return tf.nn.relu6(inputs + 3.0) * (1.0 / 6.0)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.utils.register_keras_serializable(package="lite_tf")
class HardSwish(layers.Layer):
    """x * relu6(x + 3) / 6: swish at the cost of a ReLU6 and two multiplies."""

    def call(self, inputs):
        return inputs * tf.nn.relu6(inputs + 3.0) * (1.0 / 6.0)

    def compute_output_shape(self, input_shape):
        return input_shape
