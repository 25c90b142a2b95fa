"""One table over runs (``python -m export.report``): what each compression did to accuracy, size
and speed. Each run is shown with its int8 export (made first if missing): a float run's int8
model is post-training quantized (PTQ), a QAT run's quantization-aware trained.
"""

from __future__ import annotations

import gzip
import json
import os

from lite_tf import rundir
from lite_tf.compression import stage as stages
from lite_tf.data import sources
from lite_tf.deploy import litert
from lite_tf.deploy.benchmark import host
from lite_tf.deploy.benchmark.render import percent
from lite_tf.deploy.export import export
from lite_tf.errors import InputError
from lite_tf.models.profile import profile_model

COLUMNS = ("run", "model", "method", "top-1 float", "top-1 int8", "params", "MACs", "sparsity",
           "int8 size", "gzip size", "latency ms")


def method(run: rundir.Run) -> str:
    """The run's stages from the first float run, e.g. 'prune -> PQAT', or 'PTQ' for a float run."""
    names = [stages.get(r.stage).label for r in rundir.lineage(run) if r.stage not in (None, "none")]
    if not stages.get(run.stage).quantized:
        names.append("PTQ")
    return " -> ".join(names)


def int8_report(run: rundir.Run, progress=print) -> dict:
    """The run's int8 export report; the run is exported first when it has none."""
    path = run.dir.export_files(f"{run['model']}_int8").report
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    progress(f"{os.path.basename(run.workdir)}: no int8 export yet, exporting")
    return export(run, "int8", progress=progress)


def int8_file(run: rundir.Run, progress=print) -> str:
    """The run's int8 ``.tflite`` (exported first when missing)."""
    return os.path.join(run.dir.export_dir, int8_report(run, progress)["file"])


def row(workdir: str, latency_runs: int = 50, progress=print) -> dict:
    """One run's figures: top-1 of the float model and of its int8 TFLite model (on the run's
    evaluation split), params and MACs of the architecture, zeros among the int8 conv and dense
    weights, int8 size and gzip size, and 1-thread host latency (p50) of the int8 model."""
    run = rundir.find_run(workdir)
    report = int8_report(run, progress)
    path = int8_file(run, progress)
    with open(path, "rb") as f:
        content = f.read()
    profile = profile_model(stages.build_model(run, _classes(run)))
    weights = litert.weights(content)
    total = sum(w["size"] for w in weights)
    return {
        "run": os.path.basename(run.workdir), "workdir": run.workdir, "model": run["model"],
        "method": method(run), "float_top1": report["float_top1"], "int8_top1": report["tflite_top1"],
        "params": profile["trainable_params"], "macs": profile["macs"],
        "sparsity": sum(w["zeros"] * w["size"] for w in weights) / total if total else None,
        "size_bytes": len(content), "gzip_bytes": len(gzip.compress(content, 9)),
        "latency_ms": host.benchmark(path, 1, latency_runs)["p50_ms"] if latency_runs else None,
    }


def _classes(run: rundir.Run) -> int:
    return sources.num_classes(sources.get_builder(run["dataset"], run["data_dir"], run["manual_dir"]))


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---|---|" + "---:|" * (len(COLUMNS) - 3)]
    for r in rows:
        pct = percent
        cells = [f"`{r['run']}`", r["model"], r["method"], pct(r["float_top1"]), pct(r["int8_top1"]),
                 f"{r['params'] / 1e6:.2f}M", f"{r['macs'] / 1e6:.1f}M", pct(r["sparsity"]),
                 f"{r['size_bytes'] / 1024:.1f} KiB",
                 f"{r['gzip_bytes'] / 1024:.1f} KiB",
                 "-" if r["latency_ms"] is None else f"{r['latency_ms']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def check_runs(workdirs: list[str]) -> None:
    """InputError, in one line, for the first argument that is not a finished run."""
    for workdir in workdirs:
        if not os.path.lexists(workdir):
            raise InputError(f"no training run at {workdir}")
        rundir.find_run(workdir)
