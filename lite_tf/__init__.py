"""lite_tf: paper-exact lightweight CNNs, trained, compressed and exported to int8 TFLite.

Importing lite_tf chooses Keras 2 (tf_keras) for TensorFlow, which ``lite_tf.backend`` imports:
TF-MOT 0.8 supports only Keras 2, so ``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is
imported (then ``tf.keras`` is tf_keras too). Modules that need no TensorFlow (errors, files, cli,
benchmark) stay light to import.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
