"""The zoo's MobileNeXt and ShuffleNetV1 have the official implementations' tensors, in order, and
the weight maps (lite_tf.weights.pytorch_names) take every one of them exactly once.

The manifests in ../shared/reference/state_dicts list every state_dict key and shape of the
official code (mnext.py, megvii ShuffleNetV1) at every width: the narrowest of each family in the
default suite, the rest in the slow suite.
"""

import json
import pathlib

import numpy as np
import pytest

from conftest import sampled
from lite_tf.backend import layers
from lite_tf.errors import InputError
from lite_tf.models import create_model
from lite_tf.weights import pytorch_names
from lite_tf.weights.torch_state import convert
from lite_tf.weights.transfer import assign_weights

MANIFESTS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "reference" / "state_dicts"
NAMES = sorted(p.stem for p in MANIFESTS.glob("*.json")) if MANIFESTS.exists() else []


def manifest(name):
    """[(state_dict key, shape), ...] of the official model ``name``."""
    return json.loads((MANIFESTS / f"{name}.json").read_text())["tensors"]


def torch_shapes(model):
    """Conv / linear weight shapes of a Keras model in PyTorch layout, in layer order."""
    shapes = []
    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):
            kh, kw, c, m = layer.depthwise_kernel.shape
            shapes.append([c * m, 1, kh, kw])
        elif isinstance(layer, layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            shapes.append([cout, cin, kh, kw])
        elif isinstance(layer, layers.Dense):
            shapes.append(list(layer.kernel.shape[::-1]))
    return shapes


@pytest.mark.skipif(not NAMES, reason="reference manifests not present")
@pytest.mark.parametrize("name", sampled(NAMES))
def test_weight_shapes_match_the_official_state_dict(name):
    tensors = manifest(name)
    official = [shape for key, shape in tensors if key.endswith(".weight") and len(shape) in (2, 4)]
    model = create_model(name)
    assert torch_shapes(model) == official
    bn_or_bias = [k for k, s in tensors if k.endswith(".bias")]
    keras_bn = [l for l in model.layers if isinstance(l, layers.BatchNormalization)]
    keras_bias = [l for l in model.layers if getattr(l, "use_bias", False)]
    assert len(bn_or_bias) == len(keras_bn) + len(keras_bias)


def manifest_state(name):
    return {key: np.zeros(shape, "float32") for key, shape in manifest(name)}


def official_names(model):
    if model.name.startswith("mobilenext"):
        return pytorch_names.official_mobilenext(model)
    return pytorch_names.megvii_shufflenet_v1(model)


@pytest.mark.skipif(not NAMES, reason="reference manifests not present")
@pytest.mark.parametrize("name", sampled(NAMES))
def test_mapping_covers_every_official_tensor_exactly_and_in_order(name):
    state = manifest_state(name)
    model = create_model(name)
    names = official_names(model)
    assign_weights(model, convert(model, state, names, name))  # raises on anything left over
    mapped = [names[layer.name] for layer in model.layers if layer.weights]
    modules = list(dict.fromkeys(key.rsplit(".", 1)[0] for key in state))
    assert mapped == modules  # the zoo's layer order is the official module order


@pytest.mark.skipif(not NAMES, reason="reference manifests not present")
def test_conversion_names_missing_extra_and_misshaped_tensors():
    state = manifest_state("mobilenext_100")
    del state["features.1.conv.4.running_var"]
    state["features.99.conv.0.weight"] = np.zeros((3, 3))
    model = create_model("mobilenext_100")
    with pytest.raises(InputError, match=r"missing \(1\): features\.1\.conv\.4\.running_var \| "
                                         r"extra \(1\): features\.99\.conv\.0\.weight$"):
        convert(model, state, official_names(model), "x")
    state = manifest_state("mobilenext_050")  # another width: every shape but the head differs
    with pytest.raises(InputError, match=r"mis-shaped \(\d+\): s1b1_dw1: expected "
                                         r"\[\(3, 3, 32, 1\)\], got \[\(3, 3, 16, 1\)\]"):
        assign_weights(model, convert(model, state, official_names(model), "x"))
