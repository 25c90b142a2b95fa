"""python -m export [--int8 | --float16 | --dynamic | --float32] [--workdir DIR | --model PATH
--dataset NAME [--preprocessing P]] [--io TYPE] [--calibration-samples N] [--eval-samples N]
[--device-samples N] [--out DIR]

Exports a finished training run (default runs/latest), or a .keras/.h5/SavedModel given with the
dataset it was trained on, to TFLite; verifies it with LiteRT against the float model on the
evaluation split and writes <name>_<mode>.tflite, labels.txt, the report <name>_<mode>.report.json
(copied to export_report.json) and <name>_<mode>.samples (evaluation images with the host's
predictions, for the phone app's accuracy check) to <workdir>/export or --out. Bad input is one
line on stderr and exit code 2.
"""

from __future__ import annotations

import sys

from lite_tf import cli, files, samples
from lite_tf.errors import InputError
from lite_tf.preprocessing import PRESETS

PROG = "python -m export"


def main(argv=None) -> int:
    parser = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[1])
    modes = parser.add_mutually_exclusive_group()
    for mode, text in (("int8", "full-integer int8, calibrated on the run's training images "
                                "(default)"),
                       ("float16", "float16 weights, float compute"),
                       ("dynamic", "int8 weights, dynamic-range quantized compute"),
                       ("float32", "no quantization")):
        modes.add_argument(f"--{mode}", dest="mode", action="store_const", const=mode, help=text)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--workdir", help="a finished training run (default: runs/latest)")
    source.add_argument("--model", metavar="PATH",
                        help="a .keras or .h5 file or a SavedModel folder instead of a run "
                             "(needs --dataset; images are preprocessed as lite_tf trains: "
                             "resized, scaled as --preprocessing)")
    parser.add_argument("--dataset", help="with --model: its dataset (TFDS name, folder:PATH or "
                                          "sklearn_digits), for calibration and verification")
    parser.add_argument("--data-dir", help="with --model: the TFDS data_dir")
    parser.add_argument("--preprocessing", choices=sorted(PRESETS),
                        help="with --model: how its input was scaled: tf [-1, 1] (default), torch "
                             "(ImageNet mean/std), bgr (BGR, 0-255)")
    parser.add_argument("--train-split", default="train",
                        help="with --model: the calibration split (default: train)")
    parser.add_argument("--eval-split", default="test",
                        help="with --model: the verification split (default: test)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: <workdir>/export, "
                                                     "or export/ beside --model)")
    parser.add_argument("--io", default="int8", choices=("int8", "uint8", "float32"),
                        help="input/output type of an int8 model (default: int8)")
    parser.add_argument("--calibration-samples", type=int, default=200, metavar="N",
                        help="training images for int8 calibration (default: 200)")
    parser.add_argument("--eval-samples", type=int, metavar="N",
                        help="evaluate on the first N evaluation images (default: all)")
    parser.add_argument("--device-samples", type=int, default=32, metavar="N",
                        help="evaluation images written to <name>_<mode>.samples with the host's "
                             "predictions, for python -m export.phone's accuracy check "
                             "(default: 32; 0: none)")
    args = parser.parse_args(argv)
    mode = args.mode or "int8"
    if args.io != "int8" and mode != "int8":
        parser.error(f"--io {args.io} applies to --int8 only, not --{mode}")
    if args.calibration_samples < 1:
        parser.error("--calibration-samples must be at least 1")
    if args.device_samples < 0:
        parser.error("--device-samples must be at least 0")
    if args.model and not args.dataset:
        parser.error("--model needs --dataset: int8 calibration and the verification read its images")
    model_only = [flag for flag, value, default in (
        ("--dataset", args.dataset, None), ("--data-dir", args.data_dir, None),
        ("--preprocessing", args.preprocessing, None),
        ("--train-split", args.train_split, "train"), ("--eval-split", args.eval_split, "test"))
        if value != default]
    if model_only and not args.model:
        parser.error(f"{model_only[0]} applies to --model only: a run exports with its own data")

    from lite_tf import exporter, runs

    try:
        run = (runs.model_file_run(args.model, args.dataset, args.data_dir, args.train_split,
                                   args.eval_split, args.preprocessing)
               if args.model else runs.find_run(args.workdir))
        report = exporter.export(run, mode, args.io, args.calibration_samples, args.eval_samples,
                                 args.out, device_samples=args.device_samples)
    except (InputError, exporter.ExportError) as e:
        cli.print_error(PROG, e)
        return 2 if isinstance(e, InputError) else 1
    out = args.out or f"{run.workdir}/export"
    rows = [("model", f"{out}/{report['file']}"), ("mode", f"{report['mode']} (I/O {report['io_type']})"),
            ("size", f"{report['size_bytes'] / 1024:.1f} KiB"),
            ("float top-1", f"{report['float_top1']:.4f}"),
            ("tflite top-1", f"{report['tflite_top1']:.4f}"),
            ("agreement", f"{report['agreement']:.4f} on {report['eval_examples']} images"),
            ("ops", ", ".join(sorted({o['op'] for o in report['ops']}))),
            ("report", files.report_path(f"{out}/{report['file']}"))]
    if report["device_samples"]:
        model_path = f"{out}/{report['file']}"
        rows.append(("samples", f"{samples.path_for(model_path)} ({report['device_samples']} "
                                f"images, for python -m export.phone)"))
    print(cli.summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
