"""Compression to fewer bits: low-bit weights (4-, 2-bit, ternary, binary) by QAT, clustering with
cluster- and sparsity-preserving QAT; each through to an int8 .tflite that keeps the few values."""

import gzip
import json

import numpy as np
import pytest
from conftest import stage
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from lite_tf import rundir
from lite_tf.backend import keras
from lite_tf.compression import cluster, lowbit, prune
from lite_tf.compression import stage as stages
from lite_tf.deploy import codebook, litert, precision
from lite_tf.deploy.convert import convert
from lite_tf.deploy.export import export
from lite_tf.models import create_model

WEIGHTS = {"4-bit": lowbit.LowBitWeights(bits=4), "2-bit": lowbit.LowBitWeights(bits=2),
           "ternary": lowbit.LowBitWeights(bits=2, ternary=True), "binary": lowbit.LowBitWeights(bits=1)}


@hypothesis_settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(sorted(WEIGHTS)), channels=st.integers(1, 6), seed=st.integers(0, 99),
       scale=st.floats(1e-3, 10.0))
def test_the_grid_holds_at_most_its_values_each_an_exact_int8_value(kind, channels, seed, scale):
    weights = WEIGHTS[kind]
    rng = np.random.default_rng(seed)
    w = (scale * rng.laplace(size=(3, 3, 4, channels)) * rng.uniform(0.1, 1, channels)).astype("float32")
    values, bound = (np.asarray(t) for t in lowbit.grid(w, weights.bits, weights.ternary))
    codes = values / (bound / 127)  # the int8 values the export stores
    assert np.allclose(codes, np.round(codes), atol=1e-3) and np.abs(codes).max() <= 127 + 1e-3
    per_channel = [set(np.round(codes[..., c]).astype(int).ravel().tolist()) for c in range(channels)]
    assert all(len(v) <= weights.levels for v in per_channel)
    # Every channel maps to the same int8 values: the kernel holds no more than one channel.
    assert len(set().union(*per_channel)) <= weights.levels
    if kind == "binary":
        assert not (values == 0).any()
    if kind == "ternary":
        assert all(v <= {-127, 0, 127} for v in per_channel)
    # The grid follows the weights: closer than the weights are to zero.
    assert np.linalg.norm(values - w) < np.linalg.norm(w)


def int8_kernels(content):
    interp, tensors = litert._plain_interpreter(content)
    return {tensors[op["inputs"][1]]["name"]: interp.get_tensor(op["inputs"][1])
            for op in interp._get_ops_details() if op["op_name"] in ("CONV_2D", "FULLY_CONNECTED")}


def fit_random(model, steps=4):
    x = np.random.default_rng(0).uniform(-1, 1, (steps * 8, 32, 32, 3)).astype("float32")
    y = keras.utils.to_categorical(np.arange(steps * 8) % 10, 10)
    model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    return x


@pytest.mark.slow  # 15 s each; the default suite is full
@pytest.mark.parametrize("kind", sorted(WEIGHTS))
def test_low_bit_model_saves_and_exports_what_it_trained(kind):
    weights = WEIGHTS[kind]
    net = create_model("mobilenet_v1_025", num_classes=10, input_shape=(32, 32, 3))
    trained = lowbit.quantize_low_bit(net, weights)
    # The low-bit quantizer on the chosen layers only (TF-MOT shares one config among all Conv2D
    # layers: set on it, the stem went low-bit too).
    low_bit = [layer.layer.name for layer in trained.layers if isinstance(
        getattr(getattr(layer, "quantize_config", None), "weight_quantizer", None),
        lowbit.LowBitWeightsQuantizer)]
    assert low_bit == lowbit.low_bit_layers(net)
    x = fit_random(trained)
    saved = lowbit.bake(trained, net, weights)
    # The saved plain QAT model computes what the low-bit model trained to compute.
    np.testing.assert_allclose(saved.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-5)
    kernels = int8_kernels(convert(saved, "int8", lambda: (x[i:i + 1] for i in range(8))))
    low = [k for name, k in kernels.items() if "_pw" in name]
    assert len(low) == len(lowbit.low_bit_layers(net)) == 13
    assert max(len(np.unique(k)) for k in low) <= weights.levels  # per kernel, not only per channel
    # The stem and the classifier keep 8 bits.
    kept = [k for name, k in kernels.items() if "_pw" not in name]
    assert len(kept) == 2 and min(len(np.unique(k)) for k in kept) > 15


