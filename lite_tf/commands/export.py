"""lite-tf export [--int8 | --int16x8 | --float16 | --dynamic | --float32] [--workdir DIR | --model PATH --dataset NAME [--preprocessing P]] [--io TYPE] [--per-tensor] [--keep-float auto|N [--keep-float-within POINTS]] [--calibration-samples N] [--eval-samples N] [--device-samples N] [--no-pass NAME] [--pass NAME] [--out DIR]

Exports a finished training run (default runs/latest), or a .keras/.h5/SavedModel given with the
dataset it was trained on, to TFLite (python -m export is the same command); verifies it with
LiteRT against the float model on the evaluation split and writes <name>_<mode>.tflite,
labels.txt, the report <name>_<mode>.report.json (copied to export_report.json) and
<name>_<mode>.samples (evaluation images with the host's predictions, for the phone app's
accuracy check) to <workdir>/export or --out. Bad input is one line on stderr and exit code 2; an
int8 export that kept float kernels fails with exit code 1.
"""

from __future__ import annotations

import argparse
import os

from lite_tf import checks, cli, rundir
from lite_tf.data.preprocessing import PRESETS

HELP = "convert a finished run (or a model file) to a verified TFLite model, int8 by default"
ORDER = 1
MODEL_ONLY = (("--dataset", "dataset", None), ("--data-dir", "data_dir", None),
              ("--preprocessing", "preprocessing", None), ("--train-split", "train_split", "train"),
              ("--eval-split", "eval_split", "test"))


