"""Checkpointing and logging callbacks of a training run: resume after any interruption, the best
weights, per-epoch metrics, TensorBoard, and a stop at the first non-finite loss."""

from __future__ import annotations

import math
import time

from lite_tf import files, rundir
from lite_tf.backend import keras


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
    """Keeps the run's metrics ``history``: one record per finished epoch, contiguous across
    resumes (an epoch rerun after an interruption replaces its earlier record), with images/s
    and cumulative wall-clock seconds. An epoch that ends with a non-finite loss is not recorded."""

    def __init__(self, run: rundir.RunDir, batch_size: int):
        super().__init__()
        self.run, self.batch_size = run, batch_size
        self.metrics = rundir.read_metrics(run)

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
        files.write_json(self.run.metrics, self.metrics)


class Checkpointing:
    """The callbacks of one process: backup into the run (shared by all workers), metrics, best
    weights and TensorBoard into ``out`` (the run, or worker i's folder)."""

    def __init__(self, run: rundir.RunDir, out: rundir.RunDir, batch_size: int,
                 every_steps: int | None):
        self.log = MetricsLog(out, batch_size)
        self.nan = StopOnNaN()
        self.backup = Backup(run.backup, save_freq=every_steps or "epoch", delete_checkpoint=False)
        best = max((h.get("val_top1", 0.0) for h in self.log.metrics["history"]), default=None)
        self.callbacks = [
            self.nan, self.backup, self.log,
            keras.callbacks.ModelCheckpoint(out.best_weights, monitor="val_top1", mode="max",
                                            save_best_only=True, save_weights_only=True,
                                            initial_value_threshold=best),
            keras.callbacks.TensorBoard(out.tensorboard),
        ]
