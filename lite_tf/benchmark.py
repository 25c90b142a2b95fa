"""Host latency of .tflite models: the ai_edge_litert interpreter with XNNPACK, one fresh process
per model and thread count (the work behind ``python -m export.benchmark``).

Results follow the schema ``lite_tf.benchmark/1`` (``benchmark.schema.json`` beside this module;
README, "Host benchmark"), which the Android benchmark app emits too, so phone and host numbers
land in one table (``markdown`` and ``plot`` take several documents). This module imports no
TensorFlow: the measuring process loads only numpy and LiteRT.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys

from lite_tf import files
from lite_tf.errors import InputError

SCHEMA = "lite_tf.benchmark/1"
SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "benchmark.schema.json")


# As TFLite's benchmark_model: warm up for at least 0.5 s and time at least 1 s of invocations.
# On a 2-core VM the first tens of 2-thread invocations run at 1-thread speed; 5 warm-up calls
# are not enough to see the steady state.
WARMUP_SECONDS = 0.5
MIN_SECONDS = 1.0


def measure(path: str, threads: int = 1, runs: int = 50, warmup: int = 5) -> dict:
    """Benchmark one model at one thread count, in this process (``benchmark`` isolates it).

    Timed: ``init`` = Interpreter(...) + allocate_tensors(); ``first inference`` = the first
    invoke(); then at least ``warmup`` untimed invoke() calls lasting at least 0.5 s, and at least
    ``runs`` timed ones lasting at least 1 s, on a fixed random input.
    """
    import resource
    import time

    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    start = time.perf_counter()
    interpreter = Interpreter(model_path=path, num_threads=threads)
    interpreter.allocate_tensors()
    init = time.perf_counter() - start
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        dtype = np.dtype(detail["dtype"])
        value = (rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, detail["shape"], endpoint=True)
                 if dtype.kind in "iu" else rng.uniform(-1, 1, detail["shape"]))
        interpreter.set_tensor(detail["index"], value.astype(dtype))
    start = time.perf_counter()
    interpreter.invoke()
    first = time.perf_counter() - start

    def invocations(count: int, seconds: float) -> list[float]:
        times, begin = [], time.perf_counter()
        while len(times) < count or time.perf_counter() - begin < seconds:
            start = time.perf_counter()
            interpreter.invoke()
            times.append(time.perf_counter() - start)
        return times

    invocations(warmup, WARMUP_SECONDS)
    times = np.array(invocations(runs, MIN_SECONDS))
    ms = times * 1e3
    return {
        "model": os.path.splitext(os.path.basename(path))[0], "path": os.path.abspath(path),
        "size_bytes": os.path.getsize(path), "threads": threads, "runs": len(times), "warmup": warmup,
        "init_ms": init * 1e3, "first_inference_ms": first * 1e3,
        "mean_ms": float(ms.mean()), "std_ms": float(ms.std()),
        "p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        * (1 if sys.platform == "darwin" else 1024),  # bytes on macOS, KiB on Linux
        "top1": None, "delegate": "XNNPACK", "samples": 0, "agreement": None,
    }


def _child() -> None:
    """Entry point of the measuring process: arguments as JSON on argv, result as JSON on stdout."""
    try:
        result = measure(**json.loads(sys.argv[1]))
    except Exception as e:  # reported to the parent as one line
        result = {"error": str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}
    print(json.dumps(result))


def benchmark(path: str, threads: int = 1, runs: int = 50, warmup: int = 5) -> dict:
    """``measure`` in a fresh Python process (nothing but numpy and LiteRT loaded), plus the
    model's top-1 from the ``<model>.report.json`` that python -m export wrote beside it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    args = json.dumps({"path": path, "threads": threads, "runs": runs, "warmup": warmup})
    proc = subprocess.run([sys.executable, "-c", "from lite_tf.benchmark import _child; _child()", args],
                          capture_output=True, text=True, env=env)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        raise InputError(f"{path}: the benchmark process failed (exit {proc.returncode}): "
                         f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
    result = json.loads(lines[-1])
    if "error" in result:
        raise InputError(f"{path}: {result['error']}")
    result["top1"] = reported_top1(path)
    return result


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


def reported_top1(path: str) -> float | None:
    """``tflite_top1`` of the report ``python -m export`` wrote beside the model, if any."""
    try:
        with open(files.report_path(path)) as f:
            return json.load(f).get("tflite_top1")
    except (OSError, ValueError, AttributeError):
        return None


def measure_all(paths: list[str], threads: list[int], runs: int = 50, warmup: int = 5,
                progress=None, label: str = "") -> dict:
    """``benchmark`` for every model at every thread count, as one ``lite_tf.benchmark/1``
    document; ``progress`` (if given) is told ``[i/n] <label><path>: N threads`` before each."""
    pairs = [(path, t) for path in paths for t in threads]
    results = []
    for i, (path, t) in enumerate(pairs):
        if progress:
            progress(f"[{i + 1}/{len(pairs)}] {label}{path}: {t} thread{'s' * (t > 1)}")
        results.append(benchmark(path, t, runs, warmup))
    return report(results)


def report(results: list[dict]) -> dict:
    """The ``lite_tf.benchmark/1`` document: where it ran and one entry per model and thread count."""
    return {"schema": SCHEMA, "device": device(), "results": results}


def validate(document, source: str) -> dict:
    """``document`` if it follows ``benchmark.schema.json``, else a one-line InputError naming
    ``source`` and the first violation."""
    import jsonschema

    with open(SCHEMA_FILE) as f:
        schema = json.load(f)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(document))
    if error is not None:
        where = "".join(f"[{p!r}]" for p in error.absolute_path) or "the document"
        raise InputError(f"{source} is not a {SCHEMA} document: {where}: {error.message}")
    return document


