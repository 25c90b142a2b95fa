"""The weight-sharing supernet (lite_tf/search/supernet.py): every candidate's slice of it computes
what the candidate's zoo model computes with those weights, BatchNorm recalibration averages the
batches' statistics, training lowers the loss and resumes from its checkpoint, and what it cannot
take is one line."""

import dataclasses
import random

import numpy as np
import pytest

from lite_tf.backend import keras, layers, tf
from lite_tf.errors import InputError
from lite_tf.search import supernet
from lite_tf.search.space import Space, build
from lite_tf.training.settings import Settings

# Every block type, kernel 3 and 5, two depths, two widths (so a first block's shortcut and the
# sandglass's forms depend on the widths), SE, both activations, a partial identity.
SPACE = Space(skeleton=((16, 1), (24, 2), (32, 2)), kernels=(3, 5), expansions=(2, 4),
              depths=(1, 2), widths=(0.75, 1.25), resolutions=(32,), head=64,
              identity_multipliers=(0.5, 1.0))


def _randomized(net, rng):
    """Shared weights with BatchNorm and bias terms away from their initial ones and zeros."""
    for name, v in net.weights_by_name.items():
        if name.endswith(("gamma", "beta", "bias")):
            v.assign(rng.normal(1.0 if name.endswith("gamma") else 0.0, 0.3, v.shape)
                     .astype("float32"))
    return net


@pytest.mark.parametrize("drop_strides", [0, 1])
def test_a_candidates_slice_computes_what_its_zoo_model_computes(drop_strides, rng):
    net = _randomized(supernet.Supernet(SPACE, 10, {"drop_strides": drop_strides}), rng)
    images = rng.normal(0, 1, (4, 32, 32, 3)).astype("float32")
    seen = set()
    for seed in range(8):
        arch = SPACE.sample(random.Random(seed))
        seen |= {s.block for s in arch.stages}
        model = build(arch, num_classes=10, dropout=0.0, classifier_activation=None,
                      drop_strides=drop_strides)
        net.extract(arch, model)
        plan = {k: tf.constant(v, tf.int32) for k, v in net.plan(arch).items()}
        ours, theirs = net(images, plan).numpy(), model(images, training=True).numpy()
        assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(theirs).max(), arch.to_dict()
    assert seen == set(SPACE.blocks)


def test_the_largest_and_smallest_candidates_bound_every_elastic_dimension():
    net = supernet.Supernet(SPACE, 10)
    largest, smallest = net.largest(random.Random(0)), net.smallest(random.Random(0))
    for big, small in zip(largest.stages, smallest.stages):
        assert (big.kernel, big.expansion, big.depth, big.se) == (5, 4, 2, True)
        assert (small.kernel, small.expansion, small.depth, small.se) == (3, 2, 1, False)
        assert big.channels > small.channels


def test_recalibration_sets_the_moving_statistics_to_the_batches_average(rng):
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, name="conv")(inputs)
    model = keras.Model(inputs, layers.BatchNormalization(momentum=0.99, name="bn")(x))
    batches = [rng.normal(i, 1 + i, (16, 8, 8, 3)).astype("float32") for i in range(3)]
    conv = keras.Model(inputs, x)
    expected = np.mean([conv(b).numpy().mean(axis=(0, 1, 2)) for b in batches], axis=0)
    supernet.recalibrate(model, iter(batches))
    bn = model.get_layer("bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(), expected, rtol=1e-4, atol=1e-4)
    assert bn.momentum == 0.99  # restored


def _data(rng, steps=3, batch=16, classes=4):
    images = rng.uniform(-1, 1, (steps * batch, 32, 32, 3)).astype("float32")
    labels = np.eye(classes, dtype="float32")[np.arange(steps * batch) % classes]
    images += labels[:, :1, None, None] * 0.5  # something to learn
    train = tf.data.Dataset.from_tensor_slices((images, labels)).repeat().batch(batch)

    @dataclasses.dataclass
    class Data:
        train: object
        steps_per_epoch: int = steps
    return Data(train)


@pytest.mark.slow
def test_training_resumes_from_its_checkpoint_and_a_finished_one_is_reused(tmp_path, rng):
    # One block type, no SE, one activation: what resumes is the same, and tracing the supernet's
    # step (once per Supernet) is most of the time: 33 s here where every branch's took 131 s.
    space = Space(skeleton=((16, 1), (24, 2)), blocks=("inverted_residual",), kernels=(3, 5),
                  expansions=(2,), depths=(1, 2), widths=(1.0,), se=(False,), activations=("relu",),
                  resolutions=(32,), head=32)
    settings = Settings().replace(optimizer="adamw", learning_rate=3e-3, batch_size=16)
    lines = []
    net = supernet.Supernet(space, 4)
    supernet.train(net, _data(rng), settings, 1, str(tmp_path), lines.append)
    assert lines[-1].startswith("supernet: epoch 1/1 done")
    after_one = {k: v.numpy() for k, v in net.weights_by_name.items()}
    lines.clear()
    again = supernet.Supernet(space, 4)
    supernet.train(again, _data(rng), settings, 1, str(tmp_path), lines.append)
    assert lines == []  # finished: restored, not trained again
    for k, v in again.weights_by_name.items():
        np.testing.assert_array_equal(v.numpy(), after_one[k])
    supernet.train(again, _data(rng), settings, 2, str(tmp_path), lines.append)
    assert [line.split(",")[0] for line in lines] == ["supernet: epoch 2/2 done"]


def test_what_the_supernet_cannot_take_is_one_line():
    with pytest.raises(InputError, match="^the supernet estimator takes one resolution; "
                                         "search.Space.resolutions has 2$"):
        supernet.Supernet(dataclasses.replace(SPACE, resolutions=(32, 64)), 10)
    with pytest.raises(InputError, match="does not take the model override 'width'"):
        supernet.Supernet(SPACE, 10, {"width": 0.5})
    with pytest.raises(InputError, match="expansions >= 2"):
        supernet.Supernet(dataclasses.replace(SPACE, expansions=(1, 4)), 10)
