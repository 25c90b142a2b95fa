"""How well the latency table predicts whole models: random candidates of the search space,
predicted (the sum of their units, lite_tf/search/latency.py) against measured end to end.

    python benchmarks/latency_predictor.py [--candidates 50] [--resolutions 32 224] [--threads 1]

Each candidate (seeds 1000, 1001, ... of the default space at one resolution, 10 classes) is
converted as ``python -m export --int8`` converts (full-integer, int8 I/O, calibrated on random
images) and timed by the benchmark's measuring code (p50 of at least 1 s of invocations), in three
fresh processes: the fastest (as the table's units). Its units go into the table (``--table``, grown and reused; measured as
the table measures, see latency.py). Prints, per resolution, the share of candidates predicted
within +/-10%, Spearman's rank correlation and the mean absolute percentage error, and writes
every candidate's figures to ``--results`` as they are measured (a killed run resumes) and a plot
of predicted against measured to ``--plot``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys

import numpy as np

from lite_tf import files
from lite_tf.deploy.benchmark.results import device
from lite_tf.search.latency import LatencyTable, host_measurer, measure_whole
from lite_tf.search.space import Space, build

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def spearman(a, b) -> float:
    ranks = [np.argsort(np.argsort(x)) for x in (a, b)]
    return float(np.corrcoef(*ranks)[0, 1])


def summary(rows: list[dict]) -> dict:
    predicted = np.array([r["predicted_ms"] for r in rows])
    measured = np.array([r["measured_ms"] for r in rows])
    error = predicted / measured - 1
    return {"candidates": len(rows), "within_10pct": float(np.mean(np.abs(error) <= 0.10)),
            "spearman": spearman(predicted, measured), "mape": float(np.mean(np.abs(error))),
            "median_error": float(np.median(error))}


def measure_models(models: list, threads: int) -> list[float]:
    """Each model end to end on this host: p50 of at least 1 s (the benchmark's default), the
    fastest of the table's three fresh processes."""
    return measure_whole(models, host_measurer(threads, seconds={}))[1]


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    for resolution in sorted({r["resolution"] for r in rows}):
        mine = [r for r in rows if r["resolution"] == resolution]
        ax.scatter([r["measured_ms"] for r in mine], [r["predicted_ms"] for r in mine], s=14,
                   label=f"{resolution}x{resolution}")
    low = min(min(r["measured_ms"], r["predicted_ms"]) for r in rows) * 0.8
    high = max(max(r["measured_ms"], r["predicted_ms"]) for r in rows) * 1.2
    line = np.array([low, high])
    ax.plot(line, line, "k-", lw=0.8)
    ax.fill_between(line, line * 0.9, line * 1.1, color="grey", alpha=0.2, label="+/-10%")
    ax.set(xscale="log", yscale="log", xlabel="measured int8 latency (ms, host, 1 thread)",
           ylabel="predicted: sum of units (ms)", title="Latency table vs whole models")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=50, help="per resolution")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 224])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10, help="candidates measured per step")
    parser.add_argument("--table", default=os.path.join(RESULTS, "latency_table_host.json"))
    parser.add_argument("--results", default=os.path.join(RESULTS, "latency_predictor.json"))
    parser.add_argument("--plot", default=os.path.join(ROOT, "docs", "latency_predictor.png"))
    args = parser.parse_args(argv)
    table = LatencyTable.open(args.table, args.threads)
    done = {}
    if os.path.exists(args.results):
        with open(args.results) as f:
            done = {r["key"]: r for r in json.load(f)["rows"]}
    for resolution in args.resolutions:
        space = Space(resolutions=(resolution,))
        archs = [space.sample(random.Random(1000 + i)) for i in range(args.candidates)]
        todo = [(i, a) for i, a in enumerate(archs) if a.key() not in done]
        for start in range(0, len(todo), args.batch):
            batch = todo[start:start + args.batch]
            models = [build(a, num_classes=10) for _, a in batch]
            table.measure(models, progress=lambda m: print(f"{resolution}x{resolution}: {m}", flush=True))
            for (i, arch), model, measured in zip(batch, models, measure_models(models, args.threads)):
                done[arch.key()] = {"key": arch.key(), "seed": 1000 + i, "resolution": resolution,
                                    "predicted_ms": table.predict(model), "measured_ms": measured,
                                    "units": len(table.breakdown(model)),
                                    "measured": datetime.date.today().isoformat()}
                print(f"{resolution}x{resolution} candidate {i + 1}/{len(archs)}: predicted "
                      f"{done[arch.key()]['predicted_ms']:.3f} ms, measured {measured:.3f} ms", flush=True)
            rows = list(done.values())
            files.write_atomic(args.results, json.dumps(
                {"device": device(), "threads": args.threads, "rows": rows,
                 "summary": {str(r): summary([x for x in rows if x["resolution"] == r])
                             for r in sorted({x["resolution"] for x in rows})}}, indent=1) + "\n")
    rows = [r for r in done.values() if r["resolution"] in args.resolutions]
    print(f"{'input':>7} {'n':>3} {'within 10%':>10} {'Spearman':>8} {'MAPE':>6} {'median error':>12}")
    for resolution in args.resolutions:
        s = summary([r for r in rows if r["resolution"] == resolution])
        print(f"{resolution:>4}x{resolution:<2} {s['candidates']:>3} {s['within_10pct']:>10.0%} "
              f"{s['spearman']:>8.3f} {s['mape']:>6.1%} {s['median_error']:>+12.1%}")
    plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
