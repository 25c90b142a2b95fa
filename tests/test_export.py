"""python -m export: a trained run to a verified TFLite model, and bad input."""

import json
import os
import re
import shutil

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

import conftest
from conftest import ROOT, run_command, run_module, snapshot
from lite_tf import blocks, rundir
from lite_tf.backend import keras, tf
from lite_tf.compression.quantize import quantize_model
from lite_tf.compression import stage as stages
from lite_tf.data import pipeline, sources
from lite_tf.deploy import convert, litert, passes, samples
from lite_tf.deploy import export as exporter
from lite_tf.models import create_model
from lite_tf.training import trainer


def copy_run(trained, tmp_path):
    return shutil.copytree(trained, tmp_path / "run", symlinks=True)


def run_export(args, cwd):
    return run_module("export", args, cwd)


def test_int8_export_is_verified_and_reported(trained, tmp_path):
    workdir = copy_run(trained, tmp_path)
    report = exporter.export(rundir.find_run(str(workdir)), "int8", progress=lambda _: None)
    out = workdir / "export"
    assert sorted(os.listdir(out)) == ["export_report.json", "labels.txt",
                                       "mobilenext_035_int8.report.json", "mobilenext_035_int8.samples",
                                       "mobilenext_035_int8.tflite"]
    assert json.loads((out / "export_report.json").read_text()) == report
    assert json.loads((out / "mobilenext_035_int8.report.json").read_text()) == report
    assert (out / "labels.txt").read_text().split() == [str(d) for d in range(10)]
    assert report["size_bytes"] == (out / "mobilenext_035_int8.tflite").stat().st_size
    assert report["eval_examples"] == 360 and report["calibration_samples"] == 200
    assert abs(report["tflite_top1"] - report["float_top1"]) <= 1 - report["agreement"] + 1e-9
    # The report describes the written file: its top-1 recomputed from the .tflite on disk.
    run = rundir.find_run(str(workdir))
    builder = sources.get_builder(run["dataset"], run["data_dir"])
    lite = litert.TFLiteModel((out / "mobilenext_035_int8.tflite").read_bytes())
    hits = [lite(x).argmax(-1) == y.numpy().argmax(-1) for x, y in pipeline.make_dataset(
        builder, "test", training=False, batch_size=64, image_size=32, crop_fraction=1.0)]
    assert np.concatenate(hits).mean() == pytest.approx(report["tflite_top1"])
    # The phone's samples: the first 32 test images as the int8 input tensor, with the host's
    # predictions, which the .tflite on disk reproduces from those very bytes.
    found = samples.read(str(out / "mobilenext_035_int8.samples"))
    assert report["device_samples"] == 32 and found["inputs"].shape == (32, 32 * 32 * 3)
    assert found["inputs"].dtype == np.int8 and found["num_classes"] == 10
    assert found["top1"] == pytest.approx(report["tflite_top1"])
    first = next(iter(pipeline.make_dataset(builder, "test", training=False, batch_size=32, image_size=32,
                                        crop_fraction=1.0)))
    assert list(found["labels"]) == list(first[1].numpy().argmax(-1))
    interpreter = lite.interpreter
    for image, prediction in zip(found["inputs"], found["predictions"]):
        interpreter.set_tensor(lite.input["index"], image.reshape(1, 32, 32, 3))
        interpreter.invoke()
        assert interpreter.get_tensor(lite.output["index"])[0].argmax() == prediction
    assert {o["type"] for o in report["ops"]} <= {"int8", "int32"}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= {o["op"] for o in report["ops"]}
    # Every conv and dense kernel is accounted for, by its Keras layer as the export's passes left
    # it (the stem's 3x3 on 3 channels: 2x2 on 12, a third of it zeros); a dense model has few zeros.
    model, applied = passes.apply(stages.load_model(run), "int8")
    assert applied == report["passes"] == ["strided_stem_as_space_to_depth"]
    kernels = {l.name: l for l in model.layers if getattr(l, "kernel", None) is not None  # noqa: E741
               or getattr(l, "depthwise_kernel", None) is not None}
    assert sorted(w["layer"] for w in report["weights"]) == sorted(kernels)
    for w in report["weights"]:
        layer = kernels[w["layer"]]
        kernel = (layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel).numpy()
        assert w["size"] == kernel.size and w["type"] == "int8", w
        assert np.mean(kernel == 0) <= w["zeros"] < np.mean(kernel == 0) + 0.2, w
    assert 0 < report["gzip_bytes"] < report["size_bytes"] and report["compress"] is None
    assert oct((out / "labels.txt").stat().st_mode & 0o777) != "0o600"