def test_cqat_keeps_a_kernels_shared_values_shared_across_its_channels():
    # Every output channel holds all four of the kernel's values: TF-MOT 0.8 alone gives each
    # channel centroids of its own, which training moves apart (16 values after two steps).
    inputs = keras.Input((4, 4, 8), name="input")
    conv = keras.layers.Conv2D(4, 1, use_bias=False, name="pw")
    outputs = keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling2D(name="pool")(conv(inputs)))
    net = keras.Model(inputs, outputs, name="net")
    shared = np.array([-0.3, -0.1, 0.1, 0.3], "float32")
    conv.kernel.assign(shared[(np.arange(8)[:, None] + np.arange(4)) % 4].reshape(1, 1, 8, 4))
    prepared = stages.get("cqat").prepare(net, None, None)
    prepared.model.compile(keras.optimizers.SGD(0.5), "mse")
    x = np.random.default_rng(0).normal(size=(16, 4, 4, 8)).astype("float32")
    prepared.model.fit(x, np.random.default_rng(1).normal(size=(16, 2)), epochs=2, verbose=0)
    wrapper = next(layer for layer in prepared.final_model().layers if layer.name == "quant_pw")
    kernel = next(np.asarray(w) for w in wrapper.weights if w.name.split("/")[-1].startswith("kernel"))
    assert len(np.unique(kernel)) == 4
    assert not np.allclose(np.unique(kernel), shared)  # the centroids trained


@pytest.mark.slow  # 40 s; the default suite is full
def test_pcqat_keeps_the_zeros_and_the_clusters_in_int8():
    net = create_model("mobilenet_v1_025", num_classes=10, input_shape=(32, 32, 3))
    names = cluster.clustered_layers(net)
    for name in names:  # a pruned run: 75% of each prunable kernel zero
        kernel = net.get_layer(name).kernel
        kernel.assign(np.where(np.abs(kernel) > np.quantile(np.abs(kernel), 0.75), kernel, 0))
    clustered = cluster.cluster_model(net, cluster.Clustering(clusters=16, preserve_sparsity=True))
    x = fit_random(clustered)
    start = create_model("mobilenet_v1_025", num_classes=10, input_shape=(32, 32, 3))
    start.set_weights(cluster._c.strip_clustering(clustered).get_weights())
    assert max(prune.distinct_values(start, names).values()) <= 16
    prepared = stages.get("pcqat").prepare(start, None, None)
    fit_random(prepared.model)
    saved = prepared.final_model()
    np.testing.assert_allclose(saved.predict(x, verbose=0), prepared.model.predict(x, verbose=0), atol=1e-5)
    kernels = [k for name, k in int8_kernels(convert(saved, "int8", lambda: (x[i:i + 1] for i in range(8)))).items()
               if "_pw" in name]
    assert len(kernels) == len(names)
    # Every clustered kernel keeps its zeros (TF-MOT 0.8's shared quantizer kept them in 1 of 13)
    # and at most 16 values per output channel.
    assert min(np.mean(k == 0) for k in kernels) >= 0.74
    assert max(len(np.unique(k[c])) for k in kernels for c in range(k.shape[0])) <= 16


