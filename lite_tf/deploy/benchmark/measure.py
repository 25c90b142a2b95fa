"""The measuring loop of a host benchmark, run in a fresh process per model and thread count
(``host.benchmark``): it loads nothing but numpy and LiteRT, so init is a cold start. Its memory
figure is the phone app's (``android_demo/core``'s ``Memory``): what loading and running the model
added to resident memory, the peak having been reset just before loading."""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter

# As TFLite's benchmark_model: warm up for at least 0.5 s and time at least 1 s of invocations.
# On a 2-core VM the first tens of 2-thread invocations run at 1-thread speed; 5 warm-up calls
# are not enough to see the steady state.
WARMUP_SECONDS = 0.5
MIN_SECONDS = 1.0
# $LITE_TF_TIMING_SCALE: a factor on every warm-up and timing duration (0.1: a tenth, for smoke
# runs and the tests, which check what a figure is, not its last percent).
SCALE_VARIABLE = "LITE_TF_TIMING_SCALE"


def timing_scale() -> float:
    """The factor ``$LITE_TF_TIMING_SCALE`` sets (a number in (0, 1]; 1 when unset)."""
    text = os.environ.get(SCALE_VARIABLE, "1")
    try:
        scale = float(text)
    except ValueError:
        scale = -1.0
    if not 0 < scale <= 1:
        raise ValueError(f"{SCALE_VARIABLE} must be a number in (0, 1], got {text!r}")
    return scale


def _status(field: str) -> int | None:
    """A memory figure of this process from /proc/self/status (``VmRSS``, ``VmHWM``), in bytes."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def reset_peak() -> int | None:
    """Reset this process's peak resident memory (Linux 4.0+: 5 to /proc/self/clear_refs) and return
    its resident memory now; None where the peak cannot be reset."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    return _status("VmRSS")


def measure(path: str, threads: int = 1, runs: int = 50, warmup: int = 5,
            warmup_seconds: float = WARMUP_SECONDS, min_seconds: float = MIN_SECONDS) -> dict:
    """Benchmark one model at one thread count, in this process (``host.benchmark`` isolates it).

    Timed: ``init`` = Interpreter(...) + allocate_tensors(); ``first inference`` = the first
    invoke(); then at least ``warmup`` untimed invoke() calls lasting at least ``warmup_seconds``,
    and at least ``runs`` timed ones lasting at least ``min_seconds``, on a fixed random input;
    both durations times ``timing_scale()``.
    """
    scale = timing_scale()
    warmup_seconds, min_seconds = warmup_seconds * scale, min_seconds * scale
    base = reset_peak()
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

    invocations(warmup, warmup_seconds)
    times = np.array(invocations(runs, min_seconds))
    ms = times * 1e3
    peak = _status("VmHWM") if base is not None else None
    return {
        "model": os.path.splitext(os.path.basename(path))[0], "path": os.path.abspath(path),
        "size_bytes": os.path.getsize(path), "threads": threads, "runs": len(times), "warmup": warmup,
        "init_ms": init * 1e3, "first_inference_ms": first * 1e3,
        "mean_ms": float(ms.mean()), "std_ms": float(ms.std()),
        "p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "model_memory_bytes": None if peak is None else max(0, peak - base),
        "top1": None, "delegate": "XNNPACK", "samples": 0, "agreement": None,
    }


def _measured(args: dict) -> dict:
    try:
        return measure(**args)
    except Exception as e:  # reported to the parent as one line
        return {"error": str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}


def _child() -> None:
    """Entry point of the measuring process: arguments as JSON on argv (one model's, or a list of
    models' measured one after the other), result(s) as JSON on stdout."""
    args = json.loads(sys.argv[1])
    print(json.dumps([_measured(a) for a in args] if isinstance(args, list) else _measured(args)))


if __name__ == "__main__":
    _child()
