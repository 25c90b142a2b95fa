"""What narrow layers at high resolution cost in int8: single kernels at GhostNet's 112x112 shapes.

    python benchmarks/int8_narrow_layers.py [--size 112] [--threads 1] [--runs 100] [--rounds 5]
        [--results benchmarks/results/int8_narrow_layers.json]

GhostNet's first two blocks run at 112x112 on 8-24 channels (a ghost module makes half its
channels with a 1x1 convolution and the other half with a cheap 3x3 depthwise one on those) and
take 42% of its int8 time for 13% of its MACs (``lite-tf profile ghostnet_100 --latency``). This
times, each as its own full-integer int8 model (random weights, the export's conversion, the host
benchmark in alternating rounds): 1x1 convolutions from 16 channels to 8-32 and one wide one, 3x3
depthwise convolutions on 8-64 channels, and one ghost module (16 -> 8 + 8) as the zoo builds it
and as one depthwise convolution with depth multiplier 2 (identity and cheap kernels: the
concatenation gone). Prints ms and GMAC/s per kernel; the figures go to ``--results``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile

from lite_tf import files
from lite_tf.backend import keras, layers
from lite_tf.deploy.benchmark import host
from lite_tf.deploy.benchmark.results import device
from lite_tf.deploy.convert import write_random_int8

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POINTWISE = ((16, 8), (16, 16), (16, 24), (16, 32), (32, 96))  # (in, out) channels
DEPTHWISE = (8, 16, 24, 32, 48, 64)  # channels


def pointwise(size: int, cin: int, cout: int) -> keras.Model:
    inputs = keras.Input((size, size, cin), name="input")
    return keras.Model(inputs, layers.Conv2D(cout, 1, activation="relu", name="pw")(inputs))


def depthwise(size: int, channels: int, multiplier: int = 1) -> keras.Model:
    inputs = keras.Input((size, size, channels), name="input")
    return keras.Model(inputs, layers.DepthwiseConv2D(3, padding="same", depth_multiplier=multiplier,
                                                      activation="relu", name="dw")(inputs))


def ghost_module(size: int, channels: int, fused: bool) -> keras.Model:
    """``channels`` -> channels / 2 by a 1x1 convolution, then the cheap 3x3 depthwise half:
    concatenated (GhostNet), or both halves from one depthwise convolution of multiplier 2."""
    inputs = keras.Input((size, size, channels), name="input")
    primary = layers.Conv2D(channels // 2, 1, activation="relu", name="primary")(inputs)
    if fused:
        out = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu",
                                     name="both")(primary)
    else:
        cheap = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="cheap")(primary)
        out = layers.Concatenate(name="ghost")([primary, cheap])
    return keras.Model(inputs, out)


def kernels(size: int) -> dict[str, tuple[keras.Model, int]]:
    """Each kernel by name, with its MACs."""
    found = {}
    for cin, cout in POINTWISE:
        found[f"conv 1x1 {cin} -> {cout}"] = (pointwise(size, cin, cout), size * size * cin * cout)
    for channels in DEPTHWISE:
        found[f"depthwise 3x3 x{channels}"] = (depthwise(size, channels), size * size * 9 * channels)
    ghost_macs = size * size * (16 * 8 + 9 * 8)
    found["ghost module 16 -> 8 + 8"] = (ghost_module(size, 16, fused=False), ghost_macs)
    found["ghost module as depth multiplier 2"] = (ghost_module(size, 16, fused=True), ghost_macs + size * size * 9 * 8)
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=112, help="square input size of every kernel")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=100, help="timed invocations per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per kernel")
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results",
                                                          "int8_narrow_layers.json"))
    args = parser.parse_args(argv)
    found = kernels(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"converting {len(found)} kernels at {args.size}x{args.size}", file=sys.stderr, flush=True)
        paths = write_random_int8({name: model for name, (model, _) in found.items()}, tmp)
        print(f"timing them, {args.rounds} alternating rounds", file=sys.stderr, flush=True)
        p50 = host.median_p50(paths, args.threads, args.runs, args.rounds)
    rows = [{"kernel": name, "macs": macs, "ms": p50[name], "gmac_per_s": macs / p50[name] / 1e6}
            for name, (_, macs) in found.items()]
    cpu = device()["cpu"]
    files.write_json(args.results, {"measured": datetime.date.today().isoformat(), "cpu": cpu,
                                    "size": args.size, "threads": args.threads, "rows": rows})
    print(f"int8, {args.size}x{args.size}, {args.threads} thread(s), {cpu}, median p50 of {args.rounds} rounds")
    width = max(len(r["kernel"]) for r in rows)
    for r in rows:
        print(f"{r['kernel']:{width}}  {r['ms']:8.4f} ms  {r['macs'] / 1e6:7.2f} MMACs  {r['gmac_per_s']:7.1f} GMAC/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
