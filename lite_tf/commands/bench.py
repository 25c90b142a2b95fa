"""lite-tf bench MODEL.tflite|RESULTS.json [MORE ...] [--threads 1,2,4] [--runs N] [--warmup N] [--json] [--out DIR]

Host latency of .tflite models in the ai_edge_litert interpreter with XNNPACK (its default CPU
delegate), to compare with a phone's (python -m export.benchmark is the same command). Every model
and thread count runs in a fresh process, so init is a cold start; the memory column is what
loading and running the model added (measured as the phone app measures it). A .json argument is a saved result document (--json output, or the Android app's from
python -m export.phone): its rows join the table unmeasured. With several arguments it also writes
benchmark.md (the table) and benchmark.png (top-1 vs latency, marker area = size; top-1 comes from
the <model>.report.json that python -m export writes beside each model).
"""

from __future__ import annotations

import json
import os

from lite_tf import cli, files, rundir
from lite_tf.deploy.benchmark import host, render, results

HELP = "measure .tflite latency on this machine (LiteRT + XNNPACK), with tables and a plot"
ORDER = 3
USES_TENSORFLOW = False


def add_arguments(parser) -> None:
    parser.add_argument("models", nargs="+", metavar="MODEL.tflite|RESULTS.json",
                        help=".tflite files to measure, or lite_tf.benchmark/2 documents to add")
    cli.add_timing(parser, [1])
    parser.add_argument("--json", action="store_true",
                        help="print the results as one JSON object (schema: docs/benchmarking.md)")
    parser.add_argument("--out", default=".", metavar="DIR",
                        help="folder for benchmark.md and benchmark.png when there are several "
                             "models (default: .)")


def run(args, parser) -> int:
    for path in args.models:
        if not os.path.isfile(path):
            parser.error(f"no such {'results' if path.endswith('.json') else 'model'} file: {path}")
    saved = [path for path in args.models if path.endswith(".json")]
    if saved and args.json:
        parser.error("--json prints this host's measurements: it takes .tflite files only")
    several = len(args.models) > 1
    models = [path for path in args.models if path not in saved]
    documents = [results.load(path) for path in saved]
    if several:
        files.writable_dir(args.out, "the output folder")
    if models:
        documents.append(host.measure_all(models, args.threads, args.runs, args.warmup,
                                          progress=None if args.json else cli.progress))
    table = render.markdown(documents)
    png = None
    if several:
        files.write_atomic(os.path.join(args.out, "benchmark.md"), table)
        png = render.plot(documents)
        if png:
            files.write_atomic(os.path.join(args.out, "benchmark.png"), png)
    if args.json:
        print(json.dumps(documents[0], indent=2))
        return 0
    print(table, end="")
    if several:
        print(f"\nwrote {os.path.join(args.out, 'benchmark.md')}" + (
            f" and {os.path.join(args.out, 'benchmark.png')}" if png else
            f" (no plot: no model has a top-1: a {rundir.report_for('<model>.tflite')} from "
            f"python -m export beside it)"))
    return 0
