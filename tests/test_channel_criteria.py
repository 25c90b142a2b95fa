"""Channel criteria that measure data: APoZ drops the channels that never fire, LASSO keeps one of
each pair of redundant channels and its least-squares reconstruction restores the output that plain
slicing loses; on a zoo model both plan a thin model that computes."""

import numpy as np
import pytest
import tensorflow as tf

from lite_tf.backend import keras, layers
from lite_tf.compression import channel_criteria as criteria
from lite_tf.compression import channel_prune as cp
from lite_tf.models import create_model
from lite_tf.models.profile import profile_model


def batches(rng, shape, n=64, batch=16):
    x = rng.uniform(-1, 1, (n, *shape)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, np.zeros((n, 10), "float32"))).batch(batch)


def redundant(rng, channels=16):
    """1x1 conv -> ReLU -> 3x3 conv, where filters 8-15 are scaled copies of 0-7 (after the ReLU
    too) read by the same 3x3 weights: each copy adds a multiple of what its original adds. Bias
    -50 on filter 3 and its copy: they never fire."""
    inputs = keras.Input((12, 12, 6))
    x = layers.Conv2D(channels, 1, name="produce")(inputs)
    x = layers.ReLU(name="produce_relu")(x)
    x = layers.Conv2D(8, 3, padding="same", name="consume")(x)
    model = keras.Model(inputs, layers.Flatten(name="flat")(x))
    half = channels // 2
    kernel = rng.normal(size=(1, 1, 6, half))
    scale = rng.uniform(0.5, 2.0, half)
    bias = rng.normal(0, 0.1, half)
    bias[3] = -50.0
    model.get_layer("produce").set_weights([np.concatenate([kernel, kernel * scale], -1),
                                            np.concatenate([bias, bias * scale])])
    reads = rng.normal(size=(3, 3, half, 8))
    model.get_layer("consume").set_weights([np.concatenate([reads, reads], 2), rng.normal(size=8)])
    return model


def test_apoz_scores_channels_that_never_fire_lowest(rng):
    model = redundant(rng)
    groups = cp.groups(model)
    stats = criteria.Statistics.measure(model, groups, batches(rng, (12, 12, 6)), samples=48)
    assert stats.images == 48
    scores = criteria.scores(model, groups[0], "apoz", stats)
    assert scores[3] == scores[11] == 0.0 and np.delete(scores, [3, 11]).min() > 0.0
    kept = cp.plan(model, cp.ChannelPruning(criterion="apoz", ratio=0.5, divisor=1), stats)
    assert {3, 11}.isdisjoint(kept["produce"])


def test_lasso_keeps_one_of_each_pair_and_reconstruction_restores_the_output(rng):
    model = redundant(rng)
    x = batches(rng, (12, 12, 6))
    groups = cp.groups(model)
    stats = criteria.Statistics.measure(model, groups, x, samples=64)
    config = cp.ChannelPruning(criterion="lasso", ratio=0.5, divisor=1)
    kept = cp.plan(model, config, stats)["produce"]
    assert set(np.array(kept) % 8) >= {0, 1, 2, 4, 5, 6, 7}  # one of each pair that fires
    images = next(iter(x))[0]
    want = model(images).numpy()
    rebuilt = cp.prune_channels(model, {"produce": kept},
                                criteria.reconstruct(model, groups, {"produce": kept}, stats))
    np.testing.assert_allclose(rebuilt(images).numpy(), want, atol=1e-3 * np.abs(want).max())
    sliced = cp.prune_channels(model, {"produce": kept})
    assert np.abs(sliced(images).numpy() - want).max() > 0.1 * np.abs(want).max()
    # Scores: the penalty below which a channel stays in the path; redundant copies never enter.
    scores = criteria.scores(model, groups[0], "lasso", stats)
    assert sorted(np.flatnonzero(scores) % 8) == [0, 1, 2, 4, 5, 6, 7]  # the path's last active set


@pytest.mark.slow
@pytest.mark.parametrize("criterion", ["apoz", "lasso"])
def test_data_criteria_prune_a_zoo_model_to_its_macs_target(criterion, rng):
    model = create_model("mobilenet_v1_050", num_classes=10, input_shape=(32, 32, 3))
    thin = cp.prune(model, cp.ChannelPruning(criterion=criterion, target_macs=0.5, samples=32),
                    batches(rng, (32, 32, 3), n=32))
    full = profile_model(model)["macs"]
    assert 0.45 * full <= profile_model(thin)["macs"] <= 0.5 * full
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    assert np.isfinite(thin(x).numpy()).all()
