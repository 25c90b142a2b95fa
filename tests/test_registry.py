"""create_model / list_models: names, errors and the overrides every model accepts."""

import numpy as np
import pytest
from conftest import one_per_family, sampled

from lite_tf.backend import layers
from lite_tf.errors import InputError
from lite_tf.models import create_model, list_families, list_models
from lite_tf.models.builder import total_stride


def trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_registered_names():
    names = set(list_models())
    for required in ["mobilenet_v1_025", "mobilenet_v1_100", "mobilenet_v2_035", "mobilenet_v2_140",
                     "mobilenext_035", "mobilenext_140", "shufflenet_v1_g1_100",
                     "shufflenet_v1_g8_200", "shufflenet_v2_050", "shufflenet_v2_200",
                     "squeezenet_10", "squeezenet_11", "snet_49", "snet_146", "snet_535",
                     "mobilefacenet", "mobilenet_v3_large_075", "mobilenet_v3_large_100",
                     "mobilenet_v3_small_075", "mobilenet_v3_small_100",
                     "mobilenet_v3_large_minimal_100", "mobilenet_v3_small_minimal_100",
                     *(f"efficientnet_lite{i}" for i in range(5)), "mnasnet_050", "mnasnet_100", "ghostnet_100",
                     "mobilenet_v4_conv_small", "mobilenet_v4_conv_medium", "mobilenet_v4_conv_large"]:
        assert required in names
    assert len(list_families()) == 13
    assert list_models("squeezenet") == ["squeezenet_10", "squeezenet_11"]


def test_unknown_name_lists_the_closest():
    with pytest.raises(ValueError, match=r"unknown model 'mobilenext_10'.*closest: mobilenext_100, "):
        create_model("mobilenext_10")


def test_unknown_override_is_rejected():
    with pytest.raises(ValueError, match="does not accept identity_multiplier"):
        create_model("mobilenet_v2_100", identity_multiplier=0.5)


def test_width_override_replaces_the_width_in_the_name():
    assert trainable(create_model("mobilenet_v2_100", width=0.5)) == 1_968_680
    assert trainable(create_model("shufflenet_v2_100", width=2.0)) == 7_393_996
    model = create_model("mobilenext_100", width=0.6)  # any float
    assert model.get_layer("stem").filters == 24  # make_divisible(19.2, 8)


def test_head_overrides(rng):
    model = create_model("mobilenet_v2_035", num_classes=7, input_shape=(96, 96, 3), dropout=0.3)
    assert model.output_shape == (None, 7)
    assert model.get_layer("dropout").rate == 0.3
    np.testing.assert_allclose(model(rng.rand(2, 96, 96, 3)).numpy().sum(1), 1.0, rtol=1e-5)
    logits = create_model("mobilenet_v2_035", classifier_activation=None)
    assert logits.layers[-1].name == "logits"
    for pooling, shape in ((None, (None, 7, 7, 1280)), ("avg", (None, 1280)), ("max", (None, 1280))):
        assert create_model("mobilenet_v2_035", include_top=False, pooling=pooling).output_shape == shape


def test_batchnorm_and_padding_overrides():
    model = create_model("shufflenet_v2_050", bn_momentum=0.9, bn_epsilon=1e-3, padding="tf")
    bns = [l for l in model.layers if isinstance(l, layers.BatchNormalization)]
    assert {(b.momentum, b.epsilon) for b in bns} == {(0.9, 1e-3)}
    assert model.get_layer("stem_pad").padding == ((0, 1), (0, 1))
    assert create_model("shufflenet_v2_050").get_layer("stem_pad").padding == ((1, 1), (1, 1))


def test_mobilenext_identity_multiplier_and_se():
    base = create_model("mobilenext_100")
    half = create_model("mobilenext_100", identity_multiplier=0.5)
    assert trainable(half) == trainable(base)
    assert half.get_layer("s3b2_add").output_shape[-1] == 96  # half of 192 carried
    se = create_model("mobilenext_100", se=True)
    assert trainable(se) == pytest.approx(3.94e6, rel=0.03)  # paper: MobileNeXt-1.0 + SE
    assert isinstance(se.get_layer("s3b2_se_scale"), layers.Multiply)


def test_mobilefacenet_embedding_or_classifier():
    assert create_model("mobilefacenet").output_shape == (None, 128)
    classifier = create_model("mobilefacenet", num_classes=100)
    assert classifier.output_shape == (None, 100)
    assert classifier.get_layer("logits").input_shape == (None, 128)


# Binary searches of builds: two families by default (total strides 32 and 16, SqueezeNet's VALID pools).
@pytest.mark.parametrize("name", sampled(one_per_family(), slow={
    "mobilefacenet", "shufflenet_v1_g3_050", "snet_49", "mobilenet_v1_025", "efficientnet_lite0",
    "mobilenext_035", "shufflenet_v2_050",
    "mobilenet_v3_small_075", "mnasnet_050", "ghostnet_100", "mobilenet_v4_conv_small"}))
def test_input_smaller_than_the_model_needs_is_one_clear_error(name):
    needed = total_stride(create_model(name))
    assert needed in (16, 32)
    with pytest.raises(InputError, match=rf"input size {needed - 1}x{needed - 1} is too small for "
                                         rf"{name}: it needs at least \d+x\d+$"):
        create_model(name, input_shape=(needed - 1, needed - 1, 3))
    with pytest.raises(InputError) as error:
        create_model(name, input_shape=(8, 8, 3), num_classes=10)
    small = int(str(error.value).rsplit("x", 1)[1])
    assert small >= needed
    assert create_model(name, input_shape=(small, small, 3), num_classes=10).output_shape == (None, 10)


@pytest.mark.parametrize("name", sampled(one_per_family(), slow={
    "mobilefacenet", "shufflenet_v1_g3_050", "snet_49", "mobilenet_v1_025", "mobilenext_035",
    "shufflenet_v2_050", "efficientnet_lite0", "mobilenet_v3_small_075", "mnasnet_050",
    "ghostnet_100", "mobilenet_v4_conv_small"}))
def test_drop_strides_gives_small_inputs_the_feature_maps_of_larger_ones(name):
    """At 32x32 with drop_strides=1 every layer from the first downsampling on sees what it would
    at 64x64 without: same weights, same shapes, half the total stride."""
    base = create_model(name, input_shape=(64, 64, 3), num_classes=10)
    small = create_model(name, input_shape=(32, 32, 3), num_classes=10, drop_strides=1)
    assert total_stride(small) == total_stride(base) // 2
    assert [w.shape for w in small.weights] == [w.shape for w in base.weights]
    shapes = {l.name: l.output_shape for l in base.layers}
    tail = [l.name for l in small.layers][len(small.layers) // 4:]  # well past the first stride
    if name.startswith("squeezenet"):  # its unpadded stem, now 'same': a little larger
        assert all(small.get_layer(n).output_shape[1] >= shapes[n][1] for n in tail)
    else:
        assert [small.get_layer(n).output_shape for n in tail] == [shapes[n] for n in tail]
    assert small.output_shape == (None, 10)
    # 28x28 is below a total stride of 32 or 16: two fewer downsamplings make it fit.
    tiny = create_model(name, input_shape=(28, 28, 3), num_classes=10, drop_strides=2)
    assert total_stride(tiny) == total_stride(base) // 4


def test_drop_strides_must_be_a_small_count():
    for bad in (-1, 6, 1.5, "1"):
        with pytest.raises(InputError, match="drop_strides is a number of downsamplings 0-5"):
            create_model("mobilenet_v2_035", drop_strides=bad)
