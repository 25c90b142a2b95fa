"""Int8 TFLite latency of the zoo's MobileNetV2 against tf_keras.applications.MobileNetV2.

    python benchmarks/int8_latency.py [--image-size 224] [--threads 1] [--runs 100] [--rounds 5]

Both models (random weights, 1000 classes) are converted to full-integer int8 by the same call
(``lite_tf.deploy.convert``, calibrated on the same random images) and timed by the same host
benchmark (``lite_tf.deploy.benchmark``: ai_edge_litert with XNNPACK, a fresh process per measurement).
Rounds alternate between the models; each model's latency is the median of its rounds' p50s.
mobilenext_100 is timed alongside, and with identity tensor multipliers 1/2, 1/3 and 1/6, each
with and without the export's rewrite passes (``partial_identity_in_two``), against the
full-identity model (the bar: <= 1.00). The last line is zoo / keras.applications MobileNetV2 (the
bar is <= 1.05: the zoo's explicit ZeroPadding2D + VALID convolutions must cost no measurable speed).
"""

from __future__ import annotations

import argparse
import os
import tempfile

from lite_tf.deploy.benchmark import host
from lite_tf.deploy.convert import write_random_int8
from lite_tf.backend import keras
from lite_tf.deploy import passes
from lite_tf.models import create_model

IDENTITY = (2, 3, 6)  # MobileNeXt's identity tensor multipliers 1/m, from its paper
MODELS = {
    "keras.applications MobileNetV2": lambda shape: keras.applications.MobileNetV2(
        input_shape=shape, weights=None),
    "mobilenet_v2_100": lambda shape: create_model("mobilenet_v2_100", input_shape=shape),
    "mobilenext_100": lambda shape: create_model("mobilenext_100", input_shape=shape),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    host.add_comparison_arguments(parser)
    args = parser.parse_args(argv)

    shape = (args.image_size, args.image_size, 3)
    partial = {f"mobilenext_100 identity 1/{m}": create_model(
        "mobilenext_100", input_shape=shape, identity_multiplier=1 / m) for m in IDENTITY}
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_random_int8({**{name: build(shape) for name, build in MODELS.items()},
                                   **partial}, tmp)
        os.makedirs(os.path.join(tmp, "without"))
        paths.update(write_random_int8({f"{name} without passes": model for name, model in partial.items()},
                                       os.path.join(tmp, "without"), skip_passes=list(passes.PASSES)))
        for name, path in paths.items():
            print(f"converted {name}: {os.path.getsize(path) / 2**20:.2f} MiB", flush=True)
        ms = host.median_p50(paths, args.threads, args.runs, args.rounds)
    for name, value in ms.items():
        print(f"{name}: {value:.3f} ms (int8, {args.threads} thread(s), {args.image_size}x"
              f"{args.image_size}, median of {args.rounds} rounds' p50)")
    for name in partial:
        print(f"{name} / mobilenext_100: {ms[name] / ms['mobilenext_100']:.3f} "
              f"(without passes: {ms[name + ' without passes'] / ms['mobilenext_100']:.3f})")
    print(f"mobilenext_100 / mobilenet_v2_100: {ms['mobilenext_100'] / ms['mobilenet_v2_100']:.3f}")
    ratio = ms["mobilenet_v2_100"] / ms["keras.applications MobileNetV2"]
    print(f"zoo mobilenet_v2_100 / keras.applications MobileNetV2 int8 latency: {ratio:.3f}")


if __name__ == "__main__":
    main()
