"""Every family survives TF-MOT QAT and full-integer int8 TFLite conversion (ai_edge_litert)."""

import tempfile
from pathlib import Path

import numpy as np
import pytest

from lite_tf import blocks
from lite_tf.backend import keras
from lite_tf.blocks.activations import HardSwish
from lite_tf.models import create_model, get_entry, list_models
from lite_tf.compression.quantize import quantize_model
from lite_tf.deploy import passes
from lite_tf.deploy.convert import convert
from lite_tf.deploy.litert import TFLiteModel, tensor_types
from conftest import one_per_family, sampled, widest_per_family

SIZE = 64
INTEGER_TYPES = {"int8", "int32"}  # int32: biases and shape operands


def cosines(got, want):
    """Cosine similarity of each int8 output row with the float one."""
    return (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)


def blocks_through_qat_and_int8(model, rng, skip_passes=()):
    """A small block model on 16x16 inputs through one QAT step and full-integer int8 (checked to
    hold integer tensors only; the export's rewrite passes but ``skip_passes`` applied): ({layer:
    its QuantizeConfig's name}, the int8 op names, the int8-vs-float cosine of each sample)."""
    qat = quantize_model(model)
    wrapped = {layer.layer.name: type(layer.quantize_config).__name__
               for layer in qat.layers if hasattr(layer, "quantize_config")}
    x = rng.rand(8, 16, 16, 3).astype("float32")
    qat.compile(keras.optimizers.SGD(1e-3), "mse", run_eagerly=True)
    qat.fit(x, rng.randn(8, 10), verbose=0)
    tflite = convert(model, "int8", lambda: (x[i:i + 1] for i in range(len(x))),
                     skip_passes=skip_passes)
    ops = tensor_types(tflite)
    assert [op for op in ops if op[1] not in INTEGER_TYPES] == []
    return wrapped, {name for name, _ in ops}, cosines(TFLiteModel(tflite)(x), model.predict(x, verbose=0))


def check_qat_and_int8(name, rng, **overrides):
    # A few float steps with fast BatchNorm statistics, so the moving averages are not defaults.
    embedding = get_entry(name).settings["num_classes"] is None
    if not embedding:
        overrides.update(num_classes=10, classifier_activation=None)
    model = create_model(name, input_shape=(SIZE, SIZE, 3), bn_momentum=0.5, **overrides)
    x = rng.rand(16, SIZE, SIZE, 3).astype("float32")
    y = rng.randn(16, 128).astype("float32") if embedding else rng.randint(0, 10, 16)
    loss = "mse" if embedding else keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    # Eagerly: a few steps do not pay for tracing the training graph (30 s -> 3 s for GhostNet's
    # QAT step); the stages' tests train QAT models in graph mode.
    model.compile(keras.optimizers.SGD(0.01), loss, run_eagerly=True)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)

    qat = quantize_model(model)
    qat.compile(keras.optimizers.SGD(1e-3), loss, run_eagerly=True)
    history = qat.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])

    tflite = convert(model, "int8", lambda: (x[i:i + 1] for i in range(len(x))), io_type="int8")
    ops = tensor_types(tflite)
    assert [op for op in ops if op[1] not in INTEGER_TYPES] == []
    try:
        interpreter = TFLiteModel(tflite)
    except RuntimeError as error:  # seen once (XNNPACK failed to prepare): keep the model to read
        kept = Path(tempfile.gettempdir()) / f"lite_tf_unprepared_{name}.tflite"
        kept.write_bytes(tflite)
        raise AssertionError(f"{name}'s int8 model does not prepare (kept as {kept}): {error}") from error
    assert interpreter.input["dtype"] == np.int8 and interpreter.output["dtype"] == np.int8
    cosine = cosines(interpreter(x[:8]), model.predict(x[:8], verbose=0))
    print(f"{name}: int8-vs-float cosine, min of 8 samples: {cosine.min():.4f}")  # shown by -rP
    assert cosine.min() >= 0.99, cosine


# In the slow suite: the ShuffleNet-unit families (SNet, ShuffleNetV1, ShuffleNetV2: their
# channel split and shuffle), MobileNeXt (its sandglass blocks and SE are in
# test_custom_quantize_configs), MobileFaceNet (its PReLU QuantizeConfig is there too) and
# EfficientNet-Lite and MnasNet (MobileNetV2's blocks with 5x5 kernels), GhostNet, MobileNetV4 and
# MobileNetV3 (their blocks are in test_new_blocks_qat_and_int8 and
# test_hard_swish_reaches_int8_as_tflites_native_kernel).
@pytest.mark.parametrize("name", sampled(one_per_family(), slow={
    "snet_49", "shufflenet_v1_g3_050", "shufflenet_v2_050", "mobilenext_035", "mobilefacenet",
    "efficientnet_lite0", "mnasnet_050", "ghostnet_100", "mobilenet_v4_conv_small",
    "mobilenet_v3_small_075"}))
