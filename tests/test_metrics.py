"""Training metrics (lite_tf.training.metrics)."""

import numpy as np
import pytest

from lite_tf.backend import keras
from lite_tf.training import metrics


def accuracy(metric, labels, scores):
    metric.update_state(np.eye(scores.shape[1])[labels], scores)
    return float(metric.result())


def test_a_dead_network_scores_what_guessing_one_class_scores():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
    dead = np.zeros((12, 10), "float32")  # all outputs equal: the loss sits at log(10)
    assert accuracy(keras.metrics.TopKCategoricalAccuracy(1), labels, dead) == 1.0  # why
    assert accuracy(metrics.TopK(1), labels, dead) == pytest.approx(2 / 12)  # the two images of class 0
    assert accuracy(metrics.TopK(5), labels, dead) == pytest.approx(7 / 12)  # the seven of classes 0-4


def test_top_k_matches_keras_without_ties_and_round_trips():
    rng = np.random.default_rng(0)
    labels, scores = rng.integers(0, 10, 256), rng.normal(size=(256, 10)).astype("float32")
    for k in (1, 5):
        ours = accuracy(metrics.TopK(k), labels, scores)
        assert ours == accuracy(keras.metrics.TopKCategoricalAccuracy(k), labels, scores)
        ranks = (scores > scores[np.arange(256), labels][:, None]).sum(axis=1)
        assert ours == pytest.approx(np.mean(ranks < k))
    again = keras.metrics.deserialize(keras.metrics.serialize(metrics.TopK(5, name="top5")))
    assert (again.name, again.k) == ("top5", 5)
    assert accuracy(again, labels, scores) == accuracy(metrics.TopK(5), labels, scores)
