"""TFDS builders bundled with lite_tf (importing this registers them with TFDS)."""

from lite_tf.datasets.sklearn_digits import SklearnDigits

__all__ = ["SklearnDigits"]