def test_family_qat_and_int8(name, rng):
    check_qat_and_int8(name, rng)


# The sweep, as the widths between: CI samples one width per family (above).
@pytest.mark.sweep
@pytest.mark.parametrize("name", sorted(set(widest_per_family()) - set(one_per_family())))
def test_widest_model_of_each_family_qat_and_int8(name, rng):
    check_qat_and_int8(name, rng)


@pytest.mark.sweep
@pytest.mark.parametrize("name", sorted(set(list_models()) - set(widest_per_family())
                                        - set(one_per_family())))
def test_every_other_width_qat_and_int8(name, rng):
    check_qat_and_int8(name, rng)


def test_custom_quantize_configs(rng):
    """SE's Multiply, PReLU and the identity multiplier's sliced shortcut, which TF-MOT's default
    registry does not cover, go through QAT and int8 (on a small model of those blocks)."""
    inputs = keras.Input((16, 16, 3))
    x = blocks.conv_bn_act(inputs, 32, 3, 2, activation_fn="prelu", name="stem")
    x = blocks.sandglass(x, 32, reduction=4, identity_multiplier=0.5, se_reduction=4, name="sg")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, name="logits")(x))
    # The int8 PRELU kernel itself: without the export's pass that re-expresses it.
    wrapped, ops, cosine = blocks_through_qat_and_int8(model, rng, skip_passes=list(passes.PASSES))
    assert wrapped["stem_prelu"] == "PReLUQuantizeConfig"
    assert wrapped["sg_se_scale"] == "OutputQuantizeConfig"
    assert {"PRELU", "MUL", "STRIDED_SLICE"} <= ops
    assert cosine.min() >= 0.9, cosine


def test_new_blocks_qat_and_int8(rng):
    """GhostNet's module (1x1 conv, depthwise conv with a multiplier, concat) and bottleneck with a
    hard-sigmoid SE, a hard-swish, MobileNetV4's fused block and UIB (ExtraDW) and its hidden
    head layer with BatchNorm: QAT, then int8 with integer kernels only."""
    inputs = keras.Input((16, 16, 3))
    x = blocks.conv_bn_act(inputs, 16, 3, 2, activation_fn="hard_swish", name="stem")
    x = blocks.fused_inverted_residual(x, 16, name="fused")
    x = blocks.universal_inverted_bottleneck(x, 16, start_kernel=3, mid_kernel=3, name="uib")
    x = blocks.ghost_bottleneck(x, 48, 24, 2, kernel_size=5, se_reduction=4, name="gb")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(32, use_bias=False, name="hidden")(x)
    x = keras.layers.BatchNormalization(name="hidden_bn")(x)
    x = keras.layers.ReLU(name="hidden_relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, name="logits")(x))
    # TFLite's own HARD_SWISH kernel: without the export's pass that rewrites it (test_passes.py).
    wrapped, ops, cosine = blocks_through_qat_and_int8(model, rng, skip_passes=["hard_swish_as_multiply"])
    assert wrapped["stem_hswish"] == wrapped["gb_se_gate"] == "OutputQuantizeConfig"
    assert {"HARD_SWISH", "CONCATENATION", "DEPTHWISE_CONV_2D"} <= ops
    assert cosine.min() >= 0.99, cosine


@pytest.mark.slow
def test_mobilenext_se_and_partial_identity_qat_and_int8(rng):
    check_qat_and_int8("mobilenext_035", rng, se=True, identity_multiplier=0.5)


@pytest.mark.parametrize("qat", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_hard_swish_reaches_int8_as_tflites_native_kernel(qat, rng):
    """MobileNetV3's hard-swish converts to one HARD_SWISH op per HardSwish layer, after QAT as
    after plain training, with no decomposed x * relu6(x + 3) / 6 left: the MULs are the SE
    gates' scales and their hard-sigmoids' 1/6. (The export's hard_swish_as_multiply pass then
    rewrites the plain model's for XNNPACK: tests/test_passes.py; it is off here.)"""
    model = create_model("mobilenet_v3_small_075", input_shape=(SIZE, SIZE, 3), num_classes=10,
                         classifier_activation=None)
    swishes = sum(isinstance(layer, HardSwish) for layer in model.layers)
    gates = sum(layer.name.endswith("_se_scale") for layer in model.layers)
    x = rng.rand(8, SIZE, SIZE, 3).astype("float32")
    for net in [quantize_model(model)] if qat else [model]:
        tflite = convert(net, "int8", lambda: (x[i:i + 1] for i in range(len(x))),
                         skip_passes=["hard_swish_as_multiply"])
        ops = [name for name, _ in tensor_types(tflite)]
        assert ops.count("HARD_SWISH") == swishes == 19  # stem, 8 blocks x 2, head conv, hidden
        assert ops.count("MUL") <= 2 * gates and "RELU6" not in ops
