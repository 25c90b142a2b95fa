"""Checkpointing and logging callbacks of a training run: resume after any interruption, the best
weights, per-epoch metrics, TensorBoard, and a stop at the first non-finite loss."""

from __future__ import annotations

import contextlib
import glob
import math
import os
import signal
import threading
import time

from lite_tf import files, rundir
from lite_tf.backend import keras, tf
from lite_tf.errors import InputError, Interrupted


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


class StopOnInterrupt(keras.callbacks.Callback):
    """The first Ctrl-C (SIGINT) during ``fit`` stops training at the end of the current step, so
    no checkpoint is cut in half and the last backup is where a rerun resumes: ``Interrupted`` is
    raised from there (another Ctrl-C stops at once). Put it first among the callbacks."""

    def __init__(self):
        super().__init__()
        self.requested, self.previous, self.where = False, None, None

    def on_train_begin(self, logs=None):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._request)

    def _request(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.requested:
            self.where = (self.epoch + 1, batch + 1)
            raise Interrupted(f"stopped in epoch {self.where[0]}, step {self.where[1]}")

    def restore(self):
        """Put back the SIGINT handler ``fit`` found (call when it returns or raises)."""
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None


class Backup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore that also backs up at every epoch end when it saves every N steps, never
    backs up after a non-finite loss (the last good backup stays), and says what it last saved."""

    def __init__(self, backup_dir: str, **kwargs):
        super().__init__(backup_dir, **kwargs)
        found = tf.train.latest_checkpoint(os.path.join(backup_dir, "chief"))
        self.last = "the one it resumed from" if found else "none yet: it starts again at epoch 1"

    def on_train_batch_end(self, batch, logs=None):
        if finite_loss(logs):
            super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if finite_loss(logs):
            self._backup(epoch=epoch)

    def _backup(self, epoch, batch=None):
        try:
            super()._backup(epoch=epoch)
        except (OSError, tf.errors.OpError) as e:  # a full disk, say: the manager keeps the last
            reason = getattr(e, "strerror", None) or getattr(e, "message", None) or str(e)
            raise InputError(f"cannot write the backup in {self.backup_dir}: "
                             f"{reason.splitlines()[0]}; a rerun resumes from the last good one "
                             f"({self.last})") from None
        self.last = f"epoch {epoch + 1}, " + ("end" if batch is None else f"step {batch + 1}")


class BestWeights(keras.callbacks.Callback):
    """Saves the weights at the best validation top-1 so far (``path``, .weights.h5), whole or
    not at all: written beside it and renamed over it, so a failed write keeps the earlier best."""

    def __init__(self, path: str, best: float | None):
        super().__init__()
        self.path, self.best = path, best

    def on_epoch_end(self, epoch, logs=None):
        top1 = (logs or {}).get("val_top1")
        if top1 is None or not math.isfinite(top1) or (self.best is not None and top1 <= self.best):
            return
        directory, name = os.path.split(self.path)
        partial = os.path.join(directory, f".{os.getpid()}{files.PARTIAL}.{name}")  # .weights.h5 last
        try:
            self.model.save_weights(partial)
            os.replace(partial, self.path)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise InputError(f"cannot write {self.path}: {e.strerror or e}; the earlier best is "
                             f"kept") from None
        self.best = float(top1)


def check_backup(folder: str) -> None:
    """InputError, in one line naming the file, if the backup a run would resume from cannot be
    read whole (truncated, corrupt): every tensor is read, so TensorFlow checks each one's CRC."""
    latest = tf.train.latest_checkpoint(os.path.join(folder, "chief")) if os.path.isdir(folder) \
        else None
    if latest is None:
        return
    culprit = f"{latest}.index"
    try:
        reader = tf.train.load_checkpoint(latest)
        culprit = next(iter(glob.glob(f"{latest}.data-*")), latest)
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except (tf.errors.OpError, ValueError, IndexError) as e:  # IndexError: a truncated shard
        raise InputError(f"cannot resume: the backup {culprit} is damaged "
                         f"({(e.message if hasattr(e, 'message') else str(e)).splitlines()[0][:120]}); "
                         f"delete {folder} to train the run again from its start") from None


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
        self.interrupt = StopOnInterrupt()
        self.nan = StopOnNaN()
        self.backup = Backup(run.backup, save_freq=every_steps or "epoch", delete_checkpoint=False)
        best = max((h.get("val_top1", 0.0) for h in self.log.metrics["history"]), default=None)
        self.callbacks = [  # after self.interrupt and the stage's callbacks
            self.nan, self.backup, self.log,
            BestWeights(out.best_weights, best),
            keras.callbacks.TensorBoard(out.tensorboard),
        ]
