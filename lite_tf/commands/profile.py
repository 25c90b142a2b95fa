"""lite-tf profile MODEL [--input-size N] [--width W] [--json]

Per-layer parameters, MACs (conv, depthwise, grouped conv and dense layers) and float32
activation bytes of a zoo model, with its published figures when they are comparable (default
input size and width).
"""

from __future__ import annotations

import json

from lite_tf import checks, cli

HELP = "per-layer parameters, MACs and activation memory of a zoo model, against its paper"
ORDER = 6


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a registered model name, e.g. mobilenext_100 "
                                      "(python -c 'import lite_tf.models as m; print(m.list_models())')")
    parser.add_argument("--input-size", type=cli.flag(int, checks.at_least(1)), help="square input size (default: the model's, 224 or 112)")
    parser.add_argument("--width", type=cli.flag(float, checks.above(0)), help="width multiplier replacing the one in the name")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def run(args, parser) -> int:
    from lite_tf.models import profile  # TensorFlow: after --help and the log level

    result = profile.profile(args.model, args.input_size, args.width)
    print(json.dumps(result) if args.json else profile.format_table(result))
    return 0
