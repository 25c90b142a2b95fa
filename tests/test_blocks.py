"""Each block on its own: shapes, parameter counts and the function it computes."""

import os

import numpy as np
import pytest
from conftest import run_script

from lite_tf import blocks
from lite_tf.backend import keras, layers
from lite_tf.blocks.conv import strided_padding
from lite_tf.blocks.sandglass import partial_identity_add


def block_model(fn, shape=(8, 8, 16), **kwargs):
    x = keras.Input(shape)
    return keras.Model(x, fn(x, **kwargs))


def kernel_params(model):
    return sum(int(np.prod(layer.kernel.shape)) for layer in model.layers
               if hasattr(layer, "kernel")) + sum(int(np.prod(layer.depthwise_kernel.shape))
                                                  for layer in model.layers
                                                  if isinstance(layer, layers.DepthwiseConv2D))


@pytest.mark.parametrize("size", [8, 7])
def test_tf_padding_equals_tensorflow_same(size, rng):
    cfg = blocks.BlockConfig(padding="tf")
    ours = block_model(blocks.conv_bn_act, (size, size, 3), filters=4, strides=2, norm=False,
                       activation_fn=None, cfg=cfg, name="c")
    ref = keras.Sequential([keras.Input((size, size, 3)), layers.Conv2D(4, 3, 2, padding="same")])
    ref.set_weights(ours.get_layer("c").get_weights())
    x = rng.rand(2, size, size, 3).astype("float32")
    np.testing.assert_allclose(ours(x), ref(x), atol=1e-6)


def test_padding_styles():
    assert strided_padding((224, 224), 3, 2, "tf") == ((0, 1), (0, 1))
    assert strided_padding((225, 225), 3, 2, "tf") == ((1, 1), (1, 1))
    assert strided_padding((224, 224), 3, 2, "symmetric") == ((1, 1), (1, 1))
    assert strided_padding((224, 224), 5, 2, "symmetric") == ((2, 2), (2, 2))
    with pytest.raises(ValueError, match="padding"):
        blocks.BlockConfig(padding="same")


def test_conv_bn_act_layers_and_batchnorm_settings():
    cfg = blocks.BlockConfig(bn_momentum=0.9, bn_epsilon=1e-5)
    m = block_model(blocks.conv_bn_act, filters=8, strides=2, activation_fn="relu6", cfg=cfg,
                    name="stem")
    assert [l.name for l in m.layers[1:]] == ["stem_pad", "stem", "stem_bn", "stem_relu"]
    bn = m.get_layer("stem_bn")
    assert (bn.momentum, bn.epsilon) == (0.9, 1e-5)
    assert m.get_layer("stem_relu").max_value == 6
    assert not m.get_layer("stem").use_bias


def test_depthwise_separable():
    m = block_model(blocks.depthwise_separable, filters=32, strides=2, name="b")
    assert m.output_shape == (None, 4, 4, 32)
    assert m.get_layer("b_dw").depthwise_kernel.shape == (3, 3, 16, 1)
    assert m.get_layer("b_pw").kernel.shape == (1, 1, 16, 32)


def test_group_conv_keeps_groups_separate(rng):
    m = block_model(blocks.group_conv, filters=8, groups=4, activation_fn=None, name="g")
    assert m.get_layer("g").kernel.shape == (1, 1, 4, 8)  # 1/4 of a dense 1x1's weights
    x = rng.rand(1, 8, 8, 16).astype("float32")
    x2 = x.copy()
    x2[..., :4] += 1.0  # perturb group 0 only
    changed = np.abs(m(x2).numpy() - m(x).numpy()).max(axis=(0, 1, 2)) > 1e-6
    assert changed.tolist() == [True] * 2 + [False] * 6
    with pytest.raises(ValueError, match="divisible"):
        block_model(blocks.group_conv, filters=6, groups=4, name="bad")


