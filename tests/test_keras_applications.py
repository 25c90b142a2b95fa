"""mobilenet_v1_100 / mobilenet_v2_100 / mobilenet_v3_* are keras.applications' MobileNet /
MobileNetV2 / MobileNetV3: same layers (MobileNetV3 with TF padding), so their weights port
exactly."""

import numpy as np
import pytest

from lite_tf.backend import keras, layers
from lite_tf.models import create_model, get_entry
from lite_tf.weights.keras_applications import load_keras_applications, reference_model


def randomize_batchnorm(model, rng):
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            shape = layer.gamma.shape
            layer.set_weights([rng.rand(*shape) + 0.5, rng.randn(*shape) * 0.1,
                               rng.randn(*shape) * 0.1, rng.rand(*shape) + 0.5])


@pytest.mark.parametrize("name,reference", [("mobilenet_v1_100", keras.applications.MobileNet),
                                            ("mobilenet_v2_100", keras.applications.MobileNetV2)])
def test_same_outputs_with_keras_applications_weights(name, reference, rng):
    source = reference(weights=None, classifier_activation=None)
    randomize_batchnorm(source, rng)
    model = create_model(name, classifier_activation=None)
    load_keras_applications(source, model)
    x = rng.rand(4, 224, 224, 3).astype("float32") * 2 - 1
    diff = np.abs(source(x, training=False).numpy() - model(x, training=False).numpy()).max()
    assert diff <= 1e-4


@pytest.mark.parametrize("name", [
    "mobilenet_v3_large_100", "mobilenet_v3_small_100",
    pytest.param("mobilenet_v3_large_075", marks=pytest.mark.slow),
    pytest.param("mobilenet_v3_small_075", marks=pytest.mark.slow),
    pytest.param("mobilenet_v3_large_minimal_100", marks=pytest.mark.slow),
    pytest.param("mobilenet_v3_small_minimal_100", marks=pytest.mark.slow)])
def test_same_outputs_as_keras_applications_mobilenet_v3(name, rng):
    source = reference_model(get_entry(name))  # no built-in rescaling: inputs in [-1, 1]
    randomize_batchnorm(source, rng)
    model = create_model(name, classifier_activation=None, padding="tf")
    load_keras_applications(source, model)
    x = rng.rand(2, 224, 224, 3).astype("float32") * 2 - 1
    want = source(x, training=False).numpy()
    diff = np.abs(want - model(x, training=False).numpy()).max()
    assert np.abs(want).max() > 0.05 and diff <= 1e-4


def test_mismatch_is_reported():
    source = keras.applications.MobileNetV2(weights=None, alpha=0.5)
    first = r"head_conv: expected \[\(1, 1, 320, 1280\)\], got \[\(1, 1, 160, 1280\)\]"
    with pytest.raises(ValueError, match=rf"mis-shaped \(103\): {first}; .*; \.\.\. 100 more$"):
        load_keras_applications(source, create_model("mobilenet_v2_100"))