def add_arguments(parser) -> None:
    modes = parser.add_mutually_exclusive_group()
    for mode, text in (("int8", "full-integer int8, calibrated on the run's training images "
                                "(default)"),
                       ("int16x8", "int16 activations, int8 weights, float I/O: closer to float "
                                   "than int8, but reference kernels (no XNNPACK): slower"),
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
    parser.add_argument("--per-tensor", action="store_true",
                        help="int8 only: one scale per weight tensor instead of one per output "
                             "channel, for accelerators without per-channel int8 (NNAPI drivers "
                             "before 1.2, Android 10); costs accuracy where a kernel's channels "
                             "differ in range (depthwise convolutions with BatchNorm folded in); "
                             "writes <name>_int8_per_tensor.tflite")
    parser.add_argument("--calibration-samples", type=cli.flag(int, checks.at_least(1)), default=200, metavar="N",
                        help="training images for int8 and int16x8 calibration (default: 200)")
    parser.add_argument("--eval-samples", type=cli.flag(int, checks.at_least(1)), metavar="N",
                        help="evaluate on the first N evaluation images (default: all)")
    parser.add_argument("--device-samples", type=cli.flag(int, checks.at_least(0)), default=32, metavar="N",
                        help=f"evaluation images written to "
                             f"{rundir.samples_for('<name>_<mode>.tflite')} with the host's "
                             f"predictions, for python -m export.phone's accuracy check "
                             f"(default: 32; 0: none)")
    parser.add_argument("--keep-float", type=cli.flag(_layers, KEEP), metavar="auto|N",
                        help="int8 only: keep in float the layers int8 hurts most (TFLite's "
                             "quantization debugger, RMSE over scale): 'auto' the fewest for top-1 "
                             "on 1,000 training images within --keep-float-within of the float "
                             "model's, N the N worst; writes <name>_int8_mixed.tflite and times it "
                             "against the all-int8 model on this host")
    parser.add_argument("--keep-float-within", type=cli.flag(float, checks.at_least(0)), default=0.3,
                        metavar="POINTS", help="with --keep-float auto: top-1 points int8 may lose "
                                               "(default: 0.3)")
    parser.add_argument("--no-pass", action="append", default=[], metavar="NAME",
                        help="leave out one of the export's rewrite passes, which re-express layers "
                             "as ops XNNPACK runs fast with the same outputs (repeatable; "
                             "docs/export.md lists them, e.g. prelu_as_depthwise)")
    parser.add_argument("--pass", dest="add_pass", action="append", default=[], metavar="NAME",
                        help="add a rewrite pass that is off by default because it adds MACs for "
                             "kernels faster on some CPUs and slower on others (repeatable: "
                             "route_channels_dense, small_groups_merged; time both on your device)")


def _layers(text: str):
    """'auto', a whole number, or the text itself for ``KEEP`` to reject."""
    try:
        return text if text == "auto" else int(text)
    except ValueError:
        return text


KEEP = checks.Check("'auto' or a number of layers >= 1",
                    lambda v: v == "auto" or (isinstance(v, int) and v >= 1))


def _kept_float_rows(kept: dict) -> list[tuple[str, str]]:
    cost = kept["cost"]
    return [("kept in float", f"{len(kept['layers'])} layer(s): {', '.join(kept['layers']) or 'none needed'}"),
            ("their cost", f"latency {cost['latency_ratio']:.2f}x the all-int8 model's ({cost['int8_p50_ms']:.3f} "
                           f"-> {cost['p50_ms']:.3f} ms p50, this host, 1 thread), size {cost['size_ratio']:.2f}x")]


def run(args, parser) -> int:
    mode = args.mode or "int8"
    if args.io != "int8" and mode != "int8":
        parser.error(f"--io {args.io} applies to --int8 only, not --{mode}")
    for flag, given in (("--keep-float", args.keep_float is not None), ("--per-tensor", args.per_tensor)):
        if given and mode != "int8":
            parser.error(f"{flag} applies to --int8 only, not --{mode}")
    if args.model and not args.dataset:
        parser.error("--model needs --dataset: int8 calibration and the verification read its images")
    given = [flag for flag, name, default in MODEL_ONLY if getattr(args, name) != default]
    if given and not args.model:
        parser.error(f"{given[0]} applies to --model only: a run exports with its own data")

    from lite_tf.deploy import export, passes  # TensorFlow: after --help and the log level

    passes.check([*args.no_pass, *args.add_pass])
    if both := set(args.no_pass) & set(args.add_pass):
        parser.error(f"--pass and --no-pass both name {sorted(both)[0]}")
    run = (rundir.model_file_run(args.model, args.dataset, args.data_dir, args.train_split,
                                 args.eval_split, args.preprocessing)
           if args.model else rundir.find_run(args.workdir))
    try:
        report = export.export(run, mode, args.io, args.calibration_samples, args.eval_samples,
                               args.out, device_samples=args.device_samples,
                               skip_passes=args.no_pass, keep_float=args.keep_float,
                               keep_float_within=args.keep_float_within / 100,
                               per_tensor=args.per_tensor, add_passes=args.add_pass)
    except export.ExportError as e:
        cli.print_error(parser.prog, e)
        return 1
    out = rundir.ExportFiles(args.out or run.dir.export_dir, os.path.splitext(report["file"])[0])
    scales = ", per-tensor weight scales" if report["per_tensor"] else ""
    rows = [("model", out.model), ("mode", f"{report['mode']} (I/O {report['io_type']}{scales})"),
            ("size", f"{report['size_bytes'] / 1024:.1f} KiB"),
            ("float top-1", f"{report['float_top1']:.4f}"),
            ("tflite top-1", f"{report['tflite_top1']:.4f}"),
            ("agreement", f"{report['agreement']:.4f} on {report['eval_examples']} images"),
            ("ops", ", ".join(sorted({o['op'] for o in report['ops']}))),
            *(_kept_float_rows(report["kept_float"]) if "kept_float" in report else []),
            ("passes", ", ".join(report["passes"]) or "none applied"),
            *([("shared codes", f"{len(report['shared_codes'])} clustered kernels coded alike in "
                                f"every channel")] if report["shared_codes"] else []),
            ("report", out.report)]
    if report["device_samples"]:
        rows.append(("samples", f"{out.samples} ({report['device_samples']} images, for "
                                f"python -m export.phone)"))
    print(cli.summary(rows))
    return 0