@pytest.mark.slow
def test_float16_export_through_the_cli(trained, tmp_path):
    workdir = copy_run(trained, tmp_path)
    proc = run_export(["--float16", "--workdir", str(workdir), "--eval-samples", "64"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "tflite top-1" in proc.stdout
    report = json.loads((workdir / "export" / "export_report.json").read_text())
    assert report["mode"] == "float16" and report["eval_examples"] == 64
    assert report["agreement"] >= 0.95


@pytest.mark.slow  # two exports: the default suite is full
def test_model_files_export_like_their_run(trained, tmp_path, digits_dir):
    """The run's model.keras (through the CLI) and its SavedModel, given by path with the dataset,
    score the same float top-1 as the run's own export: same weights, same preprocessing."""
    workdir = copy_run(trained, tmp_path)
    quiet = dict(eval_samples=128, progress=lambda _: None)
    from_run = exporter.export(rundir.find_run(str(workdir)), "int8", **quiet)
    proc = run_export(["--model", str(workdir / "model.keras"), "--dataset", "sklearn_digits",
                       "--data-dir", digits_dir, "--eval-samples", "128", "--out",
                       str(tmp_path / "keras")], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    from_keras = json.loads((tmp_path / "keras" / "export_report.json").read_text())
    assert (tmp_path / "keras" / "model_int8.tflite").stat().st_size == from_keras["size_bytes"]
    # The SavedModel a run writes by default (train.saved_model; the fixture run skipped it).
    trainer.write_saved_model(stages.load_model(rundir.find_run(str(workdir))), str(workdir / "saved_model"))
    saved_model = rundir.model_file_run(str(workdir / "saved_model"), "sklearn_digits", digits_dir)
    from_saved_model = exporter.export(saved_model, "float32", out_dir=str(tmp_path / "sm"), **quiet)
    assert from_keras["float_top1"] == from_saved_model["float_top1"] == from_run["float_top1"]
    assert from_saved_model["agreement"] == 1.0  # float32 TFLite of the same graph
    images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    reloaded = keras.models.load_model(str(workdir / "saved_model"), compile=False)  # from its config
    np.testing.assert_array_equal(reloaded(images).numpy(), keras.models.load_model(
        str(workdir / "model.keras"), compile=False)(images).numpy())
    # The same weights and calibration images give the same int8 model either way.
    assert (from_keras["tflite_top1"], from_keras["size_bytes"]) == (from_run["tflite_top1"],
                                                                     from_run["size_bytes"])
    assert from_keras["input_shape"] == [1, 32, 32, 3]


def legacy_copy(trained, tmp_path):
    """A copy of the run as runs from before run.json were: settings in config.gin, the command in
    command.json; and the run.json it had."""
    workdir = copy_run(trained, tmp_path)
    record = json.loads((workdir / "run.json").read_text())
    (workdir / "run.json").unlink()
    (workdir / "command.json").write_text(json.dumps(record["command"]))
    return workdir, record


def test_a_run_from_before_run_json_reads_as_it_was(trained, tmp_path):
    workdir, record = legacy_copy(trained, tmp_path)
    run = rundir.find_run(str(workdir))
    assert run.record.get("legacy") and run["model"] == "mobilenext_035"
    assert {k: run[k] for k in rundir.LEGACY_SETTINGS} == \
        {k: record["settings"][k] for k in rundir.LEGACY_SETTINGS}
    assert rundir.RunDir(workdir).same_command(record["command"])  # resumable as before


@pytest.mark.slow  # an export
def test_a_run_from_before_run_json_still_exports(trained, tmp_path):
    """A run written before run.json is read as it is and exports like a new one."""
    workdir, _ = legacy_copy(trained, tmp_path)
    report = exporter.export(rundir.find_run(str(workdir)), "float32", eval_samples=32,
                             device_samples=0, progress=lambda _: None)
    assert report["eval_examples"] == 32 and report["agreement"] == 1.0
    assert not (workdir / "run.json").exists()  # nothing rewritten


def one_error_line(proc):
    return conftest.one_error_line(proc, "python -m export")


def break_run(case, workdir, digits_dir):
    """Turn a good run into the bad input of ``case``; returns the CLI arguments."""
    if case == "no run found":
        return []
    if case == "model file without a dataset":
        return ["--model", str(workdir / "model.keras")]
    if case == "dataset option with a run":
        return ["--workdir", str(workdir), "--dataset", "mnist"]
    if case == "model file with other classes":
        model = create_model("mobilenet_v1_025", num_classes=5, input_shape=(32, 32, 3))
        model.save(workdir / "five.keras")
        return ["--model", str(workdir / "five.keras"), "--dataset", "sklearn_digits",
                "--data-dir", digits_dir]
    if case == "unfinished run":
        (workdir / "model.keras").unlink()
    elif case == "corrupt model file":
        (workdir / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    elif case == "empty calibration split":
        record = json.loads((workdir / "run.json").read_text())
        record["settings"]["train_split"] = "train[:0]"
        (workdir / "run.json").write_text(json.dumps(record))
    elif case == "unwritable output folder":
        (workdir / "export").write_text("a file where the export folder goes")
    elif case == "incompatible flags":
        return ["--workdir", str(workdir), "--float16", "--io", "uint8"]
    return ["--workdir", str(workdir)]


BAD = {
    "no run found": "no training run at runs/latest: train one with python -m train",
    "unfinished run": "has not finished training: rerun its python -m train command",
    "corrupt model file": "cannot read",
    "incompatible flags": "--io uint8 applies to --int8 only, not --float16",
    "empty calibration split": "split 'train[:0]' of dataset 'sklearn_digits' is empty",
    "unwritable output folder": "cannot write to",
    "model file without a dataset": "--model needs --dataset",
    "dataset option with a run": "--dataset applies to --model only",
    "model file with other classes": "five.keras has 5 outputs but sklearn_digits has 10 classes",
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_exit_2_and_nothing_half_written(case, trained, tmp_path, digits_dir):
    workdir = copy_run(trained, tmp_path)
    args = break_run(case, workdir, digits_dir)
    before = snapshot(tmp_path)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    proc = run_command("export", args, "python -m export", cwd)
    assert BAD[case] in one_error_line(proc)
    assert snapshot(tmp_path) == before


def test_two_modes_at_once_is_one_line():
    proc = run_export(["--int8", "--float16"], ROOT)
    assert "not allowed with argument" in one_error_line(proc)


def test_float_kernels_are_found_and_the_io_boundary_allowed():
    """The check behind "an int8 export that kept float kernels fails": a dynamic-range model has
    float kernels; an int8 one with float32 I/O has only its QUANTIZE/DEQUANTIZE boundary."""
    model = create_model("mobilenet_v1_025", num_classes=10, input_shape=(32, 32, 3))
    images = np.random.default_rng(0).uniform(-1, 1, (4, 1, 32, 32, 3)).astype("float32")
    dynamic = litert.tensor_types(convert.convert(model, "dynamic"))
    assert {"CONV_2D", "DEPTHWISE_CONV_2D"} <= set(exporter.float_kernels(dynamic))
    float_io = litert.tensor_types(convert.convert(model, "int8", lambda: iter(images),
                                                  io_type="float32"))
    assert {"QUANTIZE", "DEQUANTIZE"} <= {op for op, _ in float_io}
    assert exporter.float_kernels(float_io) == []


def computed(flatbuffer: bytes) -> list:
    """What a .tflite model computes, its buffers' order and the converter's numbering of constant
    names aside: per op in order, its code and options, and per input and output tensor its name,
    type, shape, quantization and constant data."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer))
    graph = model.subgraphs[0]

    def tensor(i):
        if i < 0:
            return None
        t = graph.tensors[i]
        q = t.quantization
        name = re.sub(rb"\d+$", b"", t.name).replace(b"StatefulPartitionedCall", b"PartitionedCall")
        data = model.buffers[t.buffer].data
        return (name, t.type, list(t.shape), None if q is None else (
            list(q.scale if q.scale is not None else []), list(q.zeroPoint if q.zeroPoint is not None else []),
            q.quantizedDimension), None if data is None else bytes(data))

    return [(model.operatorCodes[op.opcodeIndex].builtinCode, repr(vars(op.builtinOptions) if op.builtinOptions else None),
             [tensor(i) for i in op.inputs], [tensor(i) for i in op.outputs]) for op in graph.operators]


@pytest.mark.parametrize("mode", ["int8", "float32"])
def test_conversion_computes_what_the_keras_model_converted_itself_computes(mode):
    """convert() hands the converter the model's function frozen to constants, not the Keras
    model (which it would serialize layer by layer, then checkpoint every variable: 3-4x slower):
    the same ops, tensors, constants and signature, QAT wrappers and their quantizer ranges
    included; only the output tensor's name tells them apart."""
    inputs = keras.Input((16, 16, 3))
    x = blocks.conv_bn_act(inputs, 8, 3, 2, activation_fn="hard_swish", name="stem")
    x = blocks.inverted_residual(x, 8, expansion=2, se_reduction=4, name="block")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = quantize_model(keras.Model(inputs, keras.layers.Dense(4, name="logits")(x)))
    images = np.random.default_rng(0).uniform(-1, 1, (4, 1, 16, 16, 3)).astype("float32")
    spec = tf.TensorSpec((1, 16, 16, 3), tf.float32)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
    if mode == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x] for x in images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    ours, keras_own = convert.convert(model, mode, lambda: iter(images)), converter.convert()
    assert computed(ours) == computed(keras_own)
    assert len(computed(ours)) > 10 and any(t[4] for op in computed(ours) for t in op[2] if t)
    signatures = [Interpreter(model_content=b).get_signature_list() for b in (ours, keras_own)]
    assert signatures[0] == signatures[1] == {"serving_default": {"inputs": ["x"], "outputs": ["output_0"]}}
    np.testing.assert_array_equal(litert.TFLiteModel(ours)(images[:, 0]), litert.TFLiteModel(keras_own)(images[:, 0]))
