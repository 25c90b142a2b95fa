"""The one place that chooses Keras: Keras 2 through tf_keras.

TF-MOT 0.8 supports only Keras 2, so ``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow is
imported (then ``tf.keras`` is tf_keras too). Everything in lite_tf takes ``keras`` from here;
never ``import keras``, which is Keras 3.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

layers = keras.layers

__all__ = ["tf", "keras", "layers"]