def test_grouped_conv_trains_on_tensorflows_kernel_and_computes_what_xla_does(rng, monkeypatch):
    """lite_tf.backend runs tf_keras's grouped convolutions on TensorFlow's kernel where it trains
    them (oneDNN): the same outputs and gradients as tf_keras's XLA path, XLA not called, and an
    int8 TFLite model that computes the same."""
    from lite_tf import backend
    from lite_tf.backend import tf
    from lite_tf.deploy.convert import convert
    from lite_tf.deploy.litert import TFLiteModel

    if not backend.native_grouped_convolution():
        pytest.skip("TensorFlow's kernels here do not train grouped convolutions (no oneDNN)")
    x = keras.Input((6, 6, 12))
    m = keras.Model(x, layers.Conv2D(12, 3, groups=3, use_bias=False, name="g")(x))
    conv, x = m.get_layer("g"), tf.constant(rng.rand(2, 6, 6, 12).astype("float32"))

    def output_and_gradient(call):
        with tf.GradientTape() as tape:
            y = call()
            loss = tf.reduce_sum(tf.square(y))
        return y.numpy(), tape.gradient(loss, conv.kernel).numpy()

    xla = output_and_gradient(lambda: backend._xla_grouped_convolution(conv, x, conv.kernel))
    xla_calls = []
    monkeypatch.setattr(backend, "_xla_grouped_convolution", lambda *a: xla_calls.append(a))
    native = output_and_gradient(lambda: m(x, training=True))
    assert xla_calls == []
    np.testing.assert_allclose(native[0], xla[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(native[1], xla[1], rtol=1e-4, atol=1e-3)

    monkeypatch.undo()
    images = rng.rand(8, 6, 6, 12).astype("float32")
    tflite = {}
    for path in (True, False):
        monkeypatch.setattr(backend, "_NATIVE", path)
        tflite[path] = TFLiteModel(convert(m, "int8", lambda: (x[None] for x in images)))(images)
    np.testing.assert_array_equal(tflite[True], tflite[False])


def test_without_tensorflows_grouped_kernel_grouped_convs_train_through_xla(tmp_path):
    """Without oneDNN TensorFlow's CPU kernels take no grouped convolution gradient: the probe says
    so and tf_keras's XLA path trains them, as without lite_tf."""
    script = tmp_path / "train.py"
    script.write_text(
        "import numpy as np\n"
        "import lite_tf\n"
        "from lite_tf import backend\n"
        "from lite_tf.backend import keras, layers\n"
        "x = keras.Input((6, 6, 12))\n"
        "m = keras.Model(x, layers.Conv2D(12, 3, groups=3, name='g')(x))\n"
        "m.compile('sgd', 'mse')\n"
        "m.fit(np.ones((4, 6, 6, 12)), np.ones((4, 4, 4, 12)), verbose=0)\n"
        "print('native', backend.native_grouped_convolution())\n")
    proc = run_script(str(script), [], env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0"))
    assert proc.returncode == 0 and "native False" in proc.stdout, proc.stderr[-2000:]


def test_channel_shuffle_matches_reference_permutation(rng):
    x = rng.rand(1, 2, 2, 12).astype("float32")
    m = block_model(blocks.channel_shuffle, (2, 2, 12), groups=3, name="s")
    want = x.reshape(1, 2, 2, 3, 4).transpose(0, 1, 2, 4, 3).reshape(1, 2, 2, 12)
    np.testing.assert_array_equal(m(x).numpy(), want)


def test_channel_slice_split_and_pad(rng):
    x = rng.rand(1, 3, 3, 6).astype("float32")
    inp = keras.Input((3, 3, 6))
    a, b = blocks.channel_split(inp, name="split")
    m = keras.Model(inp, [a, b, blocks.channel_slice(inp, 1, 4, name="mid"),
                          blocks.channel_pad(inp, 2, name="pad")])
    a, b, mid, pad = (t.numpy() for t in m(x))
    np.testing.assert_array_equal(a, x[..., :3])
    np.testing.assert_array_equal(b, x[..., 3:])
    np.testing.assert_array_equal(mid, x[..., 1:4])
    np.testing.assert_array_equal(pad, np.concatenate([x, np.zeros((1, 3, 3, 2), "float32")], -1))


def test_inverted_residual_shortcut_and_expansion():
    m = block_model(blocks.inverted_residual, filters=16, strides=1, expansion=6, name="b")
    assert m.get_layer("b_expand").kernel.shape == (1, 1, 16, 96)
    assert isinstance(m.layers[-1], layers.Add)
    m = block_model(blocks.inverted_residual, filters=24, strides=2, expansion=1, name="b")
    names = [l.name for l in m.layers]
    assert "b_expand" not in names and "b_add" not in names
    assert m.output_shape == (None, 4, 4, 24)


@pytest.mark.parametrize("form,dw1,dw2", [("first", True, True), ("pw_pw", False, False),
                                          ("pw_pw_dw", False, True), ("full", True, True)])
def test_sandglass_forms(form, dw1, dw2):
    strides = 1 if form == "pw_pw" else 2
    filters = 32 if form != "full" else 16
    strides = 1 if form == "full" else strides
    m = block_model(blocks.sandglass, filters=filters, strides=strides, reduction=2,
                    form=form, residual=form == "full", name="sg")
    names = {l.name for l in m.layers}
    assert ("sg_dw1" in names, "sg_dw2" in names) == (dw1, dw2)
    assert m.get_layer("sg_reduce").kernel.shape == (1, 1, 16, 8)  # 16 // 2
    assert m.get_layer("sg_expand").activation is not None
    assert ("sg_add" in names) == (form == "full")
    assert m.output_shape[-1] == filters and m.output_shape[1] == 8 // strides


def test_sandglass_rules_of_the_official_code():
    assert blocks.sandglass_hidden(32, 96, 2) == 16
    assert blocks.sandglass_hidden(960, 1280, 6) == 208  # 160 < 1280/6 -> make_divisible(214, 16)
    assert blocks.sandglass_form(32, 96, 2, 2, True) == ("first", False)
    assert blocks.sandglass_form(96, 144, 1, 6, True) == ("full", False)
    assert blocks.sandglass_form(144, 192, 2, 6, False) == ("pw_pw_dw", False)
    assert blocks.sandglass_form(288, 384, 1, 6, False) == ("pw_pw", False)
    assert blocks.sandglass_form(192, 192, 1, 6, False) == ("full", True)


@pytest.mark.parametrize("multiplier,kept", [(1.0, 12), (0.5, 6), (1 / 3, 4), (1 / 6, 2)])
def test_partial_identity_adds_only_the_first_channels(multiplier, kept, rng):
    x, y = keras.Input((2, 2, 12)), keras.Input((2, 2, 12))
    m = keras.Model([x, y], partial_identity_add(x, y, multiplier, name="add"))
    xv, yv = rng.rand(2, 1, 2, 2, 12).astype("float32")
    want = yv.copy()
    want[..., :kept] += xv[..., :kept]
    np.testing.assert_allclose(m([xv, yv]).numpy(), want, rtol=1e-6)


def test_shufflenet_v1_units():
    m = block_model(blocks.shufflenet_v1_unit, (8, 8, 24), filters=240, strides=2, groups=3,
                    group_first=False, name="u")
    assert m.output_shape == (None, 4, 4, 240)  # 24 pooled + 216 from the branch
    assert m.get_layer("u_gconv1").groups == 1 and m.get_layer("u_gconv2").groups == 3
    m = block_model(blocks.shufflenet_v1_unit, (4, 4, 240), filters=240, strides=1, groups=3,
                    name="u")
    assert m.get_layer("u_gconv1").kernel.shape == (1, 1, 80, 60)
    assert isinstance(m.get_layer("u_add"), layers.Add)


def test_shufflenet_v2_unit_passes_the_left_half_through(rng):
    m = block_model(blocks.shufflenet_v2_unit, (4, 4, 8), filters=8, strides=1, name="u")
    x = rng.rand(1, 4, 4, 8).astype("float32")
    y = m(x).numpy()
    np.testing.assert_array_equal(y[..., 0::2], x[..., :4])  # shuffled to even positions
    m = block_model(blocks.shufflenet_v2_unit, (8, 8, 24), filters=48, strides=2, kernel_size=5,
                    name="u")
    assert m.output_shape == (None, 4, 4, 48)
    assert m.get_layer("u_right_dw").kernel_size == (5, 5)


def test_fire():
    m = block_model(blocks.fire, (8, 8, 96), squeeze=16, expand1x1=64, expand3x3=64, name="fire2")
    assert m.output_shape == (None, 8, 8, 128)
    assert m.count_params() == 96 * 16 + 16 + 16 * 64 + 64 + 9 * 16 * 64 + 64  # torchvision's fire2


def test_squeeze_excite_gates_channels(rng):
    m = block_model(blocks.squeeze_excite, reduction=4, name="se")
    assert m.get_layer("se_reduce").kernel.shape == (1, 1, 16, 8)  # make_divisible(16 / 4, 8)
    m.get_layer("se_expand").set_weights([np.zeros((1, 1, 8, 16)), np.zeros(16)])
    x = rng.rand(1, 8, 8, 16).astype("float32")
    np.testing.assert_allclose(m(x).numpy(), 0.5 * x, rtol=1e-6)  # sigmoid(0) = 0.5


def test_gdc_head():
    m = block_model(blocks.gdc_head, (7, 7, 512), embedding_dim=128, name="gdc")
    assert m.get_layer("gdc_gdconv").depthwise_kernel.shape == (7, 7, 512, 1)
    assert m.output_shape == (None, 128)


def test_factorized_conv_and_non_bottleneck_1d(rng):
    m = block_model(blocks.factorized_conv, filters=16, kernel_size=3, name="f")
    assert kernel_params(m) == 2 * 3 * 16 * 16  # vs 9 * 16 * 16 for a 3x3
    m = block_model(blocks.non_bottleneck_1d, dilation=2, dropout=0.1, name="nb")
    assert m.output_shape == (None, 8, 8, 16)
    assert m.get_layer("nb_b_3x1").dilation_rate == (2, 1)
    assert (m(rng.rand(1, 8, 8, 16).astype("float32")).numpy() >= 0).all()


def test_crelu_computes_concat_relu_x_relu_minus_x(rng):
    m = block_model(blocks.crelu, (4, 4, 6), name="cr")
    x = rng.randn(2, 4, 4, 6).astype("float32")
    want = np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], -1)
    np.testing.assert_allclose(m(x).numpy(), want, rtol=1e-6)
    loaded = keras.Model.from_config(m.get_config())  # the initializer serializes
    assert loaded.output_shape == (None, 4, 4, 12)


@pytest.mark.parametrize("kind", ["regular", "downsample", "dilated", "asymmetric"])
def test_enet_bottleneck(kind):
    filters = 64 if kind == "downsample" else 16
    m = block_model(blocks.enet_bottleneck, filters=filters, kind=kind, name="bn")
    size = 4 if kind == "downsample" else 8
    assert m.output_shape == (None, size, size, filters)
    names = {l.name for l in m.layers}
    assert ("bn_pad_channels" in names) == (kind == "downsample")
    if kind == "asymmetric":
        assert m.get_layer("bn_conv_5x1").kernel_size == (5, 1)
    if kind == "dilated":
        assert m.get_layer("bn_conv").dilation_rate == (2, 2)


def test_two_3x3_convs_use_28_percent_fewer_weights_than_one_5x5():
    m = block_model(blocks.two_3x3_conv, filters=16, name="c")
    assert kernel_params(m) / (25 * 16 * 16) == pytest.approx(18 / 25)
    assert m.output_shape == (None, 8, 8, 16)


@pytest.mark.parametrize("size,ceil,want", [(109, True, 54), (54, True, 27), (54, False, 26),
                                            (112, False, 55)])
def test_max_pool_matches_pytorch_output_sizes(size, ceil, want):
    m = block_model(blocks.max_pool, (size, size, 1), pool_size=3, strides=2, ceil_mode=ceil,
                    name="p")
    assert m.output_shape[1] == want


def test_hard_activations_compute_their_formulas_and_reload(rng, tmp_path):
    """hard_sigmoid = relu6(x + 3) / 6 and hard_swish = x * hard_sigmoid(x) (MobileNetV3), each
    one registered layer that survives a .keras round trip."""
    x = np.linspace(-5, 5, 41, dtype="float32").reshape(1, 1, 41, 1)
    inputs = keras.Input((1, 41, 1))
    model = keras.Model(inputs, [blocks.activation(inputs, "hard_sigmoid", "a"),
                                 blocks.activation(inputs, "hard_swish", "b")])
    sigmoid, swish = model(x)
    want = np.clip(x + 3, 0, 6) / 6
    np.testing.assert_allclose(sigmoid, want, atol=1e-6)
    np.testing.assert_allclose(swish, x * want, atol=1e-6)
    assert [layer.name for layer in model.layers[1:]] == ["a_hsigmoid", "b_hswish"]
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again(x)[1], swish, atol=1e-6)


