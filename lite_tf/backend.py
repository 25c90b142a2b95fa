"""The one place lite_tf takes TensorFlow and Keras from: Keras 2 through tf_keras.

``lite_tf/__init__.py`` has set ``TF_USE_LEGACY_KERAS=1`` before this import of TensorFlow. Everything
in lite_tf takes ``keras`` from here; never ``import keras``, which is Keras 3. TensorFlow's
start-up lines (oneDNN, CUDA drivers), written from C++ before its logging is set up, are dropped
unless verbose (``lite_tf.console``).
"""

from lite_tf import console

with console.silenced():
    import tensorflow as tf
    import tf_keras as keras

layers = keras.layers

__all__ = ["tf", "keras", "layers"]
