"""The contract every registered model meets, driven by the registry."""

import numpy as np
import pytest

from lite_tf.backend import keras, tf
from conftest import sampled
from lite_tf.models import create_model, get_entry, list_models

SMALL = 64
FORBIDDEN = {"Lambda", "TFOpLambda", "SlicingOpLambda"}


def is_builtin_or_registered(layer) -> bool:
    cls = type(layer)
    builtin = cls.__module__.startswith("tf_keras.") and hasattr(keras.layers, cls.__name__)
    registered = keras.saving.get_registered_object(keras.saving.get_registered_name(cls)) is cls
    return cls.__name__ not in FORBIDDEN and (builtin or registered)


# The families' representatives in the default suite, their widest in the slow one (CI), the widths
# between in the zoo sweep (the widths share code).
@pytest.mark.parametrize("name", sampled(list_models(), ends=True))
def test_model_builds_with_named_builtin_layers(name, rng):
    entry = get_entry(name)
    # Default input: builds, finite output of the expected shape, unique names, allowed layers.
    model = create_model(name)
    x = rng.rand(1, *entry.default_input_shape).astype("float32")
    y = model(x, training=False).numpy()
    assert np.isfinite(y).all()
    assert y.shape == (1, entry.settings["num_classes"] or 128)
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    assert [n for n in names if not is_builtin_or_registered(model.get_layer(n))] == []


@pytest.mark.parametrize("name", sampled(list_models(), ends=True))
def test_model_trains_and_round_trips(name, tmp_path, rng):
    # Small input: every trainable weight gets a gradient.
    small = create_model(name, num_classes=10, input_shape=(SMALL, SMALL, 3),
                         classifier_activation=None)
    xs = rng.rand(2, SMALL, SMALL, 3).astype("float32") * 2 - 1
    with tf.GradientTape() as tape:
        out = small(xs, training=True)
        loss = tf.reduce_sum(out * rng.randn(*out.shape).astype("float32"))
    grads = tape.gradient(loss, small.trainable_weights)
    no_grad = [w.name for w, g in zip(small.trainable_weights, grads)
               if g is None or not np.any(g.numpy())]
    assert no_grad == []
    assert np.isfinite(small(xs, training=False).numpy()).all()

    # .keras round trip (safe mode): identical outputs.
    path = tmp_path / f"{name}.keras"
    small.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded(xs, training=False).numpy(),
                                  small(xs, training=False).numpy())
