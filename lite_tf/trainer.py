"""The training loop behind ``python -m train``: every argument is a gin binding (``train.*``).

A run's workdir holds ``backup/`` (the checkpoint training resumes from after any interruption),
``checkpoints/best.weights.h5`` (best validation top-1), ``model.keras`` (QAT runs:
``model.h5``) and ``saved_model/`` (the final model), ``config.gin`` (the operative config),
``tensorboard/`` and ``metrics.json``.
In a multi-worker run, worker ``i > 0`` writes its copies under ``worker<i>/`` instead.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Callable

import gin

from lite_tf import channel_prune, data, distill, files, optim, prune, runs, stages
from lite_tf import preprocessing as scaling
from lite_tf.backend import keras, tf
from lite_tf.errors import InputError
from lite_tf.models import create_model

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")

gin.external_configurable(data.Augment, module="data")
# create_model.* bindings apply to the model a run trains: `create_model.weights = 'imagenet'`.
create_model = gin.external_configurable(create_model, name="create_model")


class Diverged(InputError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


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
    raise InputError(f"strategy must be one of {STRATEGIES}, got {name!r}")


def worker_index(strategy) -> int:
    """0 for the process that writes the run's files (worker 0, the chief or the only process)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if task_type in (None, "chief"):
        return 0
    return resolver.task_id + (1 if "chief" in resolver.cluster_spec().as_dict() else 0)


def num_workers(strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    if getattr(resolver, "task_type", None) is None:
        return 1
    jobs = resolver.cluster_spec().as_dict()
    return sum(len(jobs.get(job, [])) for job in ("chief", "worker"))


def read_metrics(workdir: str) -> dict:
    path = os.path.join(workdir, "metrics.json")
    if not os.path.exists(path):
        return {"history": []}
    with open(path) as f:
        return json.load(f)


def finite_loss(logs) -> bool:
    loss = (logs or {}).get("loss")
    return loss is None or math.isfinite(float(loss))


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and remembers where (epoch, step)."""

    def __init__(self):
        super().__init__()
        self.where = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if not finite_loss(logs):
            self.where = (self.epoch + 1, batch + 1)
            self.model.stop_training = True


class Backup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore that also backs up at every epoch end when it saves every N steps, never
    backs up after a non-finite loss (the last good backup stays), and says what it last saved."""

    last = "none saved by this process"

    def on_train_batch_end(self, batch, logs=None):
        if finite_loss(logs):
            super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if finite_loss(logs):
            self._backup(epoch=epoch)

    def _backup(self, epoch, batch=None):
        super()._backup(epoch=epoch)
        self.last = f"epoch {epoch + 1}, " + ("end" if batch is None else f"step {batch + 1}")


class MetricsLog(keras.callbacks.Callback):
    """Keeps ``metrics.json`` ``history``: one record per finished epoch, contiguous across
    resumes (an epoch rerun after an interruption replaces its earlier record), with images/s
    and cumulative wall-clock seconds. An epoch that ends with a non-finite loss is not recorded."""

    def __init__(self, workdir, batch_size):
        super().__init__()
        self.workdir, self.batch_size = workdir, batch_size
        self.metrics = read_metrics(workdir)

    def on_epoch_begin(self, epoch, logs=None):
        self.metrics["history"] = [h for h in self.metrics["history"] if h["epoch"] <= epoch]
        self.start, self.steps = time.time(), 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1

    def on_epoch_end(self, epoch, logs=None):
        if not finite_loss(logs):
            return
        seconds = time.time() - self.start
        previous = self.metrics["history"][-1]["wall_seconds"] if self.metrics["history"] else 0.0
        record = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
                  "images_per_sec": self.steps * self.batch_size / seconds,
                  "wall_seconds": previous + seconds}
        self.metrics["history"].append(record)
        files.write_json(os.path.join(self.workdir, "metrics.json"), self.metrics)


