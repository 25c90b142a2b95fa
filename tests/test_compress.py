"""Compression stages started from a finished run: quantization-aware training, magnitude pruning
and prune-preserving QAT, knowledge distillation."""

import json
import os
import shutil

import numpy as np
import pytest

import conftest
from conftest import ROOT, run_command, run_module, snapshot, stage
from lite_tf import rundir
from lite_tf.backend import keras, layers, tf
from lite_tf.compression import distill, prune
from lite_tf.compression import stage as stages
from lite_tf.data import pipeline, sources
from lite_tf.deploy import litert
from lite_tf.deploy.export import export
from lite_tf.errors import InputError
from lite_tf.search import latency
from lite_tf.models import create_model
from lite_tf.training import config

STAGE_CONFIGS = conftest.configs_by_kind()[1]


@pytest.mark.slow  # a QAT stage run
def test_qat_stage_keeps_the_run_and_its_accuracy(trained, qat_run):
    run, parent = rundir.find_run(str(qat_run)), rundir.find_run(str(trained))
    assert os.path.exists(qat_run / "model.h5") and not os.path.exists(qat_run / "model.keras")
    assert run["compress"] == "qat" and parent["compress"] is None
    # The parent's config is the base: its model, data and preprocessing carry over.
    for name in ("model", "model_overrides", "dataset", "data_dir", "image_size", "eval_crop_fraction"):
        assert run[name] == parent[name], name
    # One epoch at lr 1e-4 from the parent's weights: near its accuracy (from scratch: ~10%).
    parent_top1 = json.loads((trained / "metrics.json").read_text())["final"]["val_top1"]
    top1 = json.loads((qat_run / "metrics.json").read_text())["final"]["val_top1"]
    assert top1 >= parent_top1 - 0.05, (top1, parent_top1)
    model = stages.load_model(run)
    assert any("quant" in type(layer).__name__.lower() for layer in model.layers)


@pytest.mark.slow  # the default suite is full; test_family_qat_and_int8 converts every family
def test_qat_run_exports_to_int8(qat_run, tmp_path):
    workdir = shutil.copytree(qat_run, tmp_path / "run")
    run = rundir.find_run(str(workdir))
    report = export(run, "int8", eval_samples=160, progress=lambda _: None)
    assert {o["type"] for o in report["ops"]} <= {"int8", "int32"}
    # The int8 model computes what the fake-quantized Keras model computes: class probabilities
    # point the same way (this short fixture run is too uncertain a classifier for top-1
    # agreement to say much; on the quickstart run agreement is 99.7%, see the README).
    builder = sources.get_builder(run["dataset"], run["data_dir"])
    images = next(iter(pipeline.make_dataset(builder, "test", training=False, batch_size=64,
                                         image_size=32, crop_fraction=1.0)))[0].numpy()
    want = stages.load_model(run).predict(images, verbose=0)
    got = litert.TFLiteModel((workdir / "export" / report["file"]).read_bytes())(images)
    cosine = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert np.median(cosine) >= 0.95, cosine