@pytest.mark.slow  # three stage runs and two exports
def test_prune_sparse_cluster_pcqat_stages_export_zeros_and_clusters(pruned_run, trained_int8, tmp_path):
    clustered = stage("sparse_cluster", pruned_run, tmp_path / "cluster")
    final = json.loads((tmp_path / "cluster" / "metrics.json").read_text())["final"]["clusters"]
    assert final["most_values_per_channel"] <= 16 and final["sparsity"] >= 0.74
    run = stage("pcqat", tmp_path / "cluster", tmp_path / "pcqat")
    assert run["init_from"] == clustered.workdir
    int8 = export(run, "int8", eval_samples=64, progress=lambda _: None)
    pruned = [w for w in int8["weights"] if prune.prunable_name(w["layer"]) and w["op"] == "CONV_2D"
              and w["layer"] != "stem"]
    assert min(w["zeros"] for w in pruned) >= 0.74 and max(w["values"] for w in pruned) <= 16
    # The export re-coded those the converter coded differently per channel (a kernel whose every
    # channel reaches the same largest value was coded alike already).
    assert int8["shared_codes"] and set(int8["shared_codes"]) <= {w["layer"] for w in pruned}
    # Three zeros in four and at most 16 values per channel: about 2 of int8's 8 bits of
    # information, so the kernels compress to about a quarter of the dense model's. (The whole
    # file does not follow them there: this small model's depthwise kernels, biases and
    # per-channel quantization parameters alone take 0.28x the dense model's gzip bytes.)
    dense = {w["layer"]: w["gzip_bytes"] for w in trained_int8["weights"]}
    compressed = sum(w["gzip_bytes"] for w in pruned) / sum(dense[w["layer"]] for w in pruned)
    assert compressed <= 0.35, compressed
    assert int8["gzip_bytes"] < 0.5 * trained_int8["gzip_bytes"]


@pytest.mark.slow  # a stage run and an export
def test_ternary_stage_exports_three_values_with_its_accuracy(trained, tmp_path):
    run = stage("ternary", trained, tmp_path / "ternary")
    final = json.loads((tmp_path / "ternary" / "metrics.json").read_text())["final"]
    assert final["low_bit"]["most_values_per_channel"] <= 3
    int8 = export(run, "int8", progress=lambda _: None)
    # The saved model is the trained one: on the test split it scores what the run measured, with
    # ties counted as Keras's top-1 counts them (a tie with the label is right; fake-quantized
    # logits tie often, the more so in a model one epoch of ternary weights has set back), and
    # what the export measured with argmax's (the first of the tied classes).
    from lite_tf.data import pipeline, sources
    batches = pipeline.make_dataset(sources.get_builder(run["dataset"], run["data_dir"]), run["eval_split"],
                                    training=False, batch_size=64, image_size=run["image_size"],
                                    crop_fraction=run["eval_crop_fraction"], preprocessing=run["preprocessing"])
    model = stages.load_model(run)
    logits, labels = zip(*((model.predict(x, verbose=0), y.numpy().argmax(-1)) for x, y in batches))
    logits, labels = np.concatenate(logits), np.concatenate(labels)
    assert len(labels) == int8["eval_examples"]
    # Another batch size rounds the logits differently, which can break a tie either way: an image
    # whose two highest logits are that close may count differently, the others may not.
    top2 = np.sort(logits, -1)[:, -2:]
    tied = int(np.sum(top2[:, 1] - top2[:, 0] <= 1e-5 * np.abs(logits).max()))
    tolerance = (tied + 0.5) / len(labels)
    assert np.mean(logits.argmax(-1) == labels) == pytest.approx(int8["float_top1"], abs=tolerance)
    keras_top1 = np.mean(logits[np.arange(len(labels)), labels] >= logits.max(-1))
    assert keras_top1 == pytest.approx(final["val_top1"], abs=tolerance)
    names = lowbit.low_bit_layers(stages.build_model(run, 10))
    low = [w for w in int8["weights"] if w["layer"] in names]
    assert low and max(w["most_values_per_channel"] for w in low) <= 3


@pytest.mark.slow  # two conversions
def test_int16x8_conversion_keeps_int16_activations_and_int8_weights():
    model = create_model("mobilenet_v1_025", num_classes=10, input_shape=(32, 32, 3))
    x = fit_random(model)[:8, None]
    content = convert(model, "int16x8", lambda: iter(x))
    types = {dtype for op, dtype in litert.tensor_types(content) if op in ("CONV_2D", "DEPTHWISE_CONV_2D")}
    assert types == {"int16"}, types
    assert {w["type"] for w in litert.weights(content)} == {"int8"}
    # Closer to the float model than int8 is.
    want = model.predict(x[:, 0], verbose=0)
    wide = litert.TFLiteModel(content)(x[:, 0])
    narrow = litert.TFLiteModel(convert(model, "int8", lambda: iter(x)))(x[:, 0])
    assert np.abs(wide - want).max() < np.abs(narrow - want).max()


