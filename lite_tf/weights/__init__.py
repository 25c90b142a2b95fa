"""Weights for zoo models: converters from reference implementations by explicit name mapping."""

from lite_tf.weights.transfer import assign_weights

__all__ = ["assign_weights"]
