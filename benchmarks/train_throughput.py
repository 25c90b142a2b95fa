"""Training throughput: the zoo's MobileNetV2 against tf_keras.applications.MobileNetV2, or
(--grouped) a model with grouped convolutions as lite_tf trains it against tf_keras's XLA path.

    python benchmarks/train_throughput.py [--batch-size 32] [--image-size 224] [--steps 6] [--rounds 5]
    python benchmarks/train_throughput.py --grouped shufflenet_v1_g3_100 --image-size 32 --batch-size 128

Both models train (SGD with momentum, cross-entropy, model.fit) on the same in-memory batch through
the same tf.data pipeline, in one process; rounds alternate between them and each model's images/s
is its median round. A round times its training steps only, from the first step's start to the
last step's end: fit() itself sometimes waits about 2 s after the last step on this machine
(for both models alike), which says nothing about the model. The last line is the ratio. Without
--grouped it is zoo / keras.applications (the bar is >= 0.95: the zoo's explicit ZeroPadding2D +
VALID convolutions must cost no measurable training speed). With --grouped it is lite_tf / XLA:
tf_keras compiles every grouped convolution with XLA, and lite_tf.backend runs them on
TensorFlow's own kernel where that kernel trains them (oneDNN; ``native_grouped_convolution``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from lite_tf import backend
from lite_tf.backend import keras, tf
from lite_tf.models import create_model


def compiled(model):
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss=keras.losses.CategoricalCrossentropy())
    return model


class StepTimer(keras.callbacks.Callback):
    """Wall time from the first training step's start to the last one's end."""

    def on_train_begin(self, logs=None):
        self.start = None

    def on_train_batch_begin(self, batch, logs=None):
        self.start = self.start or time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.end = time.perf_counter()


def images_per_second(model, dataset, steps: int, batch_size: int) -> float:
    timer = StepTimer()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[timer])
    return steps * batch_size / (timer.end - timer.start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per model")
    parser.add_argument("--grouped", metavar="MODEL",
                        help="a zoo model with grouped convolutions, trained both ways")
    args = parser.parse_args(argv)
    if args.grouped and not backend.native_grouped_convolution():
        parser.error("TensorFlow's kernels here do not train grouped convolutions (no oneDNN): "
                     "lite_tf uses XLA as tf_keras does, so there is nothing to compare")

    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (args.batch_size, args.image_size, args.image_size, 3))
    labels = np.eye(1000)[rng.integers(0, 1000, args.batch_size)]
    dataset = tf.data.Dataset.from_tensors((images.astype("float32"), labels.astype("float32")))
    dataset = dataset.repeat().prefetch(tf.data.AUTOTUNE)
    shape = (args.image_size, args.image_size, 3)
    if args.grouped:  # the path is fixed when fit() first traces a model's train step
        models = {}
        for name, native in ((f"lite_tf {args.grouped}", True), ("tf_keras's XLA path", False)):
            backend._NATIVE = native
            models[name] = compiled(create_model(args.grouped, input_shape=shape))
            images_per_second(models[name], dataset, 2, args.batch_size)
        backend._NATIVE = None
    else:
        models = {
            "lite_tf mobilenet_v2_100": compiled(create_model("mobilenet_v2_100", input_shape=shape)),
            "keras.applications MobileNetV2": compiled(
                keras.applications.MobileNetV2(input_shape=shape, weights=None)),
        }
    for model in models.values():  # trace and warm up
        images_per_second(model, dataset, 2, args.batch_size)
    rounds = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            rounds[name].append(images_per_second(model, dataset, args.steps, args.batch_size))
    speed = {name: statistics.median(r) for name, r in rounds.items()}
    for name, value in speed.items():
        print(f"{name}: {value:.1f} images/s (rounds: {', '.join(f'{r:.1f}' for r in rounds[name])})")
    ours, reference = speed.values()
    print(f"training throughput, batch {args.batch_size} at {args.image_size}x{args.image_size}, "
          + ("lite_tf / XLA" if args.grouped else "zoo / keras.applications")
          + f": {ours / reference:.3f}")


if __name__ == "__main__":
    main()
