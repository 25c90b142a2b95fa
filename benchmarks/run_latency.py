"""Host int8 latency of finished runs against a base run, rounds alternating.

    python benchmarks/run_latency.py BASE RUN [RUN ...] [--threads 1] [--runs 200] [--rounds 9]

Each run's int8 export (``python -m export --int8``, done first where missing: the file the
run's report names) is timed by the host benchmark (ai_edge_litert + XNNPACK, a fresh process per
measurement), the models taking turns round by round; a model's latency is the median of its
rounds' p50 (``host.median_p50``). One line per run with its ms and its ratio to BASE: how the
compression figures' "latency vs the base" are measured.
"""

from __future__ import annotations

import argparse

from lite_tf import rundir
from lite_tf.deploy import report
from lite_tf.deploy.benchmark import host
from lite_tf.errors import InputError


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", help="the run the others are compared with")
    parser.add_argument("runs", nargs="+", metavar="run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", dest="invocations", type=int, default=200,
                        help="timed invocations per round (default: 200)")
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds (default: 9)")
    args = parser.parse_args(argv)
    try:
        paths = {w: report.int8_file(rundir.find_run(w)) for w in [args.base, *args.runs]}
    except InputError as e:
        parser.error(str(e))
    ms = host.median_p50(paths, args.threads, args.invocations, args.rounds)
    for workdir, value in ms.items():
        print(f"{workdir}: {value:.4f} ms, {value / ms[args.base]:.3f}x {args.base} (int8, "
              f"{args.threads} thread(s), median of {args.rounds} rounds' p50)")


if __name__ == "__main__":
    main()
