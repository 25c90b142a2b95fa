"""lite_tf: paper-exact lightweight CNNs, trained, compressed and exported to int8 TFLite."""

from lite_tf import backend as _backend  # noqa: F401  (chooses tf_keras before anything else)

__version__ = "0.1.0"
