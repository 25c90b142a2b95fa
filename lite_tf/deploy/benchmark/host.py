"""Host latency of .tflite models: the ai_edge_litert interpreter with XNNPACK, one fresh process
per model and thread count (``measure``), as ``lite_tf.benchmark/2`` documents (``results``): the
work behind ``python -m export.benchmark``. Imports no TensorFlow."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

import lite_tf
from lite_tf.deploy.benchmark import measure
from lite_tf.deploy.benchmark.results import report, reported_top1
from lite_tf.errors import InputError


def _in_fresh_process(args, what: str):
    """``measure`` run on ``args`` (a dict, or a list of them) in a fresh Python process with
    nothing but numpy and LiteRT loaded; its JSON answer."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(lite_tf.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", measure.__name__, json.dumps(args)],
                          capture_output=True, text=True, env=env)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        raise InputError(f"{what}: the benchmark process failed (exit {proc.returncode}): "
                         f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
    return json.loads(lines[-1])


def _checked(result: dict, path: str) -> dict:
    if "error" in result:
        raise InputError(f"{path}: {result['error']}")
    return result


def benchmark(path: str, threads: int = 1, runs: int = 50, warmup: int = 5) -> dict:
    """``measure`` in a fresh Python process (nothing but numpy and LiteRT loaded), plus the
    model's top-1 from the ``<model>.report.json`` that python -m export wrote beside it."""
    args = {"path": path, "threads": threads, "runs": runs, "warmup": warmup}
    result = _checked(_in_fresh_process(args, path), path)
    result["top1"] = reported_top1(path)
    return result


def benchmark_many(paths: list[str], threads: int = 1, runs: int = 50, warmup: int = 5,
                   **seconds) -> list[dict]:
    """``measure`` for each model, one after the other in one fresh process: for many small
    models (the latency table's blocks), where a process per model would cost more than the
    measuring; ``seconds``: ``measure``'s ``warmup_seconds`` and ``min_seconds``. No top-1."""
    if not paths:
        return []
    args = [{"path": p, "threads": threads, "runs": runs, "warmup": warmup, **seconds} for p in paths]
    results = _in_fresh_process(args, f"{len(paths)} models ({paths[0]}, ...)")
    return [_checked(r, p) for r, p in zip(results, paths)]


def add_comparison_arguments(parser) -> None:
    """The options of the benchmarks/ scripts that compare int8 models' latency (``median_p50``)."""
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=100, help="timed invocations per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per model")


def median_p50(paths: dict[str, str], threads: int = 1, runs: int = 100, rounds: int = 5) -> dict:
    """Latency ratios measured fairly: rounds alternate between the models, and each model's
    latency is the median of its rounds' p50 (ms), by name."""
    p50 = {name: [] for name in paths}
    for _ in range(rounds):
        for name, path in paths.items():
            p50[name].append(benchmark(path, threads, runs)["p50_ms"])
    return {name: statistics.median(times) for name, times in p50.items()}


def measure_all(paths: list[str], threads: list[int], runs: int = 50, warmup: int = 5,
                progress=None, label: str = "") -> dict:
    """``benchmark`` for every model at every thread count, as one ``lite_tf.benchmark/2``
    document; ``progress`` (if given) is told ``[i/n] <label><path>: N threads`` before each."""
    pairs = [(path, t) for path in paths for t in threads]
    results = []
    for i, (path, t) in enumerate(pairs):
        if progress:
            progress(f"[{i + 1}/{len(pairs)}] {label}{path}: {t} thread{'s' * (t > 1)}")
        results.append(benchmark(path, t, runs, warmup))
    return report(results)