def test_keep_float_finds_the_fewest_layers_that_bring_int8_back(monkeypatch):
    """Doubling, then bisecting: the smallest k within the bar, each k converted once."""
    layers = [{"tensor": f"t{i}", "op": "CONV_2D", "error": 1.0 - i / 100} for i in range(20)]
    monkeypatch.setattr(precision, "ranked", lambda *a, **k: layers)
    converted = []

    def convert_keeping(model, calibration, keep, *args):
        converted.append(len(keep))
        return bytes([len(keep)])

    monkeypatch.setattr(precision, "convert_keeping", convert_keeping)
    for needed in (0, 1, 5, 11, 20):
        converted.clear()
        top1 = {k: 0.95 if k >= needed else 0.90 + 0.04 * k / needed for k in range(21)}
        choice = precision.keep_float(None, None, lambda c: top1[c[0]], 0.95, 0.003, progress=lambda _: None)
        assert len(choice.kept) == needed and choice.content == bytes([needed])
        assert [r["tensor"] for r in choice.kept] == [f"t{i}" for i in range(needed)]  # worst first
        assert len(converted) == len(set(converted)) <= 2 * 5 + 1
    # Never within: all the layers (the most allowed), and said so by its score.
    choice = precision.keep_float(None, None, lambda c: 0.5, 0.95, 0.003, limit=6, progress=lambda _: None)
    assert len(choice.kept) == 6 and choice.tried[6] == 0.5


@pytest.mark.slow  # an export that ranks the layers and converts twice
def test_export_keeps_the_worst_layers_in_float(trained, tmp_path):
    """With per-tensor weight scales, where int8 loses most: the kept layers are float, every
    other kernel has one scale."""
    run = rundir.find_run(str(trained))
    report = export(run, "int8", eval_samples=64, out_dir=str(tmp_path), keep_float=2,
                    selection_samples=64, progress=lambda _: None, per_tensor=True)
    assert report["file"].endswith("_int8_per_tensor_mixed.tflite") and report["per_tensor"]
    assert len(report["kept_float"]["layers"]) == 2
    assert {w["scales"] for w in report["weights"] if w["type"] == "int8"} == {1}
    assert report["kept_float"]["errors"] == sorted(report["kept_float"]["errors"], reverse=True)
    ops = {(o["op"], o["type"]) for o in report["ops"]}
    kernels = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}  # which two: as the training went
    assert ("DEQUANTIZE", "int8") in ops and ("CONV_2D", "int8") in ops
    assert {op for op, dtype in ops if dtype == "float32"} & kernels
    assert list(report["kept_float"]["selection_top1"]) == ["2"]
    cost = report["kept_float"]["cost"]  # against the all-int8 model, converted beside it
    assert cost["size_ratio"] == round(report["size_bytes"] / cost["int8_size_bytes"], 4) > 0.9
    assert cost["p50_ms"] > 0 and cost["int8_p50_ms"] > 0
    assert cost["latency_ratio"] == pytest.approx(cost["p50_ms"] / cost["int8_p50_ms"], rel=1e-3)