def test_squeeze_excite_with_hard_sigmoid_gate(rng):
    model = block_model(blocks.squeeze_excite, (4, 4, 32), reduction=4, gate="hard_sigmoid", name="se")
    assert type(model.get_layer("se_gate")).__name__ == "HardSigmoid"
    assert model.get_layer("se_reduce").filters == 8
    with pytest.raises(ValueError, match="gate must be one of"):
        block_model(blocks.squeeze_excite, (4, 4, 32), gate="tanh", name="se")


@pytest.mark.parametrize("filters,sliced", [(32, False), (30, False), (31, True)])
def test_ghost_module_makes_half_its_maps_with_a_cheap_depthwise_conv(filters, sliced, rng):
    """GhostNet: ceil(filters / 2) maps from a 1x1 conv, as many from a 3x3 depthwise conv on
    them, concatenated and cut to ``filters``; the ghost half equals the depthwise conv's output."""
    model = block_model(blocks.ghost_module, (8, 8, 16), filters=filters, name="g")
    intrinsic = -(-filters // 2)
    assert model.output_shape == (None, 8, 8, filters)
    assert kernel_params(model) == 16 * intrinsic + 9 * intrinsic
    assert any(layer.name == "g_slice" for layer in model.layers) == sliced
    x = rng.rand(2, 8, 8, 16).astype("float32")
    cheap = keras.Model(model.input, model.get_layer("g_cheap_relu").output)(x)
    np.testing.assert_allclose(model(x)[..., intrinsic:], np.asarray(cheap)[..., :filters - intrinsic],
                               atol=1e-6)


def test_ghost_bottleneck_shortcuts():
    same = block_model(blocks.ghost_bottleneck, (8, 8, 16), hidden=48, filters=16, name="b")
    assert not any("shortcut" in layer.name for layer in same.layers)
    down = block_model(blocks.ghost_bottleneck, (8, 8, 16), hidden=48, filters=24, strides=2,
                       kernel_size=5, se_reduction=4, name="b")
    assert down.output_shape == (None, 4, 4, 24)
    assert {"b_dw", "b_shortcut_dw", "b_shortcut_pw", "b_se_gate", "b_add"} <= {l.name for l in down.layers}
    assert down.get_layer("b_se_reduce").filters == 12  # 48 / 4, a multiple of 4


@pytest.mark.parametrize("start,mid,strides,kind", [
    (3, 3, 1, "ExtraDW"), (0, 3, 2, "IR"), (5, 0, 1, "ConvNeXt-like"), (0, 0, 1, "FFN"),
    (5, 0, 2, "ConvNeXt-like, strided")])
def test_universal_inverted_bottleneck_instances(start, mid, strides, kind):
    """MobileNetV4's UIB: optional depthwise convs before the expansion and between the 1x1s; the
    stride goes to the middle one when present, else to the first."""
    model = block_model(blocks.universal_inverted_bottleneck, (8, 8, 16), filters=16,
                        strides=strides, expansion=4, start_kernel=start, mid_kernel=mid, name="u")
    names = {layer.name for layer in model.layers}
    assert ("u_dw_start" in names) == bool(start) and ("u_dw" in names) == bool(mid)
    assert model.get_layer("u_expand").filters == 64
    assert model.output_shape == (None, 8 // strides, 8 // strides, 16)
    assert ("u_add" in names) == (strides == 1)
    assert kernel_params(model) == 16 * 64 * 2 + start * start * 16 + mid * mid * 64, kind


def test_universal_inverted_bottleneck_refuses_a_stride_without_a_depthwise_conv():
    with pytest.raises(ValueError, match="a strided UIB needs a depthwise conv"):
        block_model(blocks.universal_inverted_bottleneck, (8, 8, 16), filters=16, strides=2,
                    start_kernel=0, mid_kernel=0, name="u")


def test_fused_inverted_residual():
    model = block_model(blocks.fused_inverted_residual, (8, 8, 16), filters=24, strides=2, name="f")
    assert model.get_layer("f_expand").kernel_size == (3, 3) and model.get_layer("f_expand").filters == 64
    assert model.output_shape == (None, 4, 4, 24) and not any(l.name == "f_add" for l in model.layers)
