"""A model's units (lite_tf/models/units.py): stem, blocks and head, each a model of its own, keyed
by what it computes; the latency table and the latency breakdown measure them."""

import numpy as np
import pytest

from conftest import sampled
from lite_tf.backend import keras, layers
from lite_tf.models import create_model, list_models
from lite_tf.models.units import unit_model, units


@pytest.mark.parametrize("name", sampled(list_models(), ends=True))
def test_the_units_chained_compute_the_model(name, rng):
    size = 112 if name == "mobilefacenet" else 64
    # Logits out: a softmax of random weights is 0.1 +/- 1e-5, where one float32 rounding step is
    # already 6e-4 of the outputs' spread (SqueezeNet's head failed the bound below by that).
    model = create_model(name, input_shape=(size, size, 3), num_classes=10, classifier_activation=None)
    found = units(model)
    assert found[0].name == "stem" and found[-1].name == "head" and len(found) >= 4
    members = [layer for u in found for layer in u.layers]
    assert sorted(members) == sorted(layer.name for layer in model.layers[1:])
    x = rng.uniform(-1, 1, (2, size, size, 3)).astype("float32")
    # Each unit on the model's own input to it gives the model's output of it. Random weights
    # shrink activations layer by layer, so errors are relative to the output's spread.
    ends = [model.get_layer(u.output).output for u in found]
    outputs = keras.Model(model.input, ends)(x)
    y = x
    for u, reference in zip(found, outputs):
        part = unit_model(model, u)
        assert part.input_shape == (1, *u.input_shape) and part.output_shape[1:] == u.output_shape
        y = np.concatenate([part(y[i:i + 1]).numpy() for i in range(len(y))])
        error = np.abs(y - reference.numpy()).max() / (reference.numpy().std() + 1e-30)
        assert error < 1e-4, (u.name, error)
    # The model is left as it was: no layer gained a second call.
    assert all(len(layer.inbound_nodes) == 1 for layer in model.layers[1:])


def test_equal_blocks_share_a_key_whatever_their_names_and_weights():
    a = {u.name: u.key for u in units(create_model("mobilenet_v2_100", input_shape=(64, 64, 3)))}
    b = {u.name: u.key for u in units(create_model("mobilenet_v2_100", input_shape=(64, 64, 3)))}
    assert a == b  # other random weights, same keys
    assert a["s3b2"] == a["s3b3"]  # two equal blocks (32 channels, stride 1) in one model
    assert len({a["s3b1"], a["s3b2"], a["s4b2"]}) == 3  # a stride, other channels
    c = {u.name: u.key for u in units(create_model("mobilenet_v2_100", input_shape=(96, 96, 3)))}
    assert a["s3b2"] != c["s3b2"]  # the same block on a larger input
    d = {u.name: u.key for u in units(create_model("mobilenet_v2_100", input_shape=(64, 64, 3),
                                                   num_classes=10))}
    assert d["s3b2"] == a["s3b2"] and d["head"] != a["head"]


def test_a_unit_that_takes_two_tensors_from_outside_is_one_line():
    inputs = keras.Input((8, 8, 4), name="input")
    x = layers.Conv2D(4, 1, name="s1b1_conv")(inputs)
    y = layers.Conv2D(4, 1, name="s2b1_conv")(x)
    out = layers.Add(name="s2b1_add")([inputs, y])  # s2b1 takes the input and s1b1's output
    model = keras.Model(inputs, layers.GlobalAveragePooling2D(name="avg_pool")(out), name="m")
    with pytest.raises(ValueError, match=r"^m: unit s2b1 takes 2 tensors from outside it") as e:
        units(model)
    assert "\n" not in str(e.value)