@pytest.mark.slow
def test_init_from_flag_on_the_command_line(trained, tmp_path):
    proc = run_module("train", ["--config", "qat", "--init_from", str(trained), "--gin_bindings",
                                "train.epochs = 1", "--gin_bindings", "train.verbose = 0",
                                "--gin_bindings", "train.saved_model = False",
                                "--workdir", str(tmp_path / "run")], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["command"]["init_from"] == str(trained)
    assert record["parent"] == os.path.realpath(trained)
    assert "model         mobilenext_035" in proc.stdout


def bad(case, trained, request):
    if case == "init_from a QAT run":
        return ["--init_from", str(request.getfixturevalue("qat_run"))]
    if case == "init_from nothing":
        return ["--init_from", str(trained.parent / "nope")]
    if case == "unknown compression":
        return ["--init_from", str(trained), "--gin_bindings", "train.compress = 'prune_all'"]
    if case == "pruning past 100%":
        return ["--init_from", str(trained), "--gin_bindings", "train.compress = 'prune'",
                "--gin_bindings", "prune.Pruning.target = 1.5"]
    if case == "a rank larger than the layer":
        return ["--config", "low_rank", "--init_from", str(trained), "--gin_bindings",
                "low_rank.LowRank.ranks = {'s3b1_expand': 4096}"]
    if case.startswith("a latency table of another"):
        table = request.getfixturevalue("tmp_path_factory").mktemp("table") / "table.json"
        device = {**latency.host_device(), **({"cpu": "Another CPU"} if "device" in case else {})}
        table.write_text(json.dumps({"schema": latency.SCHEMA, "device": device, "threads": 1,
                                     "overhead_ms": 0.01, "overhead_samples_ms": [0.01], "entries": {}}))
        return ["--config", "channel_prune_latency", "--init_from", str(trained), "--gin_bindings",
                f"latency_target.LatencyTarget.table = '{table}'", "--gin_bindings",
                f"latency_target.LatencyTarget.device = '{'host' if 'device' in case else 'table'}'"]
    if case == "cluster-preserving QAT of a run that is not clustered":
        return ["--config", "cqat", "--init_from", str(trained)]
    if case == "a teacher that is not there":
        return ["--config", "distill", "--gin_bindings",
                f"distill.Distillation.teacher = '{trained.parent / 'nope'}'", "--gin_bindings",
                f"train.data_dir = '{rundir.find_run(str(trained))['data_dir']}'"]
    return ["--init_from", str(trained), "--gin_bindings", "train.precision = 'mixed_float16'"]


BAD = {
    "init_from a QAT run": "is quantization-aware trained: start a compression stage from a float run",
    "init_from nothing": "no training run at",
    "unknown compression": "train.compress must be one of channel_prune, cluster, cqat, distill, "
                           "low_rank, lowbit, none, pcqat, pqat, prune, qat (did you mean "
                           "'prune'?), got 'prune_all'",
    "QAT in mixed precision": "quantization-aware training needs precision 'float32'",
    "pruning past 100%": "prune.Pruning.target must be in [0, 1), got 1.5",
    "a teacher that is not there": "is neither a run directory nor a model file",
    "a rank larger than the layer": "rank 4096 of s3b1_expand is larger than the layer allows (svd: 1 to ",
    "a latency table of another device": "was measured on another device (",
    "cluster-preserving QAT of a run that is not clustered":
        "train.compress = 'cqat' starts from a 'cluster' run (train.init_from), not from a 'none' run",
    "a latency table of another model": "lacks 22 unit(s) of mobilenext_035 (first: stem): it was "
                                        "measured for other models",
}
# The default suite is full; "init_from a QAT run" needs the QAT stage run.
SLOW_BAD = {"pruning past 100%", "a teacher that is not there", "init_from a QAT run",
            "a rank larger than the layer", "a latency table of another device"}


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_BAD else c
                                  for c in BAD])
def test_bad_stage_is_one_line_exit_2(case, trained, tmp_path, request):
    before = snapshot(tmp_path)
    args = bad(case, trained, request)
    proc = run_command("train", args if "--config" in args else ["--config", "qat", *args],
                       "python -m train", tmp_path)
    assert BAD[case] in conftest.one_error_line(proc, "python -m train")
    assert snapshot(tmp_path) == before and not os.path.exists(tmp_path / "runs")


def test_every_stage_has_a_config_named_after_it():
    assert set(stages.names()) - {"none"} <= set(STAGE_CONFIGS)


@pytest.mark.parametrize("name", STAGE_CONFIGS)
def test_stage_configs_parse_and_are_documented(name):
    path = os.path.join(ROOT, "configs", f"{name}.gin")
    header = [line for line in open(path).read().splitlines() if line.startswith("#")]
    config.parse([path], [])
    compress = config.query("train.compress")
    assert compress in stages.names()
    start = "--gin_bindings" if compress == "distill" else "--init_from runs/latest"
    assert header[0].startswith(f"# python -m train --config {name} {start}")
    assert any("Expected:" in line for line in header)
    assert not any("TBD" in line for line in header)


def fit_steps(model, steps, callbacks=()):
    x = np.random.default_rng(0).uniform(-1, 1, (steps * 4, 32, 32, 3)).astype("float32")
    y = keras.utils.to_categorical(np.arange(steps * 4) % 10, 10)
    model.compile("adam", "categorical_crossentropy")
    model.fit(x, y, batch_size=4, epochs=1, callbacks=list(callbacks), verbose=0)


