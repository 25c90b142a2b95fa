"""lite-tf profile MODEL [--input-size N] [--width W] [--latency [--by block|kernel] [--threads N]
    [--table PATH]] [--json]

Per-layer parameters, MACs (conv, depthwise, grouped conv and dense layers) and float32
activation bytes of a zoo model, with its published figures when they are comparable (default
input size and width). With --latency: where its int8 time goes on this machine, unit by unit
(stem, each block, head: milliseconds, share, GMAC/s, the TFLite ops each became and those
XNNPACK left to TFLite's own kernels), timed as the search's latency table times them, beside
the whole model's time; with --by kernel, by the kind of kernel instead (conv 1x1, depthwise 3x3,
grouped conv, ...: milliseconds, share and GMAC/s of each, and the time between them). The
weights are random, PReLU slopes spread per channel as trained ones are (a fresh PReLU's are 0,
which the export makes a ReLU fused into its convolution).
"""

from __future__ import annotations

import json

from lite_tf import checks, cli

HELP = "per-layer parameters, MACs and memory against the paper, or int8 time per block"
ORDER = 6


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a registered model name, e.g. mobilenext_100 "
                                      "(python -c 'import lite_tf.models as m; print(m.list_models())')")
    parser.add_argument("--input-size", type=cli.flag(int, checks.at_least(1)), help="square input size (default: the model's, 224 or 112)")
    parser.add_argument("--width", type=cli.flag(float, checks.above(0)), help="width multiplier replacing the one in the name")
    parser.add_argument("--latency", action="store_true",
                        help="int8 latency per block on this machine instead of MACs per layer "
                             "(a minute or two: each block is converted and timed on its own)")
    parser.add_argument("--by", choices=("block", "kernel"), default="block",
                        help="with --latency: time each block (default), or each convolution and "
                             "dense layer, summed by kernel kind (which kernel sets the floor)")
    parser.add_argument("--threads", type=cli.flag(int, checks.at_least(1)), default=1,
                        help="with --latency: interpreter threads (default: 1)")
    parser.add_argument("--table", metavar="PATH",
                        help="with --latency: a latency table file to reuse and extend (a search's "
                             "latency_table.json; default: measure every block afresh)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def run(args, parser) -> int:
    if (args.table or args.threads != 1 or args.by != "block") and not args.latency:
        parser.error("--by, --threads and --table apply to --latency only")
    from lite_tf.deploy import breakdown, passes  # TensorFlow: after --help and the log level
    from lite_tf.models import create_model, get_entry, profile  # (as above)

    if args.latency:
        size = args.input_size or get_entry(args.model).default_input_shape[0]
        model = passes.spread_prelu_slopes(create_model(
            args.model, input_shape=(size, size, 3), **({} if args.width is None else {"width": args.width})))
        measure, table = {"block": (breakdown.breakdown, breakdown.format_table),
                          "kernel": (breakdown.kernels, breakdown.format_kernels)}[args.by]
        result = measure(model, args.threads, args.table, progress=None if args.json else cli.progress)
        print(json.dumps(result) if args.json else table(result))
        return 0
    result = profile.profile(args.model, args.input_size, args.width)
    print(json.dumps(result) if args.json else profile.format_table(result))
    return 0
