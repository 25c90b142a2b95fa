"""Space-to-depth as a serializable layer: each ``block`` x ``block`` patch of pixels becomes one
pixel with ``block**2`` times the channels, in TensorFlow's order (row in the patch, column in the
patch, channel); TFLite's SPACE_TO_DEPTH, which XNNPACK runs in int8. The export's
``strided_stem_as_space_to_depth`` pass puts it before a stem convolution (YOLOv2's "passthrough"
reorganization, Redmon and Farhadi, arXiv 1612.08242, used the other way).
"""

from __future__ import annotations

from lite_tf.backend import keras, layers, tf


@keras.utils.register_keras_serializable(package="lite_tf")
class SpaceToDepth(layers.Layer):
    """(N, H, W, C) -> (N, H / block, W / block, C * block**2); H and W multiples of ``block``."""

    def __init__(self, block: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.block = block

    def call(self, inputs):
        return tf.nn.space_to_depth(inputs, self.block)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        b = self.block
        return n, None if h is None else h // b, None if w is None else w // b, c * b * b

    def get_config(self):
        return {**super().get_config(), "block": self.block}
