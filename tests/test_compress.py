"""Compression stages started from a finished run: quantization-aware training."""

import json
import os
import shutil

import numpy as np
import pytest

import conftest
import train.__main__ as train_cli
from conftest import ROOT, run_module, snapshot
from lite_tf import data, exporter, runs, tflite


@pytest.fixture(scope="module")
def qat_run(trained, tmp_path_factory):
    """One QAT epoch from the trained run, through the training CLI's entry point."""
    workdir = tmp_path_factory.mktemp("qat") / "run"
    train_cli.run(["qat"], ["train.epochs = 1", "train.verbose = 0"], str(workdir),
                  init_from=str(trained))
    return workdir


def test_qat_stage_keeps_the_run_and_its_accuracy(trained, qat_run):
    run, parent = runs.find_run(str(qat_run)), runs.find_run(str(trained))
    assert os.path.exists(qat_run / "model.h5") and not os.path.exists(qat_run / "model.keras")
    assert run["compress"] == "qat" and parent["compress"] is None
    # The parent's config is the base: its model, data and preprocessing carry over.
    for name in ("model", "model_overrides", "dataset", "data_dir", "image_size", "eval_crop_fraction"):
        assert run[name] == parent[name], name
    # One epoch at lr 1e-4 from the parent's weights: near its accuracy (from scratch: ~10%).
    parent_top1 = json.loads((trained / "metrics.json").read_text())["final"]["val_top1"]
    top1 = json.loads((qat_run / "metrics.json").read_text())["final"]["val_top1"]
    assert top1 >= parent_top1 - 0.05, (top1, parent_top1)
    model = runs.load_model(run)
    assert any("quant" in type(layer).__name__.lower() for layer in model.layers)


def test_qat_run_exports_to_int8(qat_run, tmp_path):
    workdir = shutil.copytree(qat_run, tmp_path / "run")
    run = runs.find_run(str(workdir))
    report = exporter.export(run, "int8", eval_samples=160, progress=lambda _: None)
    assert {o["type"] for o in report["ops"]} <= {"int8", "int32"}
    # The int8 model computes what the fake-quantized Keras model computes: class probabilities
    # point the same way (this short fixture run is too uncertain a classifier for top-1
    # agreement to say much; on the quickstart run agreement is 99.4%, see the README).
    builder = data.get_builder(run["dataset"], run["data_dir"])
    images = next(iter(data.make_dataset(builder, "test", training=False, batch_size=64,
                                         image_size=32, crop_fraction=1.0)))[0].numpy()
    want = runs.load_model(run).predict(images, verbose=0)
    got = tflite.TFLiteModel((workdir / "export" / report["file"]).read_bytes())(images)
    cosine = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert np.median(cosine) >= 0.95, cosine


@pytest.mark.slow
def test_init_from_flag_on_the_command_line(trained, tmp_path):
    proc = run_module("train", ["--config", "qat", "--init_from", str(trained), "--gin_bindings",
                                "train.epochs = 1", "--gin_bindings", "train.verbose = 0",
                                "--workdir", str(tmp_path / "run")], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    command = json.loads((tmp_path / "run" / "command.json").read_text())
    assert command["init_from"] == str(trained)
    assert "model         mobilenext_035" in proc.stdout


def bad(case, trained, qat_run):
    if case == "init_from a QAT run":
        return ["--init_from", str(qat_run)]
    if case == "init_from nothing":
        return ["--init_from", str(trained.parent / "nope")]
    if case == "unknown compression":
        return ["--init_from", str(trained), "--gin_bindings", "train.compress = 'prune_all'"]
    return ["--init_from", str(trained), "--gin_bindings", "train.precision = 'mixed_float16'"]


BAD = {
    "init_from a QAT run": "is quantization-aware trained: start a compression stage from a float run",
    "init_from nothing": "no training run at",
    "unknown compression": "compress must be one of (None, 'qat'), got 'prune_all'",
    "QAT in mixed precision": "quantization-aware training needs precision 'float32'",
}


@pytest.mark.parametrize("case", BAD)
def test_bad_stage_is_one_line_exit_2(case, trained, qat_run, tmp_path):
    before = snapshot(tmp_path)
    proc = run_module("train", ["--config", "qat", *bad(case, trained, qat_run)], tmp_path)
    assert BAD[case] in conftest.one_error_line(proc, "python -m train")
    assert snapshot(tmp_path) == before and not os.path.exists(tmp_path / "runs")


def test_stage_configs_are_documented():
    path = os.path.join(ROOT, "configs", "qat.gin")
    header = [line for line in open(path).read().splitlines() if line.startswith("#")]
    assert header[0] == "# python -m train --config qat --init_from runs/latest"
    assert any("Expected:" in line for line in header)
