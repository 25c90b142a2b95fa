"""notebooks/train_in_colab.ipynb: executed top to bottom here, offline, in its smoke mode, and its
Colab-only paths confined to the three cells that need them."""

import json
import os
import re
import sys
import zipfile

import nbformat
import pytest

from conftest import ROOT

NOTEBOOK = os.path.join(ROOT, "notebooks", "train_in_colab.ipynb")
COLAB_CELLS = {"install", "strategy", "download"}


def cells_by_tag(notebook):
    return {tag: cell for cell in notebook.cells for tag in cell.metadata.get("tags", [])}


def test_only_install_strategy_and_download_depend_on_colab():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    uses = [cell for cell in notebook.cells
            if re.search(r"\bIN_COLAB\b|google\.colab", cell.source) and cell.cell_type == "code"]
    assert {tag for cell in uses for tag in cell.metadata.get("tags", [])} == COLAB_CELLS
    assert len(uses) == 3
    for tag, cell in cells_by_tag(notebook).items():
        if tag in COLAB_CELLS:  # a Colab branch and the one that replaces it elsewhere
            assert re.search(r"^if IN_COLAB( and .*)?:$", cell.source, re.M), tag
            assert re.search(r"^else:$", cell.source, re.M), tag
    assert 'IN_COLAB = "google.colab" in sys.modules' in cells_by_tag(notebook)["install"].source


@pytest.mark.slow  # about 3 minutes: two trainings, two exports, a benchmark
def test_notebook_runs_top_to_bottom_offline_in_smoke_mode(tmp_path, monkeypatch):
    from nbclient import NotebookClient
    from tensorboard import manager

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # Smoke mode, as papermill would inject it: the bundled digits, the narrowest MobileNeXt, one
    # epoch, QAT for one epoch.
    cells_by_tag(notebook)["parameters"].source += (
        "\n# smoke mode (tests/test_notebook.py)\nMODEL = 'mobilenext_035'\nDATASET = 'sklearn_digits'\n"
        "EPOCHS = 1\nBATCH_SIZE = 32\nCOMPRESSION = 'qat'\nCOMPRESSION_EPOCHS = 1\n")
    monkeypatch.setenv("LITE_TF_CHECKOUT", ROOT)
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    boards = {info.pid for info in manager.get_all()}
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:  # %tensorboard leaves its server running
        for info in manager.get_all():
            if info.pid not in boards:
                os.kill(info.pid, 15)

    outputs = "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                        for o in c.get("outputs", []))
    assert "strategy: default" in outputs and f"lite_tf from {ROOT}/lite_tf" in outputs
    runs = sorted(p for p in (tmp_path / "runs").iterdir() if not p.is_symlink())
    assert len(runs) == 2  # the float run and its QAT stage
    qat = tmp_path / "runs" / "latest"
    tflite = qat / "export" / "mobilenext_035_int8.tflite"
    assert tflite.stat().st_size > 50_000
    report = json.loads((qat / "export" / "mobilenext_035_int8.report.json").read_text())
    assert report["mode"] == "int8" and report["compress"] == "qat"
    assert isinstance(report["tflite_top1"], float) and report["tflite_top1"] > 0.1  # 10 classes
    with zipfile.ZipFile(tmp_path / "lite_tf_mobilenext_035_int8.zip") as z:
        assert sorted(z.namelist()) == sorted([
            "mobilenext_035_int8.tflite", "labels.txt", "mobilenext_035_int8.report.json",
            "mobilenext_035_int8.samples", "benchmark.md", "benchmark.png"])
        assert z.read("mobilenext_035_int8.tflite") == tflite.read_bytes()
    images = [o for c in notebook.cells for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) == 2  # the training curves and accuracy against latency
    assert f"wrote {tmp_path / 'lite_tf_mobilenext_035_int8.zip'}" in outputs
