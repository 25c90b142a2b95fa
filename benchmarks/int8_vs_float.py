"""Int8 latency against float32 latency of the same model on this host: what int8 buys on the CPU.

    python benchmarks/int8_vs_float.py [--models mobilefacenet ...] [--input-size N] [--threads 1]
        [--runs 100] [--rounds 7]

Each model (random weights; PReLUs with random per-channel slopes, as trained ones have) is
exported three ways by ``lite_tf.deploy.convert``: float32, full-integer int8 with the export's
rewrite passes, and int8 without them, and the three files are timed by the host benchmark
(ai_edge_litert + XNNPACK, a fresh process per measurement) in rounds that alternate over every
file; a file's latency is the median of its rounds' p50. Prints int8 / float32 for each model, with
and without the passes (the int8 speed issue's bar for MobileFaceNet: <= 0.6).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

from lite_tf.deploy import passes
from lite_tf.deploy.benchmark import host
from lite_tf.deploy.convert import convert
from lite_tf.errors import InputError
from lite_tf.models import create_model, get_entry

KINDS = {"float32": ("float32", ()), "int8": ("int8", ()), "int8 without passes": ("int8", tuple(passes.PASSES))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=os.path.basename(__file__), description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["mobilefacenet"], metavar="NAME")
    parser.add_argument("--input-size", type=int, help="input size (default: each model's own)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=100, help="timed invocations per round")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per file")
    args = parser.parse_args(argv)
    try:
        for name in args.models:
            get_entry(name)  # an unknown name fails before any work
    except InputError as e:
        parser.error(str(e))
    paths = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(args.models):
            size = args.input_size
            model = passes.spread_prelu_slopes(create_model(
                name, **({"input_shape": (size, size, 3)} if size else {})))
            shape = model.input_shape[1:]
            calibration = np.random.default_rng(0).uniform(-1, 1, (16, 1, *shape)).astype("float32")
            for kind, (mode, skip) in KINDS.items():
                paths[(name, kind)] = os.path.join(tmp, f"{i}_{len(paths)}.tflite")
                with open(paths[(name, kind)], "wb") as f:
                    f.write(convert(model, mode, lambda: iter(calibration), skip_passes=skip))
            print(f"[{i + 1}/{len(args.models)}] {name}: converted", file=sys.stderr, flush=True)
        ms = host.median_p50({f"{n}: {k}": p for (n, k), p in paths.items()}, args.threads,
                             args.runs, args.rounds)
    for name in args.models:
        row = {kind: ms[f"{name}: {kind}"] for kind in KINDS}
        print(f"{name}: float32 {row['float32']:.3f} ms, int8 {row['int8']:.3f} ms, int8 without "
              f"passes {row['int8 without passes']:.3f} ms ({args.threads} thread(s), median of "
              f"{args.rounds} rounds' p50)")
        print(f"{name} int8 / float32: {row['int8'] / row['float32']:.3f} (without passes: "
              f"{row['int8 without passes'] / row['float32']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
