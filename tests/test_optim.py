"""Learning-rate schedules and optimizers (lite_tf.training.optim)."""

import numpy as np
import pytest

from lite_tf.training import optim
from lite_tf.backend import keras, layers
from lite_tf.errors import InputError


def values(schedule, steps):
    return np.array([float(schedule(s)) for s in steps])


def test_warmup_then_cosine_linear_step_and_constant():
    cosine = optim.WarmupSchedule(1.0, total_steps=110, warmup_steps=10, kind="cosine")
    np.testing.assert_allclose(values(cosine, [0, 4, 9]), [0.1, 0.5, 1.0], rtol=1e-6)
    np.testing.assert_allclose(values(cosine, [10, 60, 110, 200]), [1.0, 0.5, 0.0, 0.0], atol=1e-6)
    linear = optim.WarmupSchedule(0.5, total_steps=100, kind="linear")
    np.testing.assert_allclose(values(linear, [0, 25, 100]), [0.5, 0.375, 0.0], atol=1e-6)
    step = optim.WarmupSchedule(1.0, total_steps=100, kind="step", decay_steps=10, decay_rate=0.5)
    np.testing.assert_allclose(values(step, [0, 9, 10, 25]), [1.0, 1.0, 0.5, 0.25], rtol=1e-6)
    constant = optim.WarmupSchedule(0.3, total_steps=100, kind="constant")
    np.testing.assert_allclose(values(constant, [0, 99]), [0.3, 0.3], rtol=1e-6)
    again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(step))
    np.testing.assert_allclose(values(again, [0, 25]), [1.0, 0.25], rtol=1e-6)
    with pytest.raises(InputError, match="schedule must be one of"):
        optim.WarmupSchedule(1.0, 10, kind="exponential")


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_weight_decay_spares_batchnorm_and_biases(name):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="fc"),
                              layers.BatchNormalization(name="fc_bn")])
    opt = optim.make_optimizer(name, 0.0, weight_decay=0.5, clipnorm=1.0, ema_momentum=0.9)
    before = [w.numpy().copy() for w in model.trainable_weights]
    with_grads = [(np.zeros_like(w), v) for w, v in zip(before, model.trainable_weights)]
    opt.apply_gradients(with_grads)
    after = {v.name: v.numpy() for v in model.trainable_weights}
    assert opt.use_ema and opt.clipnorm == 1.0
    # With a zero learning rate nothing moves (decay is scaled by the learning rate) ...
    for w, v in zip(before, model.trainable_weights):
        np.testing.assert_array_equal(w, after[v.name])
    # ... and with a positive one, only the dense kernel decays.
    opt = optim.make_optimizer(name, 0.1, weight_decay=0.5)
    opt.apply_gradients(with_grads)
    for w, v in zip(before, model.trainable_weights):
        moved = not np.allclose(w, v.numpy())
        assert moved == (v.name.startswith("fc/kernel")), v.name


def test_unknown_optimizer():
    with pytest.raises(InputError, match="optimizer must be one of"):
        optim.make_optimizer("adam", 0.1)
