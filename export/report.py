"""python -m export.report RUN [RUN ...] [--runs N] [--no-latency] [--json] [--out FILE.md]

One table over training runs, to compare compression methods: per run its method (its stages, e.g.
'prune -> PQAT'; a float run's int8 model is post-training quantized, 'PTQ'), top-1 of the float
model and of the int8 TFLite model on the run's evaluation split, params, MACs, zeros among the int8
weights, int8 size, gzip size and 1-thread host latency (p50). A run without an int8 export is
exported first (as python -m export --int8 would).
"""

from __future__ import annotations

import json
import os
import sys

from lite_tf import cli, files
from lite_tf.errors import InputError

PROG = "python -m export.report"


def main(argv=None) -> int:
    parser = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[1])
    parser.add_argument("runs", nargs="+", metavar="RUN", help="finished training run directories")
    parser.add_argument("--runs", dest="latency_runs", type=int, default=50, metavar="N",
                        help="timed invocations per latency measurement (default: 50)")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--out", metavar="FILE.md", help="also write the table to this file")
    args = parser.parse_args(argv)
    if args.latency_runs < 1:
        parser.error(f"--runs must be at least 1, got {args.latency_runs}")
    try:
        from lite_tf import report

        report.check_runs(args.runs)
        if args.out:
            files.writable_dir(os.path.dirname(os.path.abspath(args.out)), "the output folder")
        rows = [report.row(run, 0 if args.no_latency else args.latency_runs,
                           progress=lambda m: print(m, file=sys.stderr)) for run in args.runs]
    except InputError as e:
        cli.print_error(PROG, e)
        return 2
    table = report.markdown(rows)
    if args.out:
        files.write_atomic(args.out, table)
    print(json.dumps(rows, indent=2) if args.json else table, end="\n" if args.json else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