def clustered_model(rng):
    """A 1x1 convolution whose kernel holds 16 shared values (+-1/8 ... +-1) and zeros, three
    in four weights zero, channels reaching different largest values, then BatchNorm with some
    negative scales."""
    x = inputs = keras.Input((6, 6, 32))
    x = keras.layers.Conv2D(64, 1, use_bias=False, name="pw")(x)
    x = keras.layers.BatchNormalization(name="pw_bn")(x)
    x = keras.layers.ReLU(name="pw_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, name="fc")(x))
    magnitudes = np.arange(1, 9) / 8
    kernel = np.stack([rng.choice(np.concatenate([magnitudes[:top], -magnitudes[:top], np.zeros(6 * top)]), 32)
                       for top in [8, *rng.randint(1, 9, 63)]], -1)
    model.get_layer("pw").set_weights([kernel.reshape(1, 1, 32, 64).astype("float32")])
    model.get_layer("pw_bn").set_weights([rng.uniform(-2, 2, 64), rng.normal(0, 0.1, 64),
                                          rng.normal(0, 0.1, 64), rng.uniform(0.5, 2, 64)])
    return model


def test_per_tensor_int8_has_one_weight_scale_per_kernel_and_loses_the_small_channels(rng):
    """One scale for a kernel whose channels span 100x in range: the small channels keep few
    int8 steps (per channel: each keeps 127)."""
    x = inputs = keras.Input((6, 6, 32))
    x = keras.layers.Conv2D(64, 1, name="pw")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, name="fc")(x))
    kernel = rng.uniform(-1, 1, (1, 1, 32, 64)) * np.logspace(-2, 0, 64)
    model.get_layer("pw").set_weights([kernel.astype("float32"), np.zeros(64, "float32")])
    x = rng.uniform(-1, 1, (32, 6, 6, 32)).astype("float32")
    scales, worst = {}, {}
    for per_tensor in (False, True):
        content = convert(model, "int8", lambda: (x[i:i + 1] for i in range(32)), per_tensor=per_tensor)
        scales[per_tensor] = {w["layer"]: w["scales"] for w in litert.weights(content)}
        interp, tensors = litert._plain_interpreter(content)
        conv = next(op for op in interp._get_ops_details() if op["op_name"] == "CONV_2D")
        stored = tensors[conv["inputs"][1]]
        step = stored["quantization_parameters"]["scales"].reshape(-1, 1, 1, 1)
        restored = interp.get_tensor(stored["index"]) * step  # [out, 1, 1, in]
        want = kernel.transpose(3, 0, 1, 2)
        worst[per_tensor] = (np.abs(restored - want).max((1, 2, 3)) / np.abs(want).max((1, 2, 3))).max()
    assert scales == {False: {"pw": 64, "fc": 10}, True: {"pw": 1, "fc": 1}}
    assert worst[False] <= 0.5 / 127 + 1e-4 and worst[True] > 10 * worst[False], worst
    with pytest.raises(ValueError, match="per-tensor weight scales apply to int8 only"):
        convert(model, "float16", per_tensor=True)


def test_clustered_kernels_share_one_code_per_value_in_every_channel(rng):
    model = clustered_model(rng)
    x = rng.uniform(-1, 1, (64, 6, 6, 32)).astype("float32")
    int8 = convert(model, "int8", lambda: (x[i:i + 1] for i in range(64)))
    shared, names = codebook.share_codes(int8, model)
    assert names == ["pw"]
    (before,), (after,) = ([k for n, k in int8_kernels(c).items() if "pw" in n] for c in (int8, shared))
    # The converter scales each channel by its own largest value: the same value, many codes.
    assert len(np.unique(np.abs(before))) > 9
    # Shared: one code per value (8 magnitudes and zero) up to the sign BatchNorm's negative
    # scales give a channel.
    assert len(np.unique(np.abs(after))) <= 9 and np.mean(after == 0) == np.mean(before == 0)
    assert len(gzip.compress(after.tobytes(), 9)) < len(gzip.compress(before.tobytes(), 9))
    # The same arithmetic: the outputs stay within a step or two of int8's.
    want, old, new = model.predict(x, verbose=0), litert.TFLiteModel(int8)(x), litert.TFLiteModel(shared)(x)
    step = np.abs(want).max() / 127
    assert np.abs(new - old).max() <= 3 * step and np.abs(new - want).max() <= 4 * step


def test_kernels_of_many_values_keep_the_converters_codes(rng):
    model = clustered_model(rng)
    model.get_layer("pw").set_weights([rng.normal(size=(1, 1, 32, 64)).astype("float32")])
    x = rng.uniform(-1, 1, (16, 6, 6, 32)).astype("float32")
    int8 = convert(model, "int8", lambda: (x[i:i + 1] for i in range(16)))
    assert codebook.share_codes(int8, model) == (int8, [])


def test_a_low_bit_grid_keeps_its_codes(rng):
    model = clustered_model(rng)
    # Binary, scaled per channel (eight scales: 16 values, few enough to be offered to the pass).
    grid = np.sign(rng.normal(size=(1, 1, 32, 64))) * rng.choice(np.arange(1, 9) / 8, 64)
    model.get_layer("pw").set_weights([grid.astype("float32")])
    x = rng.uniform(-1, 1, (16, 6, 6, 32)).astype("float32")
    int8 = convert(model, "int8", lambda: (x[i:i + 1] for i in range(16)))
    (codes,) = [k for n, k in int8_kernels(int8).items() if "pw" in n]
    assert set(np.unique(codes)) <= {-127, 127}  # one code per value already
    assert codebook.share_codes(int8, model) == (int8, [])
