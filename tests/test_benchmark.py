"""python -m export.benchmark: host latency in the documented JSON schema, table and plot; bad input."""

import json
import os
import re
import shutil

import numpy as np
import pytest

import conftest
from ai_edge_litert.interpreter import Interpreter
from conftest import ROOT, run_command, run_module, run_script, snapshot
from lite_tf import rundir
from lite_tf.deploy import convert
from lite_tf.deploy.benchmark import host, measure, results
from lite_tf.errors import InputError
from lite_tf.models import create_model

RESULT_KEYS = {"model", "path", "size_bytes", "threads", "runs", "warmup", "init_ms",
               "first_inference_ms", "mean_ms", "std_ms", "p50_ms", "p90_ms", "p99_ms",
               "model_memory_bytes", "top1", "delegate", "samples", "agreement"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """An int8 and a float32 MobileNetV1-0.25 at 32x32; the int8 one with an export report."""
    root = tmp_path_factory.mktemp("models")
    model = create_model("mobilenet_v1_025", num_classes=10, input_shape=(32, 32, 3))
    images = np.random.default_rng(0).uniform(-1, 1, (4, 1, 32, 32, 3)).astype("float32")
    (root / "int8").mkdir()
    int8 = root / "int8" / "v1_int8.tflite"
    int8.write_bytes(convert.convert(model, "int8", lambda: iter(images)))
    (root / "int8" / "v1_int8.report.json").write_text(
        json.dumps({"file": "v1_int8.tflite", "tflite_top1": 0.875}))
    float32 = root / "v1_float32.tflite"
    float32.write_bytes(convert.convert(model, "float32"))
    return int8, float32


def run_benchmark(args, cwd):
    return run_module("export.benchmark", args, cwd)


def test_json_follows_the_schema(models, tmp_path):
    int8, _ = models
    proc = run_benchmark([str(int8), "--threads", "1,2", "--runs", "20", "--warmup", "2", "--json"],
                         tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = results.validate(json.loads(proc.stdout), "the output")
    assert out["schema"] == "lite_tf.benchmark/2"
    assert out["device"]["kind"] == "host" and out["device"]["cores"] >= 1
    assert out["device"]["runtime"]["name"] == "ai_edge_litert"
    assert [r["threads"] for r in out["results"]] == [1, 2]
    for r in out["results"]:
        assert set(r) == RESULT_KEYS
        assert r["size_bytes"] == int8.stat().st_size and r["runs"] >= 20 and r["warmup"] == 2
        assert 0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"]
        assert r["std_ms"] >= 0 and r["init_ms"] > 0 and r["first_inference_ms"] > 0
        # What the model added (13 MiB measured: LiteRT's and XNNPACK's buffers), not the whole
        # measuring process (about 54 MiB with Python, numpy and LiteRT).
        assert 2**20 < r["model_memory_bytes"] < 40 * 2**20
        assert r["top1"] == 0.875  # from the report beside the model
        assert (r["delegate"], r["samples"], r["agreement"]) == ("XNNPACK", 0, None)
    assert os.listdir(tmp_path) == []  # one model: nothing written


def test_measurement_times_the_model(models):
    """A model with 16x the MACs takes longer: the numbers come from running it."""
    int8, _ = models
    small = host.benchmark(str(int8), runs=30)
    big_model = create_model("mobilenet_v1_025", num_classes=10, input_shape=(128, 128, 3))
    images = np.random.default_rng(0).uniform(-1, 1, (2, 1, 128, 128, 3)).astype("float32")
    big = int8.parent.parent / "big.tflite"
    big.write_bytes(convert.convert(big_model, "int8", lambda: iter(images)))
    result = host.benchmark(str(big), runs=30)
    assert result["p50_ms"] > 4 * small["p50_ms"]
    assert result["top1"] is None  # no report beside big.tflite


def test_timing_scale_shortens_the_timed_invocations_and_a_bad_one_is_one_line(models, monkeypatch):
    """$LITE_TF_TIMING_SCALE (0.1 in the tests) times for a fraction of the usual seconds; a value
    outside (0, 1] is the measurement's one-line error."""
    int8, _ = models
    runs = {}
    for scale in ("1", "0.1"):
        monkeypatch.setenv(measure.SCALE_VARIABLE, scale)
        result = host.benchmark(str(int8), runs=1, warmup=0)
        runs[scale] = result["runs"] * result["mean_ms"] / 1e3  # seconds inside invoke()
    assert runs["1"] > 0.8 * measure.MIN_SECONDS and runs["0.1"] < runs["1"] / 5, runs
    monkeypatch.setenv(measure.SCALE_VARIABLE, "10")
    with pytest.raises(InputError, match=r"LITE_TF_TIMING_SCALE must be a number in \(0, 1\], got '10'$"):
        host.benchmark(str(int8))


def test_several_models_write_table_and_plot(models, tmp_path):
    int8, float32 = models
    proc = run_benchmark([str(int8), str(float32), "--runs", "5", "--out", str(tmp_path)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = (tmp_path / "benchmark.md").read_text()
    assert table in proc.stdout
    rows = table_rows(table)
    assert [(r["device"], r["model"], r["delegate"]) for r in rows] == [
        ("host", "`v1_int8`", "XNNPACK"), ("host", "`v1_float32`", "XNNPACK")]
    assert [r["top-1"] for r in rows] == ["87.50%", "-"]
    assert (tmp_path / "benchmark.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["benchmark.md", "benchmark.png"]


def table_rows(table: str) -> list[dict]:
    """The markdown table's rows as dicts by column name."""
    lines = [line for line in table.splitlines() if line.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(head, (c.strip() for c in line.strip("|").split("|")))) for line in lines[2:]]


def bad_case(case, models, tmp_path):
    int8, float32 = models
    if case == "missing file":
        return [str(tmp_path / "nope.tflite")]
    if case == "not a tflite file":
        (tmp_path / "model.tflite").write_text("not a model")
        return [str(tmp_path / "model.tflite")]
    if case == "bad threads":
        return [str(int8), "--threads", "1,two"]
    if case == "zero runs":
        return [str(int8), "--runs", "0"]
    (tmp_path / "taken").write_text("a file where the output folder goes")
    return [str(int8), str(float32), "--out", str(tmp_path / "taken")]


BAD = {
    "missing file": "no such model file",
    "not a tflite file": "model.tflite: The model is not a valid Flatbuffer",
    "bad threads": "--threads: expected an integer list like 1,2,4, got '1,two'",
    "zero runs": "--runs: must be >= 1, got '0'",
    "unwritable output folder": "cannot write to the output folder",
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_exit_2(case, models, tmp_path):
    args = bad_case(case, models, tmp_path)
    before = snapshot(tmp_path)
    proc = run_benchmark(args, tmp_path)
    assert BAD[case] in conftest.one_error_line(proc, "python -m export.benchmark")
    assert snapshot(tmp_path) == before


@pytest.mark.slow  # converts and times a model in a subprocess
def test_zoo_table_measures_the_models_named_and_keeps_the_other_rows(tmp_path):
    out, figures = tmp_path / "benchmarks.md", tmp_path / "zoo_table.json"
    kept = {"model": "squeezenet_11", "family": "squeezenet", "input": 224, "params": 1235496,
            "macs": 349152848, "size_bytes": 1352663, "p50_ms": {"1": 1.02, "2": 0.64},
            "measured": "2026-11-24"}
    stale = {**kept, "model": "mobilenet_v1_025", "p50_ms": {"1": 99.0}}
    gone = {**kept, "model": "no_longer_registered"}
    figures.write_text(json.dumps({"rows": [gone, stale, kept]}))
    other = "<!-- int8_efficiency -->\n## another benchmark's section\n<!-- /int8_efficiency -->"
    out.write_text(f"# an older table\n\n{other}\n")
    proc = run_script(os.path.join(ROOT, "benchmarks", "zoo_table.py"), [
        "--models", "mobilenet_v1_025", "--threads", "1", "--runs", "5", "--out", str(out),
        "--results", str(figures)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line.split("|")[1:-1] for line in out.read_text().splitlines() if line.startswith("| `")]
    assert [r[0].strip() for r in rows] == ["`mobilenet_v1_025`", "`squeezenet_11`"]
    name, size, params, macs, int8_size, ms = (c.strip() for c in rows[0])
    assert (name, size, params, macs) == ("`mobilenet_v1_025`", "224", "0.47M", "41.0M")
    assert 0.4 < float(int8_size.split()[0]) < 0.7 and 0 < float(ms) < 99
    assert [c.strip() for c in rows[1]] == ["`squeezenet_11`", "224", "1.24M", "349.2M", "1.29 MiB", "1.02"]
    assert "between 2026-11-24 and" in out.read_text()
    saved = json.loads(figures.read_text())["rows"]
    assert saved[1] == kept and saved[0]["measured"] != "2026-11-24"
    assert other in out.read_text() and "an older table" not in out.read_text()


@pytest.mark.slow  # converts three int8 models and times them in subprocesses
def test_int8_efficiency_times_before_and_after_the_passes_into_its_section(tmp_path):
    out, figures = tmp_path / "benchmarks.md", tmp_path / "int8_efficiency.json"
    out.write_text("# the zoo table\n\n| a | b |\n")
    proc = run_script(os.path.join(ROOT, "benchmarks", "int8_efficiency.py"), [
        "--models", "mobilefacenet", "--runs", "5", "--rounds", "1", "--out", str(out),
        "--results", str(figures)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r["model"]: r for r in json.loads(figures.read_text())["rows"]}
    assert list(rows) == ["mobilenet_v2_100", "mobilefacenet"]
    face, base = rows["mobilefacenet"], rows["mobilenet_v2_100"]
    assert face["passes"] == ["prelu_as_depthwise", "large_depthwise_in_bands", "strided_stem_as_space_to_depth"]
    assert base["passes"] == ["strided_stem_as_space_to_depth"]
    assert face["outside_xnnpack_before"] == ["PRELU"] and face["outside_xnnpack_after"] == []
    assert face["macs"] == 220_965_376 and base["ratio_after"] == base["ratio_before"] == 1.0
    assert face["ms_before"] > face["ms_after"] > 0  # the reference PRELU kernels cost 10x here
    assert abs(face["gmac_s_after"] / base["gmac_s_after"] - face["ratio_after"]) < 1e-9
    text = out.read_text()
    assert text.startswith("# the zoo table\n\n| a | b |\n\n<!-- int8_efficiency -->")
    assert "| `mobilefacenet` | 112 | 221.0M |" in text and text.count("<!-- /int8_efficiency -->") == 1


@pytest.mark.slow  # trains two small models for an epoch each, on the digits
def test_fashion_mnist_leaderboard_resumes_and_adds_runs(tmp_path, trained, digits_dir):
    script = os.path.join(ROOT, "benchmarks", "fashion_mnist_leaderboard.py")
    out, figures, root = tmp_path / "board.md", tmp_path / "board.json", tmp_path / "runs"
    common = ["--epochs", "1", "--root", str(root), "--out", str(out), "--results", str(figures),
              "--latency-runs", "5", "--gin_bindings", "train.dataset = 'sklearn_digits'",
              f"train.data_dir = '{digits_dir}'", "train.saved_model = False"]
    first = run_script(script, ["--models", "mobilenet_v1_025", *common])
    assert first.returncode == 0, first.stderr[-2000:]
    trained_once = (root / "mobilenet_v1_025" / "run.json").read_bytes()
    # A rerun with one more model and an outside run: the finished model is not trained again.
    again = run_script(script, ["--models", "mobilenet_v1_025", "shufflenet_v2_050",
                                "--runs", str(trained), *common])
    assert again.returncode == 0, again.stderr[-2000:]
    assert (root / "mobilenet_v1_025" / "run.json").read_bytes() == trained_once
    assert "mobilenet_v1_025: no int8 export yet" not in again.stderr
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in out.read_text().splitlines() if line.startswith("| `")}
    assert set(rows) == {"`mobilenet_v1_025`", "`shufflenet_v2_050`", "`mobilenext_035`"}
    assert rows["`mobilenet_v1_025`"][:2] == ["32x32", "1"]
    assert rows["`mobilenext_035`"][1] == "6"  # the outside run keeps its own epochs
    # A family the board leaves out is said so, with the reason, and not listed as pending.
    text = out.read_text()
    assert "\n\nLeft out: `mobilefacenet`, a face-verification embedding network" in text
    assert "`mobilefacenet`" not in next(l for l in text.splitlines() if l.startswith("Not yet on"))
    saved = json.loads(figures.read_text())
    assert [r["model"] for r in saved["rows"]] == ["mobilenext_035", "mobilenet_v1_025",
                                                   "shufflenet_v2_050"]
    assert all(r["latency_ms"] > 0 and 0 <= r["int8_top1"] <= 1 for r in saved["rows"])
    results.validate(saved["benchmark"], str(figures))
    assert (tmp_path / "board.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "board_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert [len(r["curve"]) for r in saved["rows"]] == [6, 1, 1]
    # Its run directory gone (a wiped runs/), a model recorded in the results is not trained
    # again: its figures stay, its latency is timed on its architecture with random weights.
    shutil.rmtree(root / "mobilenet_v1_025")
    third = run_script(script, ["--models", "mobilenet_v1_025", "shufflenet_v2_050", *common])
    assert third.returncode == 0, third.stderr[-2000:]
    assert not (root / "mobilenet_v1_025").exists()
    rows = {line.split("|")[1].strip() for line in out.read_text().splitlines()
            if line.startswith("| `")}
    assert rows == {"`mobilenet_v1_025`\\*", "`shufflenet_v2_050`", "`mobilenext_035`"}
    kept = {r["model"]: r for r in json.loads(figures.read_text())["rows"]}
    before = {r["model"]: r for r in saved["rows"]}
    for key in ("float_top1", "int8_top1", "train_minutes", "curve", "params", "macs"):
        assert kept["mobilenet_v1_025"][key] == before["mobilenet_v1_025"][key], key
    assert kept["mobilenet_v1_025"]["latency_of"] == "architecture"
    assert kept["mobilenet_v1_025"]["latency_ms"] > 0
    # No path to the deleted temporary file that was timed: the result says what it was.
    assert "timed" not in kept["mobilenet_v1_025"]
    assert all(os.path.exists(r["path"]) or r["path"].startswith("random weights in the architecture of ")
               for r in json.loads(figures.read_text())["benchmark"]["results"])
    assert "latency_of" not in kept["shufflenet_v2_050"]
    # --retrain trains a recorded model afresh (after a change of recipe) and replaces its row.
    bad = run_script(script, ["--models", "shufflenet_v2_050", "--retrain", "mobilenet_v1_025", *common])
    assert bad.returncode == 2 and "--retrain mobilenet_v1_025: not among --models" in bad.stderr
    fourth = run_script(script, ["--models", "mobilenet_v1_025", "--retrain", "mobilenet_v1_025",
                                 *common])
    assert fourth.returncode == 0, fourth.stderr[-2000:]
    assert (root / "mobilenet_v1_025" / "run.json").exists()
    rows = {r["model"]: r for r in json.loads(figures.read_text())["rows"]}
    assert "latency_of" not in rows["mobilenet_v1_025"] and set(rows) == set(kept)


def test_fashion_mnist_leaderboard_names_the_longer_runs_and_the_time_budget():
    board = conftest.load_script(os.path.join(ROOT, "benchmarks", "fashion_mnist_leaderboard.py"))

    def row(run, epochs, minutes):
        return {"run": run, "model": "mobilenet_v2_100", "input": 32, "epochs": epochs,
                "params": 2.2e6, "macs": 24e6, "float_top1": 0.9399, "int8_top1": 0.94,
                "size_bytes": 2.7e6, "latency_ms": 0.3, "train_minutes": minutes,
                "curve": [(minutes * (e + 1) / epochs, 0.9) for e in range(epochs)]}

    short = board.markdown([row("a", 10, 20)], [], 10, {})
    assert "Longer runs" not in short
    text = board.markdown([row("a", 10, 20), row("full", 25, 61)], [], 10, {})
    assert ("Longer runs: `mobilenet_v2_100` (full, 25 epochs) ends at 94.00% int8 after 61 "
            "minutes. The dashed line") in text


@pytest.mark.slow  # a QAT epoch from the trained run, on the digits
def test_fashion_mnist_compression_steps_from_a_base_run(tmp_path, trained, digits_dir):
    script = os.path.join(ROOT, "benchmarks", "fashion_mnist_compression.py")
    out, figures = tmp_path / "compression.md", tmp_path / "compression.json"
    args = [str(trained), "--root", str(tmp_path / "runs"), "--out", str(out), "--results",
            str(figures), "--latency-runs", "5", "--gin_bindings", "train.epochs = 1",
            f"train.data_dir = '{digits_dir}'", "train.saved_model = False"]
    bad = run_script(script, [*args, "--steps", "pqat"])
    assert bad.returncode == 2 and "--steps needs prune too" in bad.stderr and not out.exists()
    proc = run_script(script, [*args, "--steps", "qat"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    saved = json.loads(figures.read_text())
    assert list(saved["rows"]) == ["base", "qat"]
    assert rundir.find_run(str(tmp_path / "runs" / "qat")).stage == "qat"
    [check] = saved["checks"]
    assert check["bar"] == "QAT int8 within 0.3 points of the float base"
    measured = 100 * (saved["rows"]["qat"]["int8_top1"] - saved["rows"]["base"]["float_top1"])
    assert check["measured"] == f"{measured:+.2f} points" and check["met"] == (measured >= -0.3)
    text = out.read_text()
    assert "| `qat` | mobilenext_035 | QAT |" in text and "Not yet run" not in text
    base = text.split("One base run (`", 1)[1].split("`)", 1)[0]  # the command that made it
    assert base.startswith("python -m train --config quickstart ") and \
        "--gin_bindings \"train.model = 'mobilenext_035'\"" in base, base


@pytest.mark.slow  # converts nine int8 models and times them in subprocesses
def test_int8_latency_compares_the_zoo_keras_applications_and_mobilenext_identity_multipliers():
    proc = run_script(os.path.join(ROOT, "benchmarks", "int8_latency.py"), [
        "--image-size", "64", "--runs", "5", "--rounds", "1"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    for m in (2, 3, 6):
        line = next(l for l in lines if l.startswith(f"mobilenext_100 identity 1/{m} / mobilenext_100: "))
        with_passes, without = (float(v) for v in re.findall(r"\d+\.\d+", line.split(": ", 1)[1]))
        assert 0.5 < with_passes < 2 and 0.5 < without < 2, line
    assert re.search(r"^zoo mobilenet_v2_100 / keras.applications MobileNetV2 int8 latency: \d\.\d{3}$",
                     lines[-1]), lines[-1]


def test_int8_narrow_layers_times_each_kernel_with_its_macs(tmp_path, monkeypatch, capsys):
    """benchmarks/int8_narrow_layers.py: its 13 kernels with their MACs; run at 8x8 on one 1x1,
    one depthwise and the two ghost modules (in this process: 30 s as a script with all 13),
    each converted, timed and written (GMAC/s = MACs / p50) in the order printed."""
    script = conftest.load_script(os.path.join(ROOT, "benchmarks", "int8_narrow_layers.py"))
    every = script.kernels(8)
    assert len(every) == 13 and every["conv 1x1 16 -> 8"][1] == 8 * 8 * 16 * 8
    assert every["depthwise 3x3 x24"][1] == 8 * 8 * 9 * 24
    assert every["ghost module as depth multiplier 2"][0].get_layer("both").depth_multiplier == 2
    monkeypatch.setattr(script, "POINTWISE", ((16, 8),))
    monkeypatch.setattr(script, "DEPTHWISE", (8,))
    figures = tmp_path / "narrow.json"
    assert script.main(["--size", "8", "--runs", "3", "--rounds", "1", "--results", str(figures)]) == 0
    document = json.loads(figures.read_text())
    rows = {r["kernel"]: r for r in document["rows"]}
    assert document["size"] == 8 and list(rows) == [
        "conv 1x1 16 -> 8", "depthwise 3x3 x8", "ghost module 16 -> 8 + 8", "ghost module as depth multiplier 2"]
    assert all(r["ms"] > 0 and r["gmac_per_s"] == pytest.approx(r["macs"] / r["ms"] / 1e6) for r in rows.values())
    printed = [l for l in capsys.readouterr().out.splitlines() if " GMAC/s" in l]
    assert [l.split("  ")[0].strip() for l in printed] == list(rows)


@pytest.mark.slow  # times every convolution of two small models on their own
def test_int8_kernels_finds_each_models_kernel_mix(tmp_path):
    """benchmarks/int8_kernels.py, and the command it stands on (lite-tf profile --latency --by
    kernel) reusing its latency table."""
    from lite_tf.deploy.breakdown import kernel_kind
    from lite_tf.models import create_model
    from lite_tf.models.units import layer_unit

    script = os.path.join(ROOT, "benchmarks", "int8_kernels.py")
    out, figures, table = tmp_path / "benchmarks.md", tmp_path / "kernels.json", tmp_path / "table.json"
    out.write_text("# Benchmarks\n\nkept\n")
    # At 64x64 the smallest kernel kind (three stride-2 depthwise layers) takes about 1.6 us on
    # an AMD EPYC VM; at 32x32 it took 0.2 us, inside one Intel Xeon VM's jitter, and timed <= 0.
    args = ["--models", "shufflenet_v1_g3_050", "--baseline", "mobilenet_v1_025", "--input-size",
            "64", "--table", str(table), "--out", str(out), "--results", str(figures)]
    proc = run_script(script, args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    document = json.loads(figures.read_text())
    assert list(document["results"]) == ["mobilenet_v1_025", "shufflenet_v1_g3_050"]
    result = document["results"]["shufflenet_v1_g3_050"]
    model = create_model("shufflenet_v1_g3_050", input_shape=(64, 64, 3))
    timed = [layer for layer in model.layers if kernel_kind(layer)]
    counts = {r["kernel"]: r["layers"] for r in result["kernels"]}
    assert counts == {k: [kernel_kind(layer) for layer in timed].count(k)
                      for k in {kernel_kind(layer) for layer in timed}}
    assert "grouped conv 1x1 (3 groups)" in counts and "depthwise 3x3 stride 2" in counts
    assert sum(r["macs"] for r in result["kernels"]) == result["macs"] > 0
    assert all(r["ms"] > 0 for r in result["kernels"]) and result["measured_ms"] > 0
    times = [r["ms"] for r in result["kernels"]]
    assert times == sorted(times, reverse=True)
    text = out.read_text()
    assert text.startswith("# Benchmarks\n\nkept\n") and "<!-- /int8_kernels -->" in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [r.split("|")[1].strip() for r in rows] == ["`mobilenet_v1_025`", "`shufflenet_v1_g3_050`"]
    # The baseline at its own kernel rates is the baseline, less the time between its kernels.
    base = document["results"]["mobilenet_v1_025"]
    in_kernels = sum(k["ms"] for k in base["kernels"])
    assert float(rows[0].split("|")[7]) == pytest.approx(base["macs"] / in_kernels / 1e6, abs=0.5)
    # Kernels alone: the model's MACs over its kernels' own times, nothing between them.
    in_kernels = sum(k["ms"] for k in result["kernels"])
    assert float(rows[1].split("|")[9]) == pytest.approx(result["macs"] / in_kernels / 1e6, abs=0.5)
    # Every layer is in the table now: the command measures only the whole model.
    entries = json.loads(table.read_text())["entries"]
    assert {layer_unit(model, layer.name).key for layer in timed} <= set(entries)
    again = run_command("profile", ["shufflenet_v1_g3_050", "--input-size", "64", "--latency",
                                    "--by", "kernel", "--table", str(table)], "profile")
    assert again.returncode == 0 and "latency table: units" not in again.stderr, again.stderr
    assert "between the kernels" in again.stdout and "grouped conv 1x1 (3 groups)" in again.stdout


@pytest.mark.slow
def test_int8_vs_float_times_the_three_exports_and_prints_the_ratios(capsys):
    script = conftest.load_script(os.path.join(ROOT, "benchmarks", "int8_vs_float.py"))
    assert script.main(["--models", "mobilenet_v1_025", "--input-size", "32", "--rounds", "2",
                        "--runs", "3"]) == 0
    out = capsys.readouterr().out
    times = re.search(r"mobilenet_v1_025: float32 ([\d.]+) ms, int8 ([\d.]+) ms, int8 without passes "
                      r"([\d.]+) ms \(1 thread\(s\), median of 2 rounds' p50\)", out)
    ratios = re.search(r"mobilenet_v1_025 int8 / float32: ([\d.]+) \(without passes: ([\d.]+)\)", out)
    assert times and ratios, out
    float32, int8, without = map(float, times.groups())
    assert float(ratios.group(1)) == pytest.approx(int8 / float32, rel=0.05)  # the times are rounded
    assert float(ratios.group(2)) == pytest.approx(without / float32, rel=0.05)
    with pytest.raises(SystemExit) as exit:
        script.main(["--models", "mobilenet_v9"])
    assert exit.value.code == 2 and "unknown model 'mobilenet_v9'" in capsys.readouterr().err


def test_search_vs_zoo_states_the_margin_over_the_best_zoo_model_that_fits():
    script = conftest.load_script(os.path.join(ROOT, "benchmarks", "search_vs_zoo.py"))
    facts = {"name": "search_x", "budget_model": "b", "study_budget_ms": 0.1, "resolution": 32,
             "overrides": {"drop_strides": 1}, "threads": 1}
    searched = {"run": "best", "macs": 5e6, "latency_ms": 0.09, "float_top1": 0.92,
                "int8_top1": 0.9150, "epochs": 10}
    zoo = [{"model": "b", "macs": 4e6, "latency_ms": 0.1, "fits": True, "float_top1": 0.91,
            "int8_top1": 0.9100, "epochs": 10},
           {"model": "weak", "macs": 3e6, "latency_ms": 0.08, "fits": True, "float_top1": 0.90,
            "int8_top1": 0.9000, "epochs": 10},
           {"model": "untrained", "macs": 3e6, "latency_ms": 0.07, "fits": True},
           {"model": "slow", "macs": 9e6, "latency_ms": 0.3, "fits": False, "float_top1": 0.95,
            "int8_top1": 0.95, "epochs": 10}]
    text = script.markdown(facts, {"cpu": "CPU"}, 0.1, searched, zoo, "x.png")
    rows = [l.split("|")[1].strip() for l in text.splitlines() if l.startswith("| ") and "---" not in l]
    assert rows == ["model", "searched (`best`)", "`b`", "`weak`", "`untrained`"]  # no `slow`
    assert "is within the budget (0.90x) and is +0.50 points int8 against the most accurate " \
           "trained zoo model that fits, `b`." in text
    assert "have no 10-epoch run yet: `untrained`" in text
    over = script.markdown(facts, {"cpu": "CPU"}, 0.1, {**searched, "latency_ms": 0.11}, zoo, "x.png")
    assert "is OVER the budget (1.10x)" in over


def test_search_vs_zoo_takes_a_searched_run_without_its_search_folder(tmp_path, capsys):
    script = conftest.load_script(os.path.join(ROOT, "benchmarks", "search_vs_zoo.py"))
    arch = {"resolution": 32, "stem": 16, "stages": [], "head": 960, "identity_multiplier": 1.0}
    searched = tmp_path / "best100"
    searched.mkdir()
    rundir.RunDir(searched).finish({"model": "searched", "image_size": 32, "model_overrides": {
        "drop_strides": 1, "bn_momentum": 0.99, "arch": arch}}, None, "")
    (searched / "model.keras").write_bytes(b"")
    facts = script.run_facts(str(searched), "mobilenet_v2_100", None)
    assert facts == {"name": "best100", "budget_model": "mobilenet_v2_100", "study_budget_ms": None,
                     "resolution": 32, "overrides": {"drop_strides": 1, "bn_momentum": 0.99},
                     "threads": 1}
    assert script.run_facts(str(searched), "mobilenet_v2_100", "search_x")["name"] == "search_x"
    text = script.markdown(facts, {"cpu": "CPU"}, 0.3, {"run": "best100", "macs": 7e6, "latency_ms": 0.2,
                                                        "int8_top1": 0.92, "epochs": 10}, [], "x.png")
    assert "`mobilenet_v2_100`'s **0.300 ms**. 0 of 0 zoo models fit it." in text  # no study budget

    zoo = tmp_path / "zoo"
    zoo.mkdir()
    rundir.RunDir(zoo).finish({"model": "mobilenet_v2_100", "image_size": 32}, None, "")
    (zoo / "model.keras").write_bytes(b"")
    before = snapshot(tmp_path)
    for args, error in [
            (["--budget-model", "mobilenet_v9", "--run", str(searched)], "'mobilenet_v9': not a zoo model"),
            (["--budget-model", "mobilenet_v2_100", "--run", str(zoo)], "not a searched architecture"),
            (["--search", str(tmp_path), "--name", "x", "--run", str(searched)], "--name goes with --budget-model"),
            (["--run", str(searched)], "one of the arguments --search --budget-model is required")]:
        with pytest.raises(SystemExit) as exit:  # in this process: the script's imports take seconds
            script.main(args)
        lines = capsys.readouterr().err.strip().splitlines()
        assert exit.value.code == 2 and error in lines[-1] and lines[-1].startswith("search_vs_zoo.py: error:"), args
    assert snapshot(tmp_path) == before


def test_search_vs_zoo_takes_zoo_figures_other_comparisons_trained(tmp_path):
    script = conftest.load_script(os.path.join(ROOT, "benchmarks", "search_vs_zoo.py"))

    def comparison(name, resolution, zoo):
        (tmp_path / name).write_text(json.dumps({"search": {"resolution": resolution}, "zoo": zoo}))

    trained = {"model": "a", "float_top1": 0.91, "int8_top1": 0.905, "epochs": 10}
    comparison("s1_vs_zoo.json", 32, [trained, {"model": "untrained"},
                                      {**trained, "model": "longer", "epochs": 25}])
    comparison("s2_vs_zoo.json", 64, [{**trained, "model": "bigger input"}])
    (tmp_path / "other.json").write_text("{}")
    elsewhere = script.compared(str(tmp_path), 10, 32, "s3_vs_zoo.json")  # s3: not made yet
    assert elsewhere == {"a": {"float_top1": 0.91, "int8_top1": 0.905, "epochs": 10, "from": "s1_vs_zoo.json"}}
    # the comparison being made: what its --train trained (on a machine since gone) stays its own,
    # what it took from another comparison keeps that file, and its own figures come first
    comparison("s3_vs_zoo.json", 32, [{**trained, "model": "mine"}, {**trained, "int8_top1": 0.9},
                                      {**trained, "model": "passed", "from": "s0_vs_zoo.json"}])
    found = script.compared(str(tmp_path), 10, 32, "s3_vs_zoo.json")
    assert found == {"mine": {"float_top1": 0.91, "int8_top1": 0.905, "epochs": 10},
                     "a": {"float_top1": 0.91, "int8_top1": 0.9, "epochs": 10},
                     "passed": {"float_top1": 0.91, "int8_top1": 0.905, "epochs": 10, "from": "s0_vs_zoo.json"}}
    facts = {"name": "s3", "budget_model": "b", "study_budget_ms": None, "resolution": 32,
             "overrides": {}, "threads": 1}
    zoo = [{"model": "a", "macs": 4e6, "latency_ms": 0.1, "fits": True, **elsewhere["a"]}]
    text = script.markdown(facts, {"cpu": "CPU"}, 0.2, {"run": "best", "macs": 5e6, "latency_ms": 0.15,
                                                        "int8_top1": 0.92, "epochs": 10}, zoo, "x.png")
    assert "+1.50 points int8 against the most accurate trained zoo model that fits, `a`." in text
    assert "Trained for another comparison (figures from `benchmarks/results/s1_vs_zoo.json`): `a`." in text


def test_search_vs_zoo_carries_on_from_its_results_file_without_the_searched_run(tmp_path, capsys):
    """On a machine without the searched run, the comparison takes the searched model its results
    file recorded and times an int8 model of its architecture."""
    script = conftest.load_script(os.path.join(ROOT, "benchmarks", "search_vs_zoo.py"))
    arch = {"resolution": 32, "stem": 8, "head": 32, "identity_multiplier": 1.0, "stages": [
        {"block": "sandglass", "kernel": 3, "expansion": 2, "depth": 1, "channels": 16, "stride": 2,
         "se": True, "activation": "hard_swish"}]}
    facts = {"name": "s", "budget_model": "mobilenet_v2_100", "study_budget_ms": None,
             "resolution": 32, "overrides": {"drop_strides": 1}, "threads": 1}
    searched = {"run": "best", "model": "searched", "input": 32, "int8_top1": 0.92, "epochs": 10,
                "overrides": {"drop_strides": 1, "arch": arch}}
    path = tmp_path / "s_vs_zoo.json"
    path.write_text(json.dumps({"search": facts, "searched": searched, "zoo": []}))
    assert script.recorded_comparison(str(path), None) == (facts, searched)
    assert script.recorded_comparison(str(path), "mobilenet_v2_100") == (facts, searched)
    for budget, where, error in [("mobilenet_v2_035", path, "compared under 'mobilenet_v2_100'"),
                                 (None, tmp_path / "gone.json", "holds no comparison")]:
        with pytest.raises(InputError, match=error):
            script.recorded_comparison(str(where), budget)
    tflite = script.architecture_int8(searched, str(tmp_path))
    interpreter = Interpreter(model_path=tflite)
    (given,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert given["dtype"] == out["dtype"] == np.int8 and list(given["shape"]) == [1, 32, 32, 3]
    assert list(out["shape"]) == [1, 10]
    text = script.markdown(facts, {"cpu": "CPU"}, 0.3, {**searched, "macs": 1e6, "latency_ms": 0.1,
                                                        "latency_of": "architecture"}, [], "x.png")
    assert "The searched run is not on this machine: its figures are the ones recorded" in text
    with pytest.raises(SystemExit) as exit:
        script.main(["--budget-model", "mobilenet_v2_100"])
    assert exit.value.code == 2 and "without --run needs --name" in capsys.readouterr().err


def test_search_vs_zoo_wants_a_search_whose_budget_is_a_zoo_model(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"budget_ms": 0.3, "budget_model": None}))
    (tmp_path / "search.json").write_text(json.dumps({"command": {"config": ["s.gin"]},
                                                      "settings": {"search.device": "host"}}))
    before = snapshot(tmp_path)
    proc = run_script(os.path.join(ROOT, "benchmarks", "search_vs_zoo.py"),
                      ["--search", str(tmp_path), "--run", str(tmp_path)])
    assert "its budget is not a zoo model's latency" in conftest.one_error_line(proc, "search_vs_zoo.py")
    assert snapshot(tmp_path) == before
