"""The zoo's MobileNeXt and ShuffleNetV1 have the official implementations' tensors, in order.

The manifests in ../shared/reference/state_dicts list every state_dict key and shape of the
official code (mnext.py, megvii ShuffleNetV1) at every width.
"""

import json
import pathlib

import pytest

from lite_tf.backend import layers
from lite_tf.models import create_model

MANIFESTS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "reference" / "state_dicts"
NAMES = sorted(p.stem for p in MANIFESTS.glob("*.json")) if MANIFESTS.exists() else []


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
@pytest.mark.parametrize("name", NAMES)
def test_weight_shapes_match_the_official_state_dict(name):
    tensors = json.loads((MANIFESTS / f"{name}.json").read_text())["tensors"]
    official = [shape for key, shape in tensors if key.endswith(".weight") and len(shape) in (2, 4)]
    assert torch_shapes(create_model(name)) == official
    bn_or_bias = [k for k, s in tensors if k.endswith(".bias")]
    model = create_model(name)
    keras_bn = [l for l in model.layers if isinstance(l, layers.BatchNormalization)]
    keras_bias = [l for l in model.layers if getattr(l, "use_bias", False)]
    assert len(bn_or_bias) == len(keras_bn) + len(keras_bias)
