"""python -m export.report: one table over runs (method chain, accuracy, size, latency)."""

import json
import shutil

import pytest

import conftest
from conftest import run_module, snapshot
from lite_tf import rundir
from lite_tf.deploy import report


def fake_run(path, compress=None, parent=None, legacy=False):
    """A finished run as later stages see it: its record and a final model file; ``legacy``: as
    runs from before run.json recorded them (config.gin only)."""
    path.mkdir(parents=True)
    settings = {"model": "mobilenext_035", "compress": compress, "init_from": parent}
    if legacy:
        lines = [f"train.{k} = {v!r}" for k, v in settings.items() if v is not None]
        (path / "config.gin").write_text("\n".join(lines) + "\n")
    else:
        rundir.RunDir(path).finish(settings, None, "")
    (path / ("model.h5" if compress in ("qat", "pqat") else "model.keras")).write_bytes(b"")
    return str(path)


@pytest.mark.parametrize("legacy", [False, True])
def test_method_names_the_chain_of_stages(tmp_path, legacy):
    def run(name, *args):
        return fake_run(tmp_path / name, *args, legacy=legacy)

    base = run("float")
    pruned = run("prune", "prune", base)
    cases = {base: "PTQ", run("qat", "qat", base): "QAT", pruned: "prune -> PTQ",
             run("pqat", "pqat", pruned): "prune -> PQAT",
             run("thin", "channel_prune", base): "channel prune -> PTQ"}
    for workdir, want in cases.items():
        assert report.method(rundir.find_run(workdir)) == want


@pytest.mark.slow
def test_report_puts_ptq_and_qat_side_by_side(trained, qat_run, tmp_path):
    float_run = shutil.copytree(trained, tmp_path / "float")
    qat = shutil.copytree(qat_run, tmp_path / "qat")
    proc = run_module("export.report", [str(float_run), str(qat), "--runs", "5", "--json",
                                        "--out", str(tmp_path / "table.md")], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)
    assert [r["method"] for r in rows] == ["PTQ", "QAT"]
    for row in rows:
        assert 0.0 < row["int8_top1"] <= 1.0 and row["latency_ms"] > 0 and row["macs"] > 0
        assert row["gzip_bytes"] < row["size_bytes"]
    assert rows[0]["params"] == rows[1]["params"]
    table = (tmp_path / "table.md").read_text()
    assert "| `float` | mobilenext_035 | PTQ |" in table and "| `qat` | mobilenext_035 | QAT |" in table


def test_report_bad_input_is_one_line_exit_2(tmp_path):
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    before = snapshot(tmp_path)
    for args, message in ((["nope"], "no training run at nope"),
                          ([str(unfinished)], "has not finished training"),
                          ([str(unfinished), "--runs", "0"], "argument --runs: must be >= 1, got '0'")):
        proc = conftest.run_command("report", args, "python -m export.report", tmp_path)  # in process
        assert message in conftest.one_error_line(proc, "python -m export.report")
    assert snapshot(tmp_path) == before