def load(path: str, source: str | None = None) -> dict:
    """A saved ``lite_tf.benchmark/1`` document (``--json`` output, or the phone app's), validated;
    errors name ``source`` (default: the path)."""
    source = source or path
    try:
        with open(path) as f:
            document = json.load(f)
    except OSError as e:
        raise InputError(f"cannot read {source}: {e.strerror}") from None
    except ValueError as e:
        raise InputError(f"{source} is not JSON: {e}") from None
    return validate(document, source)


def device_label(device: dict) -> str:
    """'host' for this machine's results, the phone's name for an app's."""
    return "host" if device["kind"] == "host" else device["name"]


def device() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        from importlib.metadata import version
        runtime = version("ai-edge-litert")
    except Exception:  # not installed as a distribution
        runtime = None
    return {"kind": "host", "name": platform.node(), "os": f"{platform.system()} {platform.release()}",
            "cpu": cpu, "cores": os.cpu_count() or 1,
            "runtime": {"name": "ai_edge_litert", "version": runtime}}


def _size(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB"


def _rows(documents: list[dict]) -> list[dict]:
    """Every result of every document, with its device's label as ``device``."""
    return [dict(r, device=device_label(d["device"])) for d in documents for r in d["results"]]


def markdown(documents: list[dict]) -> str:
    """One table over the results of several documents (host and phones); the documents' errors
    (a delegate that could not run a model) are listed under it."""
    head = ("device", "model", "delegate", "threads", "size", "init ms", "first ms", "mean ms", "std",
            "p50", "p90", "p99", "peak RSS", "top-1", "agreement")
    lines = ["| " + " | ".join(head) + " |", "|---|---|---|" + "---:|" * (len(head) - 3)]
    for r in _rows(documents):
        lines.append("| " + " | ".join([
            r["device"], f"`{r['model']}`", r["delegate"], str(r["threads"]), _size(r["size_bytes"]),
            f"{r['init_ms']:.1f}", f"{r['first_inference_ms']:.2f}", f"{r['mean_ms']:.2f}",
            f"{r['std_ms']:.2f}", f"{r['p50_ms']:.2f}", f"{r['p90_ms']:.2f}", f"{r['p99_ms']:.2f}",
            "-" if r["peak_rss_bytes"] is None else f"{r['peak_rss_bytes'] / 2**20:.0f} MiB",
            percent(r["top1"]),
            "-" if r["agreement"] is None else f"{percent(r['agreement'])} of {r['samples']}"]) + " |")
    errors = [(device_label(d["device"]), e) for d in documents for e in d.get("errors", [])]
    if errors:
        lines += [""] + [f"- {label}: `{e['model']}` on {e['delegate']} with {e['threads']} "
                         f"thread{'s' * (e['threads'] > 1)} failed: {e['error']}" for label, e in errors]
    return "\n".join(lines) + "\n"


def percent(x) -> str:
    """A fraction as a table cell: '97.78%', or '-' when unknown."""
    return "-" if x is None else f"{100 * x:.2f}%"


def plot(documents: list[dict]) -> bytes | None:
    """PNG of accuracy vs p50 latency, one colour per device, delegate and thread count, marker
    area proportional to size; None when no result has a known top-1."""
    known = [r for r in _rows(documents) if r["top1"] is not None]
    if not known:
        return None
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    largest = max(r["size_bytes"] for r in known)
    several = len({r["device"] for r in known}) > 1
    for series in dict.fromkeys((r["device"], r["delegate"], r["threads"]) for r in known):
        group = [r for r in known if (r["device"], r["delegate"], r["threads"]) == series]
        device, delegate, threads = series
        ax.scatter([r["p50_ms"] for r in group], [100 * r["top1"] for r in group],
                   s=[40 + 460 * r["size_bytes"] / largest for r in group], alpha=0.6,
                   label=(f"{device}, " if several else "") + ("GPU" if delegate == "GPU" else (
                       "CPU, " if delegate == "CPU" else "") + f"{threads} thread{'s' * (threads > 1)}"))
    for model in dict.fromkeys((r["device"], r["path"]) for r in known):  # each model once per device
        points = [r for r in known if (r["device"], r["path"]) == model]
        ax.plot([r["p50_ms"] for r in points], [100 * r["top1"] for r in points], "k-", lw=0.5,
                alpha=0.4)
        ax.annotate(points[0]["model"], (points[0]["p50_ms"], 100 * points[0]["top1"]),
                    fontsize=7, xytext=(0, 9), textcoords="offset points", ha="center")
    if several:  # a phone and a desktop differ by an order of magnitude
        ax.set_xscale("log")
    ax.set_xlabel("p50 latency (ms, LiteRT)")
    ax.set_ylabel("top-1 (%)")
    ax.set_title("accuracy vs latency (marker area = model size)")
    ax.grid(alpha=0.3)
    for handle in ax.legend(loc="lower right").legend_handles:
        handle.set_sizes([40])
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    return png.getvalue()