@pytest.mark.slow  # 25 s; the default suite is full
def test_pruning_reaches_its_target_in_the_prunable_layers_only():
    model = create_model("mobilenext_035", num_classes=10, input_shape=(32, 32, 3))
    pruning = prune.Pruning(target=0.75, end=0.5, frequency=2)
    pruned = prune.prune_model(model, pruning, steps=8)
    fit_steps(pruned, 8, prune.callbacks())
    stripped = prune.strip(pruned)
    assert [layer.name for layer in stripped.layers] == [layer.name for layer in model.layers]
    report = prune.summary(stripped)
    assert 0.73 <= report["prunable_sparsity"] <= 0.76, report["prunable_sparsity"]
    layers = report["layers"]
    dense = [n for n in layers if n.startswith("stem") or "_dw" in n or n == "logits"]
    assert dense and all(layers[n] < 0.05 for n in dense), {n: layers[n] for n in dense}
    assert all(layers[n] >= 0.7 for n in layers if n.endswith(("_reduce", "_expand")))


@pytest.mark.slow
def test_two_of_four_sparsity_and_the_xnnpack_policy():
    model = create_model("mobilenet_v2_035", num_classes=10, input_shape=(32, 32, 3))
    pruned = prune.prune_model(model, prune.Pruning(m_by_n=(2, 4), frequency=1), steps=4)
    fit_steps(pruned, 4, prune.callbacks())
    kernel = np.asarray(prune.strip(pruned).get_layer("s2b1_expand").kernel)  # (1, 1, in, out)
    groups = np.moveaxis(kernel, 2, -1).reshape(-1, 4)  # 4 consecutive input channels
    assert ((groups == 0).sum(1) >= 2).all()
    # TF-MOT's XNNPACK policy wants a symmetric-padded stride-2 stem (MobileNetV2's is TF-style)
    # and then prunes only 1x1 convolutions, the ones XNNPACK's sparse inference runs.
    with pytest.raises(InputError, match="policy 'xnnpack' does not apply to mobilenet_v2_035"):
        prune.prune_model(model, prune.Pruning(policy="xnnpack"), steps=4)
    model = create_model("mobilenext_035", num_classes=10, input_shape=(32, 32, 3))
    policy = prune.prune_model(model, prune.Pruning(policy="xnnpack"), steps=4)
    wrapped = [l.layer for l in policy.layers if hasattr(l, "pruning_vars")]  # noqa: E741
    assert wrapped and all(tuple(l.kernel_size) == (1, 1) for l in wrapped)  # noqa: E741


def test_block_pruning_zeros_whole_runs_of_input_channels():
    """``block = 8``: each filter's input channels fall in runs of 8 that are pruned together,
    for 1x1, 3x3 and dense kernels, and no filter loses all its weights (32 inputs, 4 blocks: each
    filter keeps exactly its strongest); a layer whose input channels 8 does not divide (12 here)
    is pruned weight by weight, as is one whose filters are too few blocks to keep one each at
    75% (8 inputs: one block), still keeping each filter's strongest weight."""
    inputs = keras.Input((8, 8, 12))
    x = layers.Conv2D(16, 1, name="c1x1_in12")(inputs)
    x = layers.Conv2D(32, 3, padding="same", name="c3x3_in16")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dense(24, name="fc_in32")(x)
    model = keras.Model(inputs, layers.Dense(10, name="logits")(x), name="tiny")
    pruned = prune.prune_model(model, prune.Pruning(target=0.75, frequency=1, end=0.5, block=8),
                               steps=4)
    wrapper = pruned.get_layer("prune_blocks_low_magnitude_c3x3_in16")
    assert prune.PruneBlocksLowMagnitude.from_config(wrapper.get_config()).block == 8
    x = np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 12)).astype("float32")
    pruned.compile("adam", "categorical_crossentropy")
    pruned.fit(x, keras.utils.to_categorical(np.arange(16) % 10, 10), batch_size=4,
               callbacks=prune.callbacks(), verbose=0)
    stripped = prune.strip(pruned)
    for name in ("c1x1_in12", "c3x3_in16", "fc_in32"):
        kernel = np.asarray(stripped.get_layer(name).kernel)
        assert np.mean(kernel == 0) == pytest.approx(0.75, abs=0.01), name
        zero = np.moveaxis(kernel, -1, 0) == 0  # as TFLite stores it: [out, h, w, in]
        if name == "c1x1_in12":  # weight by weight: runs of 4 zeros and non-zeros mixed
            quads = zero.reshape(-1, 4)
            assert (quads.any(-1) & ~quads.all(-1)).any()
        else:
            blocks = zero.reshape(-1, 8)
            assert (blocks.all(-1) | ~blocks.any(-1)).all(), name
            assert not zero.reshape(len(zero), -1).all(1).any(), f"{name}: a filter has no weights"
    few = keras.Sequential([keras.Input((8,)), layers.Dense(16, name="fc_in8")])
    few = prune.prune_model(few, prune.Pruning(target=0.75, frequency=1, end=0.5, block=8), steps=4)
    few.compile("adam", "mse")
    few.fit(x[:, 0, 0, :8], np.ones((16, 16)), batch_size=4, callbacks=prune.callbacks(), verbose=0)
    kernel = np.asarray(prune.strip(few).get_layer("fc_in8").kernel)
    assert np.mean(kernel == 0) == 0.75 and (kernel != 0).any(0).all()
    with pytest.raises(InputError, match="block and prune.Pruning.m_by_n exclude each other"):
        prune.Pruning(block=4, m_by_n=(2, 4)).check()
    with pytest.raises(InputError, match=r"prune.Pruning.block must be >= 1, got 0$"):
        prune.Pruning(block=0).check()


