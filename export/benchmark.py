"""python -m export.benchmark MODEL.tflite [MORE.tflite ...] [--threads 1,2,4] [--runs N] [--warmup N]
[--json] [--out DIR]

Host latency of .tflite models in the ai_edge_litert interpreter with XNNPACK (its default CPU
delegate), to compare with a phone's. Every model and thread count runs in a fresh process, so init
is a cold start and peak RSS belongs to that model alone. With several models it also writes
benchmark.md (the table) and benchmark.png (top-1 vs latency, marker area = size; top-1 comes from
the <model>.report.json that python -m export writes beside each model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from lite_tf import benchmark, cli, files
from lite_tf.errors import InputError

PROG = "python -m export.benchmark"


def _threads(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected thread counts like 1,2,4, got {text!r}") from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be at least 1, got {text!r}")
    return values


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value
    return parse


def main(argv=None) -> int:
    parser = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[1])
    parser.add_argument("models", nargs="+", metavar="MODEL.tflite", help=".tflite files")
    parser.add_argument("--threads", type=_threads, default=[1], metavar="1,2,4",
                        help="comma-separated thread counts (default: 1)")
    parser.add_argument("--runs", type=_count(1), default=50, metavar="N",
                        help="timed invocations per model and thread count, at least 1 s of them "
                             "(default: 50)")
    parser.add_argument("--warmup", type=_count(0), default=5, metavar="N",
                        help="untimed invocations before timing, at least 0.5 s of them (default: 5)")
    parser.add_argument("--json", action="store_true",
                        help="print the results as one JSON object (schema in the README)")
    parser.add_argument("--out", default=".", metavar="DIR",
                        help="folder for benchmark.md and benchmark.png when there are several "
                             "models (default: .)")
    args = parser.parse_args(argv)
    for path in args.models:
        if not os.path.isfile(path):
            parser.error(f"no such model file: {path}")
    several = len(args.models) > 1
    runs = [(path, threads) for path in args.models for threads in args.threads]
    try:
        if several:
            files.writable_dir(args.out, "the output folder")
        results = []
        for i, (path, threads) in enumerate(runs):
            if not args.json:
                print(f"[{i + 1}/{len(runs)}] {path}: {threads} thread{'s' * (threads > 1)}",
                      file=sys.stderr)
            results.append(benchmark.benchmark(path, threads, args.runs, args.warmup))
    except InputError as e:
        cli.print_error(PROG, e)
        return 2
    if several:
        files.write_atomic(os.path.join(args.out, "benchmark.md"), benchmark.markdown(results))
        png = benchmark.plot(results)
        if png:
            files.write_atomic(os.path.join(args.out, "benchmark.png"), png)
    if args.json:
        print(json.dumps(benchmark.report(results), indent=2))
        return 0
    print(benchmark.markdown(results), end="")
    if several:
        print(f"\nwrote {os.path.join(args.out, 'benchmark.md')}" + (
            f" and {os.path.join(args.out, 'benchmark.png')}" if png else
            " (no plot: no model has a .report.json from python -m export beside it)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
