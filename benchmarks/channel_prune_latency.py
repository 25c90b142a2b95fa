"""Int8 latency of a channel-pruned model against the unpruned one, at 224x224, on this host.

    python benchmarks/channel_prune_latency.py [RUN] [--model mobilenet_v2_100] [--target-macs 0.6]
        [--image-size 224] [--threads 1] [--runs 100] [--rounds 5]

With RUN (a finished ``--config channel_prune`` run) its pruned architecture (the channel counts in
its config.gin) is measured; without, ``--model`` is pruned here with ``--target-macs`` (L1 scores of
random weights: the channel counts, not the weights, set the latency). Both models (1000 classes)
are converted to full-integer int8 by the same call and timed by the same host benchmark, rounds
alternating. The last line is pruned / unpruned latency (the bar is <= 0.7 at <= 60% of the MACs).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from lite_tf import rundir
from lite_tf.compression import channel_prune
from lite_tf.deploy.benchmark import host
from lite_tf.deploy.convert import write_random_int8
from lite_tf.models import create_model
from lite_tf.models.profile import profile_model


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", nargs="?", help="a finished channel_prune run")
    parser.add_argument("--model", default="mobilenet_v2_100")
    parser.add_argument("--target-macs", type=float, default=0.6)
    host.add_comparison_arguments(parser)
    args = parser.parse_args(argv)

    shape = (args.image_size, args.image_size, 3)
    if args.run:
        run = rundir.find_run(args.run)
        name, overrides = run["model"], dict(run["model_overrides"] or {})
        channels = overrides.pop("channels", None)
        if not channels:
            sys.exit(f"{args.run} is not a channel-pruned run (no channels in its model_overrides)")
    else:
        name, overrides = args.model, {}
        wide = create_model(name, input_shape=shape)
        kept = channel_prune.plan(wide, channel_prune.ChannelPruning(target_macs=args.target_macs))
        channels = {producer: len(k) for producer, k in kept.items()}
    models = {"unpruned": create_model(name, input_shape=shape, **overrides),
              "channel-pruned": create_model(name, input_shape=shape, channels=channels, **overrides)}
    macs = {key: profile_model(m)["macs"] for key, m in models.items()}
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_random_int8(models, tmp)
        for key, model in models.items():
            print(f"{name} {key}: {macs[key] / 1e6:.1f}M MACs, {model.count_params() / 1e6:.2f}M "
                  f"params, {os.path.getsize(paths[key]) / 2**20:.2f} MiB int8", flush=True)
        ms = host.median_p50(paths, args.threads, args.runs, args.rounds)
    for key, value in ms.items():
        print(f"{key}: {value:.3f} ms (int8, {args.threads} thread(s), {args.image_size}x"
              f"{args.image_size}, median of {args.rounds} rounds' p50)")
    print(f"MACs: {macs['channel-pruned'] / macs['unpruned']:.3f} of the unpruned model")
    print(f"channel-pruned / unpruned int8 latency: {ms['channel-pruned'] / ms['unpruned']:.3f}")


if __name__ == "__main__":
    main()