def test_distillation_term_is_zero_when_outputs_match_and_positive_otherwise():
    logits = tf.constant([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    assert abs(float(distill.soft_loss(logits, logits, 4.0))) < 1e-6
    assert float(distill.soft_loss(logits, logits[::-1], 4.0)) > 0.1
    # Through the Distiller's wiring: a teacher with the student's weights adds nothing.
    student = create_model("mobilenet_v2_035", num_classes=10, input_shape=(32, 32, 3))
    teacher = create_model("mobilenet_v2_035", num_classes=10, input_shape=(32, 32, 3))
    x = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
    y = keras.utils.to_categorical(np.arange(8) % 10, 10)
    config = distill.Distillation(teacher="unused", alpha=0.7)
    teacher.set_weights(student.get_weights())
    for same, check in ((True, lambda soft: abs(soft) < 1e-5), (False, lambda soft: soft > 1e-2)):
        if not same:  # the teacher prefers the later classes
            teacher.get_layer("logits").bias.assign(tf.linspace(-3.0, 3.0, 10))
        distiller = distill.Distiller(student, teacher, config)
        distiller.compile(loss=keras.losses.CategoricalCrossentropy())
        total, soft, hard, _ = (float(v) if v.shape.rank == 0 else v
                                for v in distiller.losses_on(x, y, training=False))
        assert check(soft), soft
        assert total == pytest.approx(0.7 * soft + 0.3 * hard, rel=1e-5)


@pytest.mark.slow
def test_prune_then_pqat_keeps_the_zeros_in_int8(trained, pruned_run, trained_int8, tmp_path):
    pruned = rundir.find_run(str(pruned_run))
    final = json.loads((pruned_run / "metrics.json").read_text())["final"]
    assert final["sparsity"]["prunable_sparsity"] >= 0.74
    assert rundir.find_run(str(trained))["model"] == pruned["model"] and pruned["compress"] == "prune"
    sparse = export(pruned, "float32", eval_samples=64, out_dir=str(tmp_path / "sparse"),
                    progress=lambda _: None)
    assert sparse["sparse"] and sparse["agreement"] >= 0.95
    pqat = stage("pqat", pruned_run, tmp_path / "pqat")
    assert pqat["compress"] == "pqat" and pqat["init_from"] == pruned.workdir
    int8 = export(pqat, "int8", eval_samples=64, progress=lambda _: None)
    assert {o["type"] for o in int8["ops"]} <= {"int8", "int32"}
    skipped = {n for n in final["sparsity"]["layers"] if not prune.prunable_name(n)}
    kept = [w for w in int8["weights"] if w["layer"] not in skipped and w["op"] == "CONV_2D"]
    zeros = sum(w["zeros"] * w["size"] for w in kept) / sum(w["size"] for w in kept)
    assert zeros >= 0.74, zeros
    # prune.gin prunes in blocks of 8 input channels: runs of 8 zeros in the .tflite's
    # [out, h, w, in] kernels, after PQAT and conversion (a kept weight may round to 0 in int8).
    interp, _ = litert._plain_interpreter((tmp_path / "pqat" / "export" / int8["file"]).read_bytes())
    pruned_kernels = [k for op in interp._get_ops_details() if op["op_name"] == "CONV_2D"
                      and (k := interp.get_tensor(op["inputs"][1])).shape[1:3] == (1, 1)]
    assert len(pruned_kernels) == len(kept), (len(pruned_kernels), len(kept))  # the 1x1 convs
    blocks = np.concatenate([k.reshape(-1, 8) == 0 for k in pruned_kernels])
    assert 8 * blocks.all(-1).sum() / blocks.sum() >= 0.97  # zeros that lie in zero blocks
    assert not any((k == 0).all((1, 2, 3)).any() for k in pruned_kernels)  # no filter left empty
    assert int8["gzip_bytes"] < 0.6 * trained_int8["gzip_bytes"]


@pytest.mark.slow
def test_distillation_stage_trains_and_exports_the_student(trained, tmp_path):
    run = stage("distill", None, tmp_path / "distill", f"distill.Distillation.teacher = '{trained}'",
                f"train.data_dir = '{rundir.find_run(str(trained))['data_dir']}'",
                "train.image_size = 32", "train.model = 'mobilenet_v2_035'")
    history = json.loads((tmp_path / "distill" / "metrics.json").read_text())["history"]
    assert history[-1]["distill_loss"] > 0 and "hard_loss" in history[-1]
    assert stages.read_model(run.model_path).name == "mobilenet_v2_035"
    report = export(run, "int8", eval_samples=64, progress=lambda _: None)
    assert report["model"] == "mobilenet_v2_035" and report["tflite_top1"] >= 0.0


@pytest.mark.slow
def test_channel_pruned_run_is_rebuilt_by_later_stages_and_exports(trained, tmp_path):
    thin = stage("channel_prune", trained, tmp_path / "thin",
                 "channel_prune.ChannelPruning.target_macs = None",
                 "channel_prune.ChannelPruning.ratio = 0.5",
                 "channel_prune.ChannelPruning.criterion = 'lasso'",  # measures training batches
                 "channel_prune.ChannelPruning.samples = 64")
    metrics = json.loads((tmp_path / "thin" / "metrics.json").read_text())["final"]
    final = metrics["channel_pruning"]
    assert final["macs_after"] < 0.8 * final["macs_before"] and final["criterion"] == "lasso"
    assert 0.0 <= metrics["before_training"]["val_top1"] <= 1.0  # the thin model before fine-tuning
    assert thin["model_overrides"]["channels"] and thin["model_overrides"]["bn_momentum"] == 0.9
    assert stages.load_model(thin).count_params() < stages.load_model(rundir.find_run(str(trained))).count_params()
    qat = stage("qat", tmp_path / "thin", tmp_path / "thin_qat")  # QAT of the thin architecture
    report = export(qat, "int8", eval_samples=64, progress=lambda _: None)
    assert {o["type"] for o in report["ops"]} <= {"int8", "int32"}


def test_rerunning_a_stage_from_runs_latest_resumes_it(trained, tmp_path, monkeypatch):
    """`--init_from runs/latest` moves runs/latest to the new stage run; when that run is
    interrupted, the same command again must resume it from the parent it recorded."""
    monkeypatch.chdir(tmp_path)
    command = {"config": [config.resolve_config("qat")], "gin_bindings": [],
               "init_from": "runs/latest"}
    stage_dir = tmp_path / "runs" / "qat-20261124-000000"
    stage_dir.mkdir(parents=True)
    rundir.RunDir(stage_dir).start(command, str(trained))
    os.symlink(stage_dir.name, tmp_path / "runs" / "latest")
    assert rundir.parent_run("runs/latest", command).workdir == os.path.realpath(trained)
    assert rundir.choose(command["config"], command).path == os.path.realpath(stage_dir)
    with pytest.raises(InputError, match="has not finished training"):  # another command
        rundir.parent_run("runs/latest", {**command, "gin_bindings": ["train.epochs = 2"]})
