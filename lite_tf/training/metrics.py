"""Top-k accuracy that counts a tie as a miss.

Keras's ``TopKCategoricalAccuracy`` (``tf.math.in_top_k``) counts every class whose score ties
with the k-th highest as in the top k, so a dead network whose outputs are all equal scores 100%
top-1 while its loss sits at log(classes). Here ties go to the lower class index (as
``tf.math.top_k`` orders them), so such a network scores what guessing one class scores.
"""

from __future__ import annotations

from lite_tf.backend import keras, tf


def top_k_hits(y_true, y_pred, k: int):
    """1.0 where the label (the argmax of ``y_true``) is among the ``k`` highest scores of
    ``y_pred``, ties broken towards the lower class index; else 0.0."""
    labels = tf.argmax(y_true, axis=-1, output_type=tf.int32)
    top = tf.math.top_k(y_pred, k=k).indices
    return tf.cast(tf.reduce_any(tf.equal(top, labels[:, None]), axis=-1), keras.backend.floatx())


@keras.utils.register_keras_serializable(package="lite_tf")
class TopK(keras.metrics.MeanMetricWrapper):
    """Mean top-k accuracy over one-hot (or soft) labels, ties counted as misses."""

    def __init__(self, k: int = 1, name: str | None = None, dtype=None):
        super().__init__(top_k_hits, name or f"top{k}", dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return {"k": self.k, "name": self.name, "dtype": self.dtype}
