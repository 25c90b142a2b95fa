"""One table over runs (``python -m export.report``): what each compression did to accuracy, size
and speed. Each run is shown with its int8 export (made first if missing): a float run's int8
model is post-training quantized (PTQ), a QAT run's quantization-aware trained.
"""

from __future__ import annotations

import gzip
import json
import os

from lite_tf import benchmark, exporter, runs, stages
from lite_tf.errors import InputError

STAGE_NAMES = {None: "float", "qat": "QAT", "prune": "prune", "pqat": "PQAT", "distill": "distill",
               "channel_prune": "channel prune"}
COLUMNS = ("run", "model", "method", "top-1 float", "top-1 int8", "params", "MACs", "sparsity",
           "int8 size", "gzip size", "latency ms")


def method(run: runs.Run) -> str:
    """The run's stages from the first float run, e.g. 'prune -> PQAT', or 'PTQ' for a float run."""
    names, current = [], run
    while current is not None:
        if current["compress"] is not None:
            names.insert(0, STAGE_NAMES.get(current["compress"], current["compress"]))
        parent = current["init_from"]
        current = runs.find_run(parent) if parent and os.path.isdir(parent) else None
    if run["compress"] not in stages.QUANTIZED:
        names.append("PTQ")
    return " -> ".join(names)


def int8_report(run: runs.Run, progress=print) -> dict:
    """The run's int8 export report; the run is exported first when it has none."""
    path = os.path.join(run.workdir, "export", f"{run['model']}_int8.report.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    progress(f"{os.path.basename(run.workdir)}: no int8 export yet, exporting")
    return exporter.export(run, "int8", progress=progress)


def row(workdir: str, latency_runs: int = 50, progress=print) -> dict:
    """One run's figures: top-1 of the float model and of its int8 TFLite model (on the run's
    evaluation split), params and MACs of the architecture, zeros among the int8 conv and dense
    weights, int8 size and gzip size, and 1-thread host latency (p50) of the int8 model."""
    from lite_tf import tflite
    from lite_tf.profile import profile_model

    run = runs.find_run(workdir)
    report = int8_report(run, progress)
    path = os.path.join(run.workdir, "export", report["file"])
    with open(path, "rb") as f:
        content = f.read()
    profile = profile_model(runs.build_model(run, _classes(run)))
    weights = tflite.weights(content)
    total = sum(w["size"] for w in weights)
    return {
        "run": os.path.basename(run.workdir), "workdir": run.workdir, "model": run["model"],
        "method": method(run), "float_top1": report["float_top1"], "int8_top1": report["tflite_top1"],
        "params": profile["trainable_params"], "macs": profile["macs"],
        "sparsity": sum(w["zeros"] * w["size"] for w in weights) / total if total else None,
        "size_bytes": len(content), "gzip_bytes": len(gzip.compress(content, 9)),
        "latency_ms": benchmark.benchmark(path, 1, latency_runs)["p50_ms"] if latency_runs else None,
    }


def _classes(run: runs.Run) -> int:
    from lite_tf import data

    return data.num_classes(data.get_builder(run["dataset"], run["data_dir"], run["manual_dir"]))


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---|---|" + "---:|" * (len(COLUMNS) - 3)]
    for r in rows:
        pct = benchmark.percent
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
        if not os.path.isdir(workdir):
            raise InputError(f"no training run at {workdir}")
        runs.find_run(workdir)