@gin.configurable(module="train", denylist=["workdir"])
def train(workdir: str | Callable[[], str], *, model: str = gin.REQUIRED,
          dataset: str = "sklearn_digits", train_split: str = "train", eval_split: str = "test",
          data_dir: str | None = None, manual_dir: str | None = None, image_size: int = 224,
          batch_size: int = 128, epochs: int = 10, optimizer: str = "sgd",
          learning_rate: float = 0.1, base_batch_size: int | None = None, momentum: float = 0.9,
          nesterov: bool = False, rmsprop_rho: float = 0.9, epsilon: float | None = None,
          weight_decay: float = 0.0, schedule: str = "cosine", warmup_epochs: float = 0.0,
          decay_epochs: float = 1.0, decay_rate: float = 1.0, label_smoothing: float = 0.0,
          ema_momentum: float | None = None, clipnorm: float | None = None,
          augment: data.Augment = data.Augment(), eval_crop_fraction: float = 0.875,
          precision: str = "float32", seed: int = 0, deterministic: bool = False,
          strategy: str = "default", checkpoint_every_steps: int | None = None,
          model_overrides: dict | None = None, preprocessing: str | None = None,
          init_from: str | None = None,
          compress: str | None = None, pruning: prune.Pruning | None = None,
          distillation: distill.Distillation | None = None,
          channel_pruning: channel_prune.ChannelPruning | None = None, verbose="auto") -> dict:
    """Train ``model`` on ``dataset``; returns metrics.json's ``final`` record.

    ``workdir`` is a path, or a function returning one that is called once the model, data and
    settings have been checked (so bad input never creates or touches a workdir). ``batch_size``
    is global; the learning rate is ``learning_rate * batch_size / base_batch_size`` when
    ``base_batch_size`` is set (linear scaling), else ``learning_rate``. ``precision``
    'mixed_float16' / 'mixed_bfloat16' computes in half precision with float32 weights. Training
    resumes from ``workdir/backup`` (saved every ``checkpoint_every_steps`` steps and every epoch).
    ``preprocessing`` scales the images (``lite_tf.preprocessing``: 'tf' [-1, 1], 'torch' ImageNet
    mean/std, 'bgr'); by default the one the pretrained weights expect (``create_model.weights =
    'imagenet'``: fine-tuning from the reference checkpoint, with a fresh classifier when the
    classes differ), else 'tf'. The run's config.gin records the scaling and settings it used.
    ``init_from`` starts from the weights of a finished run of the same model (``python -m train``
    also takes that run's config as the base of this one); ``compress`` makes the run a
    compression stage (``lite_tf.stages``: 'qat', 'prune' with ``pruning``, 'pqat', 'distill'
    with ``distillation``, 'channel_prune' with ``channel_pruning``; each defaults to its class
    built here, so bindings such as ``prune.Pruning.target = 0.5`` apply).
    Raises InputError for bad settings and Diverged when the loss becomes NaN.
    """
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    pruning, distillation = pruning or prune.Pruning(), distillation or distill.Distillation()
    channel_pruning = channel_pruning or channel_prune.ChannelPruning()
    stages.check(compress, precision, pruning=pruning, distillation=distillation,
                 channel_pruning=channel_pruning)
    parent = runs.find_run(init_from) if init_from else None
    # Pretrained weights (not for a stage, which starts from its parent's): found or fetched now,
    # so a cache miss fails before any work; they bring their input scaling and model settings.
    weights = None if parent else runs.query("create_model.weights")
    resolved = {}
    if weights is not None:
        from lite_tf.weights import pretrained

        resolved["create_model.weights"] = weights  # passed explicitly, so gin would not record it
        weights = pretrained.resolve(model, weights)
        required = pretrained.required_settings(model, weights)
        if required:
            resolved["train.model_overrides"] = model_overrides = {**required,
                                                                   **(model_overrides or {})}
    if preprocessing is None:
        resolved["train.preprocessing"] = preprocessing = (
            pretrained.preprocessing(model, weights) if weights else scaling.DEFAULT)
    scaling.get(preprocessing)
    if compress == "distill":
        _check_teacher(distillation.teacher, preprocessing)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    dist = make_strategy(strategy)
    worker = worker_index(dist)

    builder = data.get_builder(dataset, data_dir, manual_dir)
    num_train = data.split_size(builder, train_split)
    data.split_size(builder, eval_split)
    steps_per_epoch = max(num_train // batch_size, 1)
    workers = num_workers(dist)
    train_ds = data.make_dataset(builder, train_split, training=True, batch_size=batch_size,
                                 image_size=image_size, augment=augment, seed=seed,
                                 num_workers=workers, preprocessing=preprocessing)
    eval_ds = data.make_dataset(builder, eval_split, training=False, batch_size=batch_size,
                                image_size=image_size, crop_fraction=eval_crop_fraction,
                                num_workers=workers, preprocessing=preprocessing)

    peak = learning_rate * (batch_size / base_batch_size if base_batch_size else 1.0)
    lr = optim.WarmupSchedule(peak, epochs * steps_per_epoch, round(warmup_epochs * steps_per_epoch),
                              schedule, round(decay_epochs * steps_per_epoch), decay_rate)
    classes = data.num_classes(builder)
    keras.mixed_precision.set_global_policy(precision)
    try:
        with dist.scope():
            net = create_model(model, num_classes=classes, input_shape=(image_size, image_size, 3),
                               weights=weights, **(model_overrides or {}))
            if parent:
                _load_weights(net, parent)
            stage = stages.make(compress, net, steps=epochs * steps_per_epoch, pruning=pruning,
                                distillation=distillation, channel_pruning=channel_pruning,
                                model_overrides=model_overrides)
            stage.model.compile(
                optimizer=optim.make_optimizer(optimizer, lr, momentum=momentum, nesterov=nesterov,
                                               rmsprop_rho=rmsprop_rho, epsilon=epsilon, weight_decay=weight_decay,
                                               clipnorm=clipnorm, ema_momentum=ema_momentum),
                loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
                metrics=[keras.metrics.TopKCategoricalAccuracy(1, name="top1"),
                         keras.metrics.TopKCategoricalAccuracy(min(5, classes),
                                                               name="top5")])
        root = _make_workdir(workdir() if callable(workdir) else workdir)
        if stage.model_overrides is not None:
            resolved["train.model_overrides"] = stage.model_overrides
        return _fit(stage, root, worker, train_ds, eval_ds, epochs, steps_per_epoch, batch_size,
                    checkpoint_every_steps, verbose, model, dataset, compress, resolved)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _load_weights(net, parent) -> None:
    if parent["compress"] in stages.QUANTIZED:
        raise InputError(f"the run in {parent.workdir} is quantization-aware trained: start a "
                         f"compression stage from a float run")
    source = runs.load_model(parent)
    try:
        net.set_weights(source.get_weights())
    except ValueError:
        raise InputError(f"the weights of {parent.model_path} ({parent['model']}) do not fit "
                         f"{net.name}: train.init_from needs the same model") from None


def _make_workdir(path: str) -> str:
    files.writable_dir(path, "workdir")
    os.makedirs(os.path.join(path, "checkpoints"), exist_ok=True)
    return path


def _check_teacher(teacher: str | None, preprocessing: str) -> None:
    """A teacher run must have seen its images scaled as the student will."""
    if teacher and os.path.isdir(teacher):
        theirs = runs.find_run(teacher)["preprocessing"] or scaling.DEFAULT
        if theirs != preprocessing:
            raise InputError(f"the teacher {teacher} was trained on images scaled as "
                             f"{theirs!r}, the student's are {preprocessing!r}: set "
                             f"train.preprocessing = {theirs!r}")


def _fit(stage, root, worker, train_ds, eval_ds, epochs, steps_per_epoch, batch_size,
         checkpoint_every_steps, verbose, model, dataset, compress, resolved) -> dict:
    """Fit with resume, best checkpoint, NaN guard and logs; save the final model (all workers:
    worker i > 0 into ``worker<i>/``). ``resolved``: bindings the run worked out itself (the
    pretrained weights, their scaling and settings, a stage's architecture), appended to
    config.gin."""
    out = root if worker == 0 else _make_workdir(os.path.join(root, f"worker{worker}"))
    log = MetricsLog(out, batch_size)
    best = max((h.get("val_top1", 0.0) for h in log.metrics["history"]), default=None)
    nan = StopOnNaN()
    backup = Backup(os.path.join(root, "backup"), save_freq=checkpoint_every_steps or "epoch",
                    delete_checkpoint=False)
    callbacks = [
        *stage.callbacks,
        nan,
        backup,
        log,
        keras.callbacks.ModelCheckpoint(os.path.join(out, "checkpoints", "best.weights.h5"),
                                        monitor="val_top1", mode="max", save_best_only=True,
                                        save_weights_only=True, initial_value_threshold=best),
        keras.callbacks.TensorBoard(os.path.join(out, "tensorboard")),
    ]
    stage.model.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch,
                    validation_data=eval_ds, callbacks=callbacks, verbose=verbose)
    if nan.where:
        raise Diverged(f"the loss became NaN in epoch {nan.where[0]}, step {nan.where[1]}: "
                       f"training stopped; the last checkpoint before it ({backup.last}) is kept "
                       f"in {os.path.join(root, 'backup')}, the best in checkpoints/: lower "
                       f"train.learning_rate or set train.clipnorm")

    metrics = log.metrics  # what MetricsLog wrote to metrics.json
    net = stage.final_model()
    last = metrics["history"][-1]
    metrics["final"] = {"model": model, "dataset": dataset, "epochs": last["epoch"],
                        "val_top1": last["val_top1"], "val_top5": last["val_top5"],
                        "val_loss": last["val_loss"], "wall_seconds": last["wall_seconds"],
                        "params": int(sum(math.prod(w.shape) for w in net.trainable_weights)),
                        **stage.report(net)}
    net.save(os.path.join(out, stages.model_file(compress)))
    net.save(os.path.join(out, "saved_model"), save_format="tf")
    with open(os.path.join(out, "config.gin"), "w") as f:
        f.write(gin.operative_config_str())
        if resolved:
            f.write("\n# Worked out by the run (the pretrained weights, their input scaling and "
                    "settings, the architecture a stage made): later stages and exports use them.\n")
            f.writelines(f"{key} = {value!r}\n" for key, value in resolved.items())
    files.write_json(os.path.join(out, "metrics.json"), metrics)
    return metrics["final"]
