"""python -m export [--int8 | --float16 | --dynamic | --float32] [--workdir DIR] [--io TYPE]
[--calibration-samples N] [--eval-samples N]

Exports a finished training run (default runs/latest) to TFLite, verifies it with LiteRT against
the float model on the run's evaluation split, and writes ``<workdir>/export/<model>_<mode>.tflite``,
``labels.txt`` and ``export_report.json``. Bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from lite_tf import cli  # importing lite_tf selects tf_keras first
from lite_tf.errors import InputError

PROG = "python -m export"


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2 (argparse prints the usage too)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        sys.exit(2)


def main(argv=None) -> int:
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[1])
    modes = parser.add_mutually_exclusive_group()
    for mode, text in (("int8", "full-integer int8, calibrated on the run's training images "
                                "(default)"),
                       ("float16", "float16 weights, float compute"),
                       ("dynamic", "int8 weights, dynamic-range quantized compute"),
                       ("float32", "no quantization")):
        modes.add_argument(f"--{mode}", dest="mode", action="store_const", const=mode, help=text)
    parser.add_argument("--workdir", help="a finished training run (default: runs/latest)")
    parser.add_argument("--io", default="int8", choices=("int8", "uint8", "float32"),
                        help="input/output type of an int8 model (default: int8)")
    parser.add_argument("--calibration-samples", type=int, default=200, metavar="N",
                        help="training images for int8 calibration (default: 200)")
    parser.add_argument("--eval-samples", type=int, metavar="N",
                        help="evaluate on the first N evaluation images (default: all)")
    args = parser.parse_args(argv)
    mode = args.mode or "int8"
    if args.io != "int8" and mode != "int8":
        parser.error(f"--io {args.io} applies to --int8 only, not --{mode}")
    if args.calibration_samples < 1:
        parser.error("--calibration-samples must be at least 1")

    from lite_tf import exporter, runs

    try:
        run = runs.find_run(args.workdir)
        report = exporter.export(run, mode, args.io, args.calibration_samples, args.eval_samples)
    except (InputError, exporter.ExportError) as e:
        cli.print_error(PROG, e)
        return 2 if isinstance(e, InputError) else 1
    out = f"{run.workdir}/export"
    rows = [("model", f"{out}/{report['file']}"), ("mode", f"{report['mode']} (I/O {report['io_type']})"),
            ("size", f"{report['size_bytes'] / 1024:.1f} KiB"),
            ("float top-1", f"{report['float_top1']:.4f}"),
            ("tflite top-1", f"{report['tflite_top1']:.4f}"),
            ("agreement", f"{report['agreement']:.4f} on {report['eval_examples']} images"),
            ("ops", ", ".join(sorted({o['op'] for o in report['ops']}))),
            ("report", f"{out}/export_report.json")]
    print(cli.summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
