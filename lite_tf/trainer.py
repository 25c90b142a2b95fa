"""The training loop behind ``python -m train``: every argument is a gin binding (``train.*``).

A run's workdir holds ``backup/`` (the checkpoint training resumes from after any interruption),
``checkpoints/best.weights.h5`` (best validation top-1), ``model.keras`` and ``saved_model/``
(the final model), ``config.gin`` (the operative config), ``tensorboard/`` and ``metrics.json``.
"""

from __future__ import annotations

import json
import math
import os
import time

import gin

from lite_tf import data, optim
from lite_tf.backend import keras, tf
from lite_tf.models import create_model

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored", "tpu")

gin.external_configurable(data.Augment, module="data")


def make_strategy(name: str):
    """tf.distribute strategy by name: one device, several GPUs, several hosts (TF_CONFIG), TPU."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")


def is_chief(strategy) -> bool:
    """Whether this process writes the run's files (worker 0, or the only process)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    return task_type in (None, "chief") or (task_type == "worker" and resolver.task_id == 0)


def read_metrics(workdir: str) -> dict:
    path = os.path.join(workdir, "metrics.json")
    if not os.path.exists(path):
        return {"history": []}
    with open(path) as f:
        return json.load(f)


def write_json(path: str, obj) -> None:
    """Write atomically: a reader never sees a half-written file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


class MetricsLog(keras.callbacks.Callback):
    """Keeps ``metrics.json`` ``history``: one record per epoch, contiguous across resumes (an epoch
    rerun after an interruption replaces its earlier record), with images/s and cumulative
    wall-clock seconds."""

    def __init__(self, workdir, images_per_epoch, chief=True):
        super().__init__()
        self.workdir, self.images_per_epoch, self.chief = workdir, images_per_epoch, chief
        self.metrics = read_metrics(workdir)

    def on_epoch_begin(self, epoch, logs=None):
        self.metrics["history"] = [h for h in self.metrics["history"] if h["epoch"] <= epoch]
        self.start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.time() - self.start
        previous = self.metrics["history"][-1]["wall_seconds"] if self.metrics["history"] else 0.0
        record = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
                  "images_per_sec": self.images_per_epoch / seconds,
                  "wall_seconds": previous + seconds}
        self.metrics["history"].append(record)
        if self.chief:
            write_json(os.path.join(self.workdir, "metrics.json"), self.metrics)


@gin.configurable(module="train", denylist=["workdir"])
def train(workdir: str, *, model: str = gin.REQUIRED, dataset: str = "sklearn_digits",
          train_split: str = "train", eval_split: str = "test", data_dir: str | None = None,
          manual_dir: str | None = None, image_size: int = 224, batch_size: int = 128,
          epochs: int = 10, optimizer: str = "sgd", learning_rate: float = 0.1,
          base_batch_size: int | None = None, momentum: float = 0.9, nesterov: bool = False,
          weight_decay: float = 0.0, schedule: str = "cosine", warmup_epochs: float = 0.0,
          decay_epochs: float = 1.0, decay_rate: float = 1.0, label_smoothing: float = 0.0,
          ema_momentum: float | None = None, clipnorm: float | None = None,
          augment: data.Augment = data.Augment(), eval_crop_fraction: float = 0.875,
          seed: int = 0, deterministic: bool = False, strategy: str = "default",
          checkpoint_every_steps: int | None = None, model_overrides: dict | None = None,
          verbose="auto") -> dict:
    """Train ``model`` on ``dataset``; returns metrics.json's ``final`` record.

    ``batch_size`` is global; the learning rate is ``learning_rate * batch_size / base_batch_size``
    when ``base_batch_size`` is set (linear scaling), else ``learning_rate``. Training resumes from
    ``workdir/backup`` (saved every ``checkpoint_every_steps`` steps and every epoch).
    """
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    os.makedirs(workdir, exist_ok=True)
    dist = make_strategy(strategy)
    chief = is_chief(dist)

    builder = data.get_builder(dataset, data_dir, manual_dir)
    num_classes = builder.info.features["label"].num_classes
    num_train = builder.info.splits[train_split].num_examples
    steps_per_epoch = max(num_train // batch_size, 1)
    train_ds = data.make_dataset(builder, train_split, training=True, batch_size=batch_size,
                                 image_size=image_size, augment=augment, seed=seed)
    eval_ds = data.make_dataset(builder, eval_split, training=False, batch_size=batch_size,
                                image_size=image_size, crop_fraction=eval_crop_fraction)

    peak = learning_rate * (batch_size / base_batch_size if base_batch_size else 1.0)
    lr = optim.WarmupSchedule(peak, epochs * steps_per_epoch, round(warmup_epochs * steps_per_epoch),
                              schedule, round(decay_epochs * steps_per_epoch), decay_rate)
    with dist.scope():
        net = create_model(model, num_classes=num_classes, input_shape=(image_size, image_size, 3),
                           **(model_overrides or {}))
        net.compile(
            optimizer=optim.make_optimizer(optimizer, lr, momentum=momentum, nesterov=nesterov,
                                           weight_decay=weight_decay, clipnorm=clipnorm,
                                           ema_momentum=ema_momentum),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
            metrics=[keras.metrics.TopKCategoricalAccuracy(1, name="top1"),
                     keras.metrics.TopKCategoricalAccuracy(min(5, num_classes), name="top5")])

    log = MetricsLog(workdir, steps_per_epoch * batch_size, chief)
    best = max((h.get("val_top1", 0.0) for h in log.metrics["history"]), default=None)
    os.makedirs(os.path.join(workdir, "checkpoints"), exist_ok=True)
    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(workdir, "backup"),
                                         save_freq=checkpoint_every_steps or "epoch",
                                         delete_checkpoint=False),
        log,
        keras.callbacks.ModelCheckpoint(os.path.join(workdir, "checkpoints", "best.weights.h5"),
                                        monitor="val_top1", mode="max", save_best_only=True,
                                        save_weights_only=True, initial_value_threshold=best),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard")),
    ]
    net.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch, validation_data=eval_ds,
            callbacks=callbacks, verbose=verbose)

    metrics = log.metrics  # what MetricsLog wrote to metrics.json
    last = metrics["history"][-1]
    metrics["final"] = {"model": model, "dataset": dataset, "epochs": last["epoch"],
                        "val_top1": last["val_top1"], "val_top5": last["val_top5"],
                        "val_loss": last["val_loss"], "wall_seconds": last["wall_seconds"],
                        "params": int(sum(math.prod(w.shape) for w in net.trainable_weights))}
    if chief:
        net.save(os.path.join(workdir, "model.keras"))
        net.save(os.path.join(workdir, "saved_model"), save_format="tf")
        with open(os.path.join(workdir, "config.gin"), "w") as f:
            f.write(gin.operative_config_str())
        write_json(os.path.join(workdir, "metrics.json"), metrics)
    return metrics["final"]
