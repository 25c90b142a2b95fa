"""lite-tf phone [--serial S] [--install APK] [--threads 1,2,4] [--delegates xnnpack,gpu] [--runs N] [--warmup N] [--timeout SECONDS] [--host] [--adb PATH] [--out DIR] MODEL.tflite ...

Benchmarks .tflite models on an Android phone over adb with the lite_tf benchmark app
(android_demo/; python -m export.phone is the same command): installs the app if asked, pushes
the models and the .samples python -m export wrote beside them, runs the app headless, waits for
its results and pulls them. Writes phone.json (schema lite_tf.benchmark/2), benchmark.md and
benchmark.png to --out, in the same table as host results (--host measures these models on this
machine too). Each phone row has the on-device accuracy check: how often the phone's top-1 on the
samples equals the host's. Bad input, no device, an unauthorized one or no results in time: one
line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import os

from lite_tf import checks, cli, files
from lite_tf.deploy import phone
from lite_tf.deploy.benchmark import host, render

HELP = "benchmark .tflite models on an Android phone over adb with the lite_tf app"
ORDER = 4
USES_TENSORFLOW = False


def add_arguments(parser) -> None:
    parser.add_argument("models", nargs="+", metavar="MODEL.tflite", help=".tflite files")
    parser.add_argument("--serial", metavar="S", help="the device to use (adb devices lists them); "
                                                      "needed when several are connected")
    parser.add_argument("--install", metavar="APK", help="install (or update) the app from this APK "
                                                         "first, e.g. app-debug.apk")
    cli.add_timing(parser, [1, 2, 4], "CPU ")
    parser.add_argument("--delegates", type=cli.flag(str.lower, checks.one_of(*phone.DELEGATES),
                                                     many=True),
                        default=["xnnpack", "gpu"], metavar="xnnpack,gpu", help="xnnpack (LiteRT's default CPU path), cpu (its "
                        "built-in kernels), gpu (once per model) (default: xnnpack,gpu)")
    parser.add_argument("--timeout", type=cli.flag(float, checks.above(0)), default=600,
                        metavar="SECONDS",
                        help="how long to wait for the phone's results (default: 600)")
    parser.add_argument("--host", action="store_true",
                        help="also benchmark the models on this machine, in the same table")
    parser.add_argument("--adb", default=os.environ.get("ADB", "adb"), metavar="PATH",
                        help="the adb executable (default: $ADB, else adb on the PATH)")
    parser.add_argument("--out", default=".", metavar="DIR",
                        help="folder for phone.json, benchmark.md and benchmark.png (default: .)")


def run(args, parser) -> int:
    for path in args.models:
        if not os.path.isfile(path):
            parser.error(f"no such model file: {path}")
    if args.install and not os.path.isfile(args.install):
        parser.error(f"no such APK: {args.install}")
    phone.device_names(args.models)  # the names the phone will see, checked before it is touched
    files.writable_dir(args.out, "the output folder")
    adb = phone.Adb(args.adb)
    adb.serial = phone.choose_device(adb, args.serial)
    if args.install:
        cli.progress(f"installing {args.install} on {adb.serial}")
        phone.install(adb, args.install)
    phone.check_app(adb)
    documents = [phone.run(args.models, adb, args.threads, args.delegates, args.runs,
                           args.warmup, args.timeout, progress=cli.progress)]
    if args.host:
        documents.append(host.measure_all(args.models, args.threads, args.runs, args.warmup,
                                          cli.progress, label="host: "))
    table = render.markdown(documents)
    files.write_atomic(os.path.join(args.out, "phone.json"), json.dumps(documents[0], indent=2) + "\n")
    files.write_atomic(os.path.join(args.out, "benchmark.md"), table)
    png = render.plot(documents)
    if png:
        files.write_atomic(os.path.join(args.out, "benchmark.png"), png)
    print(table, end="")
    print(f"\nwrote {os.path.join(args.out, 'phone.json')}, {os.path.join(args.out, 'benchmark.md')}"
          + (f" and {os.path.join(args.out, 'benchmark.png')}" if png else ""))
    return 0

