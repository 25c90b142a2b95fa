"""lite-tf report RUN [RUN ...] [--runs N] [--no-latency] [--json] [--out FILE.md]

One table over training runs, to compare compression methods (python -m export.report is the same
command): per run its method (its stages, e.g. 'prune -> PQAT'; a float run's int8 model is
post-training quantized, 'PTQ'), top-1 of the float model and of the int8 TFLite model on the
run's evaluation split, params, MACs, zeros among the int8 weights, int8 size, gzip size and
1-thread host latency (p50). A run without an int8 export is exported first (as python -m export
--int8 would).
"""

from __future__ import annotations

import json
import os

from lite_tf import checks, cli, files

HELP = "one table over runs: method chain, float and int8 top-1, size, gzip size, latency"
ORDER = 5


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="finished training run directories")
    parser.add_argument("--runs", dest="latency_runs", type=cli.flag(int, checks.at_least(1)), default=50,
                        metavar="N", help="timed invocations per latency measurement (default: 50)")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--out", metavar="FILE.md", help="also write the table to this file")


def run(args, parser) -> int:
    from lite_tf.deploy import report  # TensorFlow: after --help and the log level

    report.check_runs(args.runs)
    if args.out:
        files.writable_dir(os.path.dirname(os.path.abspath(args.out)), "the output folder")
    rows = [report.row(run, 0 if args.no_latency else args.latency_runs, progress=cli.progress)
            for run in args.runs]
    table = report.markdown(rows)
    if args.out:
        files.write_atomic(args.out, table)
    print(json.dumps(rows, indent=2) if args.json else table, end="\n" if args.json else "")
    return 0
